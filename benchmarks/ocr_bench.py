"""OCR in seven languages: CER per language and ms per frame, RapidOCR alone vs ``auto``.

This is also the CALIBRATION set of the OCR language logic (``_ocr_lang`` weights,
``language_candidates``, ``language_evidence_min``; results in ``_ocr_lang``'s docstring): sentences, fonts and sizes here differ from those
``tests/analyzers/test_ocr.py`` checks (test: DejaVuSans / DejaVuSerif at 20/30/40/48 px
with other sentences; here: DejaVuSansCondensed / DejaVuSerifCondensed / DejaVuSans-Bold at
18/26/36/44 px). Every frame holds one line per language, dark-on-light or light-on-dark.

    .venv/bin/python -m benchmarks.ocr_bench [--sizes 18 26 36 44] [--fonts 2]
    .venv/bin/python -m benchmarks.ocr_bench --calibrate   # the weight grid (below)

Prints, per engine: CER per language (summed edit distance / summed reference length),
language-tag accuracy, and median / mean ms per frame (1 thread for PP-OCR, Tesseract with
``tesseract_processes`` processes); the seven-language frames are the worst case (one
Tesseract process per language), so it also times frames holding one line of one language.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aima.analyzers import _ocr_engines as engines
from aima.analyzers._ocr_lang import decide
from aima.analyzers._ocr_multilang import candidates_for
from aima.analyzers._ocr_text import TESSERACT_LANGS, Reading, choose
from aima.analyzers.ocr import Ocr, OcrConfig
from aima.inference.models import ModelStore
from aima.media.types import Frame

CALIBRATION = {
    "en": "Please keep the station doors clear",
    "de": "Die Brücke ist für Fußgänger gesperrt",
    "fr": "Le théâtre ouvrira après les fêtes",
    "es": "El niño compró pan en la panadería",
    "it": "La città più antica è ancora chiusa",
    "pt": "As crianças estão à espera do comboio",
    "nl": "De ideeën van het team zijn gedeeld",
}
# Short signs with few function words: the language must come from letters and confidences.
CALIBRATION_SHORT = {
    "en": "Fresh bread daily",
    "de": "Öffnungszeiten Ausfahrt",
    "fr": "Pâtisserie fraîche",
    "es": "Señal de tráfico",
    "it": "Caffè espresso lungo",
    "pt": "Padaria São Jorge",
    "nl": "Uitgang Zeeën",
}
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ("DejaVuSansCondensed.ttf", "DejaVuSerifCondensed.ttf", "DejaVuSans-Bold.ttf")
SIZES = (18, 26, 36, 44)
W, H = 1280, 720
DARK, LIGHT = (24, 28, 40), (238, 236, 228)


def cer_counts(hyp: str, ref: str) -> tuple[int, int]:
    """(Levenshtein distance, reference length)."""
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i]
        for j, hc in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1], len(ref)


def render(
    sentences: dict[str, str], font: str, size: int, *, light_text: bool
) -> tuple[Image.Image, list[tuple[str, str, float]]]:
    """One line per language; returns the frame and (language, text, centre y) per line."""
    bg, fg = (DARK, LIGHT) if light_text else (LIGHT, DARK)
    img = Image.new("RGB", (W, H), bg)
    draw = ImageDraw.Draw(img)
    face = ImageFont.truetype(str(FONT_DIR / font), size)
    step = (H - 40) / len(sentences)
    placed = []
    for i, (lang, text) in enumerate(sentences.items()):
        y = 20 + i * step + (step - size) / 2
        draw.text((40, y), text, font=face, fill=fg)
        _, y0, _, y1 = draw.textbbox((40, y), text, font=face)
        placed.append((lang, text, (y0 + y1) / 2 / H))
    return img, placed


def evaluate(
    analyser: Ocr, frames: list[tuple[Image.Image, list[tuple[str, str, float]]]]
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]], list[float]]:
    """Per language: (edit distance, ref length) and (right tags, lines); ms per frame."""
    errors: dict[str, tuple[int, int]] = {}
    tags: dict[str, tuple[int, int]] = {}
    times: list[float] = []
    for img, placed in frames:
        started = time.perf_counter()
        lines = analyser.read_frame(Frame(0.0, np.asarray(img)))
        times.append(1000 * (time.perf_counter() - started))
        for lang, text, centre in placed:
            near = [ln for ln in lines if abs(ln["box"][1] + ln["box"][3] / 2 - centre) < 0.03]
            hyp = " ".join(ln["text"] for ln in sorted(near, key=lambda ln: ln["box"][0]))
            dist, n = cer_counts(hyp, text)
            e = errors.get(lang, (0, 0))
            errors[lang] = (e[0] + dist, e[1] + n)
            right = int(bool(near) and near[0]["language"] == lang)
            t = tags.get(lang, (0, 0))
            tags[lang] = (t[0] + right, t[1] + 1)
    return errors, tags, times


def calibrate(frames: list[tuple[Image.Image, list[tuple[str, str, float]]]]) -> None:
    """Grid over ``_ocr_lang.decide``'s weights and ``language_candidates`` (k).

    Every line crop is read once by PP-OCR and by Tesseract in every language; the grid
    then replays the analyzer's choice (rank -> top k -> decide -> choose) offline.
    """
    store = ModelStore(Path("models"))
    pp = engines.PpOcr(
        store, engines.select_models(store, "mobile"), det_max_side=960, batch_size=6
    )
    langs = list(CALIBRATION)
    tess = engines.Tesseract([TESSERACT_LANGS[x] for x in langs], timeout_s=120, processes=2)
    cases: list[tuple[str, str, Reading | None, dict[str, Reading]]] = []
    for img, placed in frames:
        bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
        found = pp.detect(bgr)
        crops = pp.upright([d.crop for d in found])
        rapid = pp.recognise(crops)
        read = tess.read_each({TESSERACT_LANGS[x]: crops for x in langs})
        for i, det in enumerate(found):
            centre = float(np.asarray(det.quad)[:, 1].mean()) / H
            lang, text, _ = min(placed, key=lambda p: abs(p[2] - centre))
            by_lang = {x: r for x in langs if (r := read[TESSERACT_LANGS[x]][i]) is not None}
            cases.append((lang, text, rapid[i], by_lang))
    print(f"{len(cases)} line crops; (k, min_evidence, conf_weight, prior): CER, tags right")
    for k, min_evidence in ((1, 0.0), (2, 0.0), (3, 0.0), (2, 0.5), (2, 1.0), (2, 1.5), (7, 0.0)):
        cands_of = [candidates_for(r, langs, k, min_evidence=min_evidence) for _, _, r, _ in cases]
        rank_ok = sum(lang in cands for (lang, *_), cands in zip(cases, cands_of, strict=True))
        reads = sum(len(c) for c in cands_of) / len(cases)
        print(f"  k={k} min_evidence={min_evidence}: true language among the candidates "
              f"{rank_ok}/{len(cases)}, {reads:.1f} Tesseract reads per line")  # fmt: skip
        for weight in (0.0, 1.0, 2.0, 8.0):
            for prior in (0.0, 0.25, 1.0):
                dist = n = right = 0
                for (lang, text, rapid_reading, by_lang), cands in zip(
                    cases, cands_of, strict=True
                ):
                    subset = {
                        x: (by_lang[x].text, by_lang[x].confidence) for x in cands if x in by_lang
                    }
                    choice = decide(subset, langs, conf_weight=weight, prior=prior)
                    best = (
                        rapid_reading
                        if choice is None
                        else choose(rapid_reading, by_lang[choice.language])
                    )
                    d, m = cer_counts(best.text if best else "", text)
                    dist, n = dist + d, n + m
                    right += int(choice is not None and choice.language == lang)
                print(f"    ({k}, {min_evidence}, {weight:4.1f}, {prior:4.2f}): "
                      f"CER {100 * dist / n:5.2f} %  tags {right}/{len(cases)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--fonts", type=int, default=2, help="how many of the fonts to use")
    parser.add_argument("--candidates", type=int, default=None, help="language_candidates")
    parser.add_argument("--calibrate", action="store_true", help="grid over the weights")
    parser.add_argument("--short", action="store_true", help="the short-sign calibration set")
    args = parser.parse_args()
    sentences = CALIBRATION_SHORT if args.short else CALIBRATION
    frames = [
        render(sentences, font, size, light_text=light)
        for font in FONTS[: args.fonts]
        for size in args.sizes
        for light in (False, True)
    ]
    if args.calibrate:
        calibrate(frames)
        return
    store = ModelStore(Path("models"))
    extra = {} if args.candidates is None else {"language_candidates": args.candidates}
    print(f"{len(frames)} frames x {len(sentences)} lines (calibration set)")
    for engine in ("rapidocr", "auto"):
        analyser = Ocr(OcrConfig(engine=engine, **extra), default_chunk_s=60, models=store)
        analyser.ensure_loaded()
        analyser.read_frame(Frame(0.0, np.asarray(frames[0][0])))  # warm-up
        errors, tags, times = evaluate(analyser, frames)
        print(f"\n== {engine}: {statistics.median(times):.0f} ms/frame median, "
              f"{statistics.mean(times):.0f} mean")  # fmt: skip
        for lang in sentences:
            dist, n = errors[lang]
            right, total = tags[lang]
            print(f"  {lang}: CER {100 * dist / n:5.2f} %   language tag {right}/{total}")
        dist = sum(e[0] for e in errors.values())
        n = sum(e[1] for e in errors.values())
        right = sum(t[0] for t in tags.values())
        total = sum(t[1] for t in tags.values())
        print(f"  all: CER {100 * dist / n:5.2f} %   language tag {right}/{total}")
        # the usual case: one language on screen (one line, 26 px, each language once)
        single = [render({k: v}, FONTS[0], 26, light_text=True) for k, v in sentences.items()]
        errors, tags, times = evaluate(analyser, single)
        dist = sum(e[0] for e in errors.values())
        n = sum(e[1] for e in errors.values())
        print(f"  one-line frames: {statistics.median(times):.0f} ms/frame median, "
              f"CER {100 * dist / n:5.2f} %, tags {sum(t[0] for t in tags.values())}/{len(single)}")  # fmt: skip


if __name__ == "__main__":
    main()
