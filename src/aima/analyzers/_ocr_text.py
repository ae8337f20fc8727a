"""Text logic of the OCR analyzer: pure functions, no models (unit-testable on plain dicts).

* ``choose`` picks between a RapidOCR and a Tesseract reading of the same line;
* ``guess_language`` tags a line from its text alone (``_ocr_lang``);
* ``merge_spans`` turns per-keyframe lines into on-screen spans (``finalize``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from aima.analyzers import _ocr_lang as lang_id

# ISO 639-1 code -> Tesseract traineddata name (Debian package tesseract-ocr-<name>).
TESSERACT_LANGS: dict[str, str] = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "pt": "por",
    "nl": "nld",
    "pl": "pol",
    "cs": "ces",
    "sv": "swe",
    "da": "dan",
    "no": "nor",
    "fi": "fin",
    "tr": "tur",
    "zh": "chi_sim",
}
# What the packaged PP-OCR recognizer (Chinese + ASCII alphabet) reads without losing letters.
PPOCR_LANGS = frozenset({"en", "zh"})


@dataclass(frozen=True, slots=True)
class Reading:
    """One engine's reading of one line: text, confidence in [0, 1], engine name."""

    text: str
    confidence: float
    engine: str


def normalise(text: str) -> str:
    """The comparison form of a line: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def fold(text: str, *, keep_case: bool = False) -> str:
    """Letters only as PP-OCR's alphabet writes them: no diacritics, ß as its ``B``, no spaces.

    Two readings with the same fold are the same letters; they differ at most in
    diacritics and spacing (and case, unless ``keep_case``).
    """
    text = text.replace("ß", "B").replace("ẞ", "B")
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    if not keep_case:
        stripped = stripped.casefold()
    return "".join(stripped.split())


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs (+ ext. A)
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )


def is_latin_text(text: str) -> bool:
    """Has letters, and every letter is Latin (basic, Latin-1 or Latin Extended-A/B)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(ord(c) < 0x250 for c in letters)


def guess_language(text: str, configured: Sequence[str]) -> str:
    """Best guess for one line from its text alone: ``zh`` for CJK, else ``_ocr_lang.guess``.

    The analyzer itself decides with Tesseract's per-language confidences as well
    (``_ocr_multilang``); this is the text-only fallback.
    """
    if any(is_cjk(c) for c in text):
        return "zh"
    latin = [lang for lang in configured if lang != "zh"] or ["en"]
    return lang_id.guess(text, latin).language


def _has_diacritics(text: str) -> bool:
    return any(c.isalpha() and ord(c) > 0x7F for c in text)


def choose(rapid: Reading | None, tess: Reading | None, *, agree: float = 0.8) -> Reading | None:
    """Keep the better of two readings of the same line box.

    * Same letters, case included, once diacritics and spaces are folded away: Tesseract's
      text (the differences are then exactly what PP-OCR gets wrong: umlauts, ß read as
      ``B``, dropped spaces).
    * Mostly the same letters (fold similarity >= ``agree``): Tesseract's text if it has
      diacritics (PP-OCR has none to offer), RapidOCR's otherwise (the stronger reader of
      digits and plain ASCII).
    * Both agreeing: confidence is the higher of the two (the line is confirmed twice).
    * Disagreeing: the higher confidence wins.
    """
    if tess is None or not tess.text.strip():
        return rapid
    if rapid is None or not rapid.text.strip():
        return tess
    best = max(rapid.confidence, tess.confidence)
    if fold(rapid.text, keep_case=True) == fold(tess.text, keep_case=True):
        return Reading(tess.text, best, tess.engine)
    if SequenceMatcher(None, fold(rapid.text), fold(tess.text)).ratio() >= agree:
        if _has_diacritics(tess.text) and not any(is_cjk(c) for c in rapid.text):
            return Reading(tess.text, best, tess.engine)
        return Reading(rapid.text, best, rapid.engine)
    return tess if tess.confidence > rapid.confidence else rapid


# ---------------------------------------------------------------- spans across keyframes


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the smaller box's area (1.0 when one box holds the other)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return (ix * iy) / smaller if smaller > 0 else 0.0


def similar_text(a: str, b: str) -> float:
    return SequenceMatcher(None, normalise(a), normalise(b)).ratio()


@dataclass
class _Span:
    start: float
    end: float
    last_index: int
    last_line: dict[str, Any]
    members: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        # majority reading (normalised, weighted by confidence): one misread keyframe does
        # not name the span; its most confident spelling (first on a tie) does
        weights: dict[str, float] = {}
        for line in self.members:
            key = normalise(line["text"])
            weights[key] = weights.get(key, 0.0) + line["confidence"]
        winner = max(weights, key=lambda k: weights[k])
        chosen = [line for line in self.members if normalise(line["text"]) == winner]
        best = max(chosen, key=lambda line: line["confidence"])  # first of equals
        text = best["text"]
        box = [round(sum(line["box"][i] for line in chosen) / len(chosen), 4) for i in range(4)]
        return {
            "text": text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "box": box,
            "confidence": round(sum(line["confidence"] for line in chosen) / len(chosen), 4),
            "language": best["language"],
            "language_confidence": best.get("language_confidence", 0.0),
            "engine": best["engine"],
            "frames": len(self.members),
        }


def merge_spans(
    frames: Iterable[dict[str, Any]],
    *,
    min_similarity: float = 0.9,
    min_overlap: float = 0.5,
) -> list[dict[str, Any]]:
    """Merge the same line seen on consecutive keyframes into one span.

    A line joins the span that was seen on the *previous* keyframe when their
    normalised texts match (difflib ratio >= ``min_similarity``) and their boxes
    overlap (intersection over the smaller box >= ``min_overlap``). A keyframe
    without the line closes its span; the line showing again later starts a new one.
    Spans: ``start`` = first keyframe time, ``end`` = last keyframe time it was seen.
    """
    ordered = sorted(frames, key=lambda f: f["t"])
    open_spans: list[_Span] = []
    closed: list[_Span] = []
    for index, frame in enumerate(ordered):
        t = float(frame["t"])
        candidates = open_spans  # exactly the spans seen on the previous keyframe
        taken: set[int] = set()
        next_open: list[_Span] = []
        for line in frame["lines"]:
            best_i, best_score = -1, 0.0
            for i, span in enumerate(candidates):
                if i in taken or box_overlap(span.last_line["box"], line["box"]) < min_overlap:
                    continue
                score = similar_text(span.last_line["text"], line["text"])
                if score >= min_similarity and score > best_score:
                    best_i, best_score = i, score
            if best_i >= 0:
                span = candidates[best_i]
                taken.add(best_i)
                span.end, span.last_index, span.last_line = t, index, line
                span.members.append(line)
            else:
                span = _Span(t, t, index, line, [line])
            next_open.append(span)
        closed.extend(s for i, s in enumerate(candidates) if i not in taken)
        open_spans = next_open
    closed.extend(open_spans)
    spans = [s.result() for s in closed]
    spans.sort(key=lambda s: (s["start"], s["box"][1], s["box"][0]))
    return spans


def distinct_text(spans: Iterable[dict[str, Any]]) -> str:
    """Every distinct line (normalised comparison) once, in order of first appearance."""
    seen: set[str] = set()
    out: list[str] = []
    for span in spans:
        key = normalise(span["text"])
        if key and key not in seen:
            seen.add(key)
            out.append(span["text"])
    return "\n".join(out)
