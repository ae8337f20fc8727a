"""Speaker turns on varied generated dialogues: before (1.0 algorithm) vs after.

Run from the repository root::

    .venv/bin/python -m benchmarks.speakers_bench            # calibration + test sets
    .venv/bin/python -m benchmarks.speakers_bench --set test

Each dialogue (``tests.analyzers.dialogue_gen``: 3-4 espeak-ng voices, two of them one
voice at two pitches, short turns, overlaps) goes through the real pipeline (ingest,
vad, speakers; SQLite; 10 s chunks) once per configuration. Printed per dialogue:
``acc`` = share of the true speech time given to the right speaker after the best
one-to-one mapping (Hungarian), ``count_err`` = found minus true speakers, ``rtf`` =
speakers chunk time / media time. Thresholds of "after" were chosen on the calibration
set only (see ``aima.analyzers.speakers``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import say, table

BEFORE: dict[str, Any] = {"method": "embedding", "window_s": 1.5, "hop_s": 0.75, "min_turn_s": 1.0}
AFTER: dict[str, Any] = {}


def main() -> None:
    from tests.analyzers.dialogue_gen import CALIBRATION, TEST, make_dialogue
    from tests.analyzers.dialogue_metrics import score
    from tests.analyzers.speech_fixtures import run_pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("calibration", "test", "all"), default="all")
    args = parser.parse_args()
    specs = {"calibration": CALIBRATION, "test": TEST, "all": CALIBRATION + TEST}[args.set]
    rows: list[dict[str, object]] = []
    totals: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="aima-speakers-bench-") as tmp:
        root = Path(tmp)
        for spec in specs:
            dialogue = make_dialogue(spec, root)
            row: dict[str, object] = {
                "dialogue": spec.name,
                "s": round(dialogue.duration_s, 1),
                "voices": len(dialogue.speakers),
                "overlaps": len(dialogue.overlaps),
            }
            for label, cfg in (("before", BEFORE), ("after", AFTER)):
                run = run_pipeline(
                    dialogue.wav,
                    root / f"{spec.name}-{label}",
                    ("vad", "speakers"),
                    chunk_s=10.0,
                    config={"speakers": cfg},
                )
                result = run.results["speakers"]
                hyp = [(t["start"], t["end"], t["speaker"]) for t in result["turns"]]
                s = score(dialogue.turns, hyp)
                totals[label].append(s.accuracy)
                row[f"{label}_acc"] = round(s.accuracy, 3)
                row[f"{label}_count_err"] = s.count_error
                row[f"{label}_rtf"] = round(run.chunk_seconds["speakers"] / run.media_s, 3)
            rows.append(row)
            say(f"{spec.name}: before {row['before_acc']} after {row['after_acc']}")
    say(table(rows))
    for label, accs in totals.items():
        say(f"{label}: mean accuracy {sum(accs) / len(accs):.3f}, lowest {min(accs):.3f}")


if __name__ == "__main__":
    main()
