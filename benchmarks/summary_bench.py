"""Dossier summary latency for a person with 50 facts, against the real llama.cpp server.

    .venv/bin/python -m benchmarks.summary_bench [--runs 3] [--max-tokens 200]
        [--n-ctx 4096] [--threads 2] [--base-url URL --model NAME]

Without ``--base-url`` it starts the test server (``tests/llm_server.py``: llama-cpp-python,
SmolLM2-135M-Instruct Q4_1) with ``--n-ctx`` context and ``--threads`` CPU threads and
stops it at the end; with one it measures any OpenAI-compatible endpoint.

The library is generated into a throw-away SQLite database: one named person seen in 46
videos (46 appearance facts + 4 representative faces = 50 facts). Each run is
``SummaryService.person(refresh=True)``, the path ``GET /api/v1/persons/{id}/summary?refresh=true``
takes: dossier built, facts listed in the prompt, answer checked, one regeneration when a
sentence fails, stored. Columns: ``s`` = wall time of the run; ``method`` = llm or the
extractive fallback; ``kept`` / ``rejected`` / ``dropped`` sentences; ``calls`` = chat
requests (2 when it regenerated); ``prompt``/``completion`` tokens; ``shown`` = facts that fit
in the prompt. Then p50/p95 over the runs, and the offline (extractive) time for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aima.core.settings import Settings
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, Media, Observation, Person
from benchmarks.common import say, table

PERSON = "per_bench"
MEDIA = 46


def build_library(db: Database) -> None:
    """One person, face-tracked in ``MEDIA`` videos (a faces result and observation each)."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with db.session() as s:
        s.add(Person(id=PERSON, name="Dana Benchmark"))
        s.flush()
        for i in range(MEDIA):
            mid, jid, rid = f"med_b{i:03d}", f"job_b{i:03d}", f"res_b{i:03d}"
            s.add(
                Media(
                    id=mid,
                    sha256=mid.ljust(64, "0"),
                    size=1000,
                    kind="video",
                    format="mp4",
                    mime="video/mp4",
                    original_name=f"camera {i % 7} clip {i:03d}.mp4",
                    info={"duration_s": 60.0},
                    created_at=t0 + timedelta(hours=i),
                )
            )
            s.flush()
            s.add(Job(id=jid, media_id=mid, analyzers=["faces"], state="done"))
            s.flush()
            start = float(i % 20)
            s.add(
                AnalysisResult(
                    id=rid,
                    media_id=mid,
                    job_id=jid,
                    analyzer="faces",
                    analyzer_version="1",
                    model_id="faces-model",
                    config={},
                    config_hash="0" * 64,
                    data={"faces": [], "tracks": []},
                    accepted=True,
                )
            )
            s.flush()
            s.add(
                Observation(
                    kind="face",
                    media_id=mid,
                    result_id=rid,
                    collection="face-bench",
                    model_id="m",
                    ref="track:0",
                    start=start,
                    end=start + 5.0 + i % 9,
                    duration_s=5.0 + i % 9,
                    count=1,
                    spans=[[start, start + 5.0 + i % 9]],
                    usable=True,
                    confidence=0.6 + (i % 10) / 30,
                    embedding=b"\0" * 8,
                    dim=2,
                    crop=f"{i:064x}",
                    person_id=PERSON,
                )
            )


def run(settings: Settings, runs: int) -> tuple[list[dict[str, Any]], int]:
    rt = build_runtime(settings)
    try:
        build_library(rt.db)
        doc = rt.persons.dossier(cli_principal(), PERSON)
        facts = len(doc["facts"]) if isinstance(doc, dict) else 0
        rows: list[dict[str, Any]] = []
        for i in range(runs):
            t0 = time.perf_counter()
            out = rt.summaries.person(cli_principal(), PERSON, refresh=True)
            wall = time.perf_counter() - t0
            d = out["details"]
            llm = d.get("llm", d) if out["method"] == "extractive" else d
            rows.append(
                {
                    "run": i + 1,
                    "s": wall,
                    "method": out["method"],
                    "kept": len(out["sentences"]) if out["method"] == "llm" else 0,
                    "rejected": llm.get("rejected", 0),
                    "dropped": llm.get("dropped", 0),
                    "calls": 2 if llm.get("regenerated") else (1 if "rejected" in llm else 0),
                    "prompt": llm.get("prompt_tokens", 0),
                    "completion": llm.get("completion_tokens", 0),
                    "shown": llm.get("facts_shown", 0),
                }
            )
            say(table(rows[-1:]))
        return rows, facts
    finally:
        rt.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(q * len(ordered)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--n-ctx", type=int, default=4096, help="context of the started server")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of the started server")
    ap.add_argument("--base-url", default=None, help="measure this endpoint instead")
    ap.add_argument("--model", default="default")
    args = ap.parse_args()

    server = None
    base_url = args.base_url
    if base_url is None:
        from tests.llm_server import start_llama_server

        t0 = time.perf_counter()
        server = start_llama_server(threads=args.threads, n_ctx=args.n_ctx)
        base_url = server.base_url
        say(f"llama.cpp server ready in {time.perf_counter() - t0:.1f}s at {base_url}")
    try:
        with tempfile.TemporaryDirectory(prefix="aima-summary-bench-") as tmp:
            root = Path(tmp)

            def settings(name: str, url: str | None) -> Settings:
                text = {
                    "base_url": url,
                    "model": args.model,
                    "context_tokens": args.n_ctx,
                    "max_tokens": args.max_tokens,
                    "timeout_s": 900,
                    "max_retries": 0,
                }
                return Settings(
                    env="test",
                    data_dir=root / name,
                    database_url=f"sqlite:///{root / name}.db",
                    auth={"jwt_secret": "bench-" + "x" * 40},
                    log_level="WARNING",
                    llm={"text": text},
                )

            offline, facts = run(settings("offline", None), 1)
            say(f"person with {facts} facts; extractive (no model): {offline[0]['s']:.3f}s")
            rows, _ = run(settings("llm", base_url), args.runs)
    finally:
        if server is not None:
            server.stop()
    times = [float(r["s"]) for r in rows]
    say("")
    say(table(rows))
    say(
        f"\nfacts {facts}  runs {len(rows)}  p50 {statistics.median(times):.2f}s  "
        f"p95 {pct(times, 0.95):.2f}s  llm {sum(r['method'] == 'llm' for r in rows)}/{len(rows)}  "
        f"kept {sum(r['kept'] for r in rows)}  dropped {sum(r['dropped'] for r in rows)}  "
        f"completion tokens {sum(r['completion'] for r in rows)}"
    )


if __name__ == "__main__":
    main()
