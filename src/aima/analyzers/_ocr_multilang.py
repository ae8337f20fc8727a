"""Per-line language choice and Tesseract re-read of PP-OCR's lines (the ``ocr`` ``auto`` path).

Why per language rather than one combined Tesseract model: ``eng+deu+fra+spa+ita+por+nld``
in one process picks a model per *word* and reads a line of seven languages in about the
time of seven single-language reads (measured 2.3 s vs 7 x 0.33 s for 7 lines), while the
line's own language model read every calibration line exactly. Re-reading each line with
only its ``candidates`` most likely languages (ranked from PP-OCR's diacritic-free text by
``_ocr_lang.rank``) costs one process per distinct candidate language in the frame, not
one per configured language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aima.analyzers import _ocr_lang as lang_id
from aima.analyzers._ocr_engines import Tesseract
from aima.analyzers._ocr_text import TESSERACT_LANGS, Reading, choose, is_cjk


@dataclass(frozen=True, slots=True)
class LineReading:
    """The kept reading of one line and its language (ISO 639-1) with a relative score."""

    reading: Reading | None
    language: str
    language_confidence: float


def tag(reading: Reading | None, langs: Sequence[str]) -> LineReading:
    """A line that was not re-read: language from its text alone."""
    text = reading.text if reading is not None else ""
    if any(is_cjk(c) for c in text) and "zh" in langs:
        return LineReading(reading, "zh", 1.0)
    latin = [lang for lang in langs if lang != "zh"] or list(langs)
    ppocr = reading is not None and reading.engine == "rapidocr"
    choice = lang_id.guess(text, latin, ppocr=ppocr)
    return LineReading(reading, choice.language, choice.confidence)


def candidates_for(
    reading: Reading | None, langs: Sequence[str], k: int, *, min_evidence: float
) -> list[str]:
    """The configured Latin-script languages Tesseract re-reads a PP-OCR line with.

    The ``k`` most likely from PP-OCR's text; every one when that text has less than
    ``min_evidence`` for its most likely language (a short sign without function words:
    ranking it from diacritic-free text is a guess, see ``benchmarks/ocr_bench.py``).
    """
    latin = [lang for lang in langs if lang != "zh"]
    text = reading.text if reading is not None else ""
    ranked, top = lang_id.rank(text, latin, ppocr=True)
    return ranked if top < min_evidence else ranked[: max(1, k)]


def reread(
    tess: Tesseract,
    crops: Sequence[Any],
    rapid: Sequence[Reading | None],
    todo: Sequence[int],
    langs: Sequence[str],
    *,
    candidates: int,
    min_evidence: float,
) -> dict[int, LineReading]:
    """Re-read the lines ``todo`` with their candidate languages and keep the best reading.

    Per line: each candidate language reads the crop; ``_ocr_lang.decide`` picks the
    language from the readings' text and Tesseract confidences; that language's reading
    and PP-OCR's go through ``_ocr_text.choose`` (diacritics from Tesseract, digits and
    plain ASCII from PP-OCR when they mostly agree).
    """
    per_line = {
        i: candidates_for(rapid[i], langs, candidates, min_evidence=min_evidence) for i in todo
    }
    jobs: dict[str, list[int]] = {}
    for i, cands in per_line.items():
        for lang in cands:
            jobs.setdefault(lang, []).append(i)
    read = tess.read_each(
        {TESSERACT_LANGS[lang]: [crops[i] for i in idx] for lang, idx in jobs.items()}
    )
    found: dict[int, dict[str, Reading]] = {i: {} for i in todo}
    for lang, idx in jobs.items():
        for i, reading in zip(idx, read.get(TESSERACT_LANGS[lang], []), strict=True):
            if reading is not None:
                found[i][lang] = reading
    out: dict[int, LineReading] = {}
    for i in todo:
        readings = found[i]
        choice = lang_id.decide({k: (r.text, r.confidence) for k, r in readings.items()}, langs)
        if choice is None:
            out[i] = tag(rapid[i], langs)
            continue
        best = choose(rapid[i], readings[choice.language])
        out[i] = LineReading(best, choice.language, choice.confidence)
    return out
