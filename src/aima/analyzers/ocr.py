"""On-screen text (OCR) in images and video keyframes: PP-OCR via RapidOCR, Tesseract for umlauts.

Engines (config ``engine``)
    ``rapidocr``  PP-OCRv4 detector + angle classifier + recognizer (ONNX files shipped in
                  ``rapidocr_onnxruntime``; the server models from ``AIMA_MODELS_DIR/rapidocr``
                  replace them when present, ``model_size``). Its alphabet is Chinese + ASCII:
                  German text comes out as "GroBe: UbermäBig schone StraBe in Munchen".
    ``tesseract`` the PP-OCR detector finds the lines; Tesseract (``languages`` mapped to its
                  traineddata, e.g. ``deu+eng``) reads every line crop.
    ``auto``      (default) RapidOCR; when ``languages`` names a language PP-OCR does not cover
                  (anything but ``en``/``zh``), every detected line whose reading is Latin text
                  (or empty / below ``min_confidence``) is re-read by Tesseract and the better
                  reading kept (``_ocr_text.choose``): the same letters once diacritics,
                  ß/B and spaces are folded away -> Tesseract's text (it differs exactly
                  where PP-OCR is weak: umlauts, ß, dropped spaces as in "AIMATEST42");
                  mostly the same letters (difflib ratio >= 0.8, case-folded) -> Tesseract's
                  text if it has diacritics, RapidOCR's otherwise; agreeing readings get the
                  higher of the two confidences; disagreeing ones: higher confidence wins.
                  Measured on rendered 1280x720 frames: "Größe: Übermäßig schöne Straße in
                  München" read exactly (RapidOCR alone: CER 0.17), English unchanged.
                  A "suspect characters only" trigger was measured useless for German: the
                  letters PP-OCR substitutes (a/o/u for ä/ö/ü, B for ß) are in nearly every
                  line, so every Latin line is re-read. All lines of a frame go to Tesseract
                  in ONE process call (crops stacked), which is what keeps it cheap. Without a
                  usable Tesseract ``auto`` runs RapidOCR alone, logs why and says so in
                  ``notes``; ``engine="tesseract"`` fails with how to install it.

Speed (video: ~300 keyframes per 10 min)
    * a keyframe whose grey 320x180 thumbnail is near-identical to the last *analysed*
      keyframe of the same shot and chunk is not analysed again: its lines are copied
      (``reused: true``), only ``t`` changes. "Near-identical" = at most
      ``reuse_max_changed`` (0) thumbnail pixels differ by more than ``reuse_pixel_delta``
      (24): one changed digit of 12-20 px text moves 3-5 of them by up to 49-74 levels,
      while independent Gaussian noise of sigma 24 per frame pixel stays at <= 22;
    * the detector runs on the frame downscaled to ``det_max_side`` (960: finds text from
      ~12 px on a 1280 px frame at ~100 ms; 640: from ~14 px at ~40 ms; 1280: from 10 px
      at ~215 ms); recognition reads only the boxes it found, cropped from the
      full-resolution frame (~50 ms per line).
    Measured on 2 shared cores (load 2-4, noisy): 1280x720 frame, 1 thread, medians:
    blank 130-150 ms; 2 lines RapidOCR 440 ms, auto (RapidOCR + Tesseract) 420-480 ms,
    tesseract engine 380 ms. A Tesseract call costs ~150-250 ms, mostly process start
    and loading ``deu+eng``, hence one call per frame.

Results
    chunk:    ``{"frames": [{"t", "reused", "lines": [line]}], "stats": {...}}``
    line:     ``{"text", "box": [x, y, w, h] (normalised), "confidence", "language", "engine"}``
    finalize: ``{"lines": [{"text", "start", "end", "box", "confidence", "language", "engine",
              "frames"}], "text": every distinct line once, "\\n"-joined, "stats", "notes"}``;
              a line seen on consecutive keyframes with the same text (normalised, difflib
              ratio >= ``merge_similarity``) at an overlapping position is one span
              (``start`` = first keyframe time, ``end`` = last keyframe time it was seen).

Confidence
    RapidOCR: the recognizer's score, the mean of the per-character maximum CTC
    probabilities, used as is (it is already in [0, 1]; lines under ``min_confidence``
    are dropped). Tesseract: the character-weighted mean of its word confidences / 100.
    Two engines agreeing: the higher of the two. A span: the mean over its keyframes of
    the kept reading. These are model scores, not measured precision: on clean rendered
    text correct lines score 0.9-1.0.

Language (best guess per line, ``_ocr_text.guess_language``)
    ``de`` when the line has ä/ö/ü/ß or a common German function word (der, und, nicht,
    für, ...); ``zh`` for CJK; another configured non-English language when the line has
    non-ASCII Latin letters and exactly one such language is configured; else ``en``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import Field, field_validator

from aima.analyzers import _ocr_engines as engines
from aima.analyzers._ocr_text import (
    PPOCR_LANGS,
    TESSERACT_LANGS,
    Reading,
    choose,
    distinct_text,
    guess_language,
    is_cjk,
    is_latin_text,
    merge_spans,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.core.errors import ConfigError
from aima.media.types import Frame, MediaKind

log = logging.getLogger(__name__)

_THUMB_W, _THUMB_H = 320, 180


class OcrConfig(AnalyzerConfig):
    engine: Literal["auto", "rapidocr", "tesseract"] = Field(
        default="auto", description="auto: RapidOCR + Tesseract re-read for non-PP-OCR languages"
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en", "de"],
        min_length=1,
        description=f"ISO 639-1 codes expected on screen; one of {sorted(TESSERACT_LANGS)}",
    )
    model_size: Literal["auto", "mobile", "server"] = Field(
        default="auto", description="PP-OCR server models from AIMA_MODELS_DIR when present"
    )
    det_max_side: int = Field(
        default=960, ge=160, le=4096, description="longest side the text detector sees"
    )
    min_confidence: float = Field(default=0.5, ge=0, le=1, description="lines below are dropped")
    use_angle_cls: bool = Field(default=True, description="turn upside-down lines (PP-OCR cls)")
    reuse_frames: bool = Field(
        default=True, description="copy the lines of a near-identical previous keyframe"
    )
    reuse_pixel_delta: int = Field(
        default=24, ge=1, le=255, description="grey-level change that counts a thumbnail pixel"
    )
    reuse_max_changed: int = Field(
        default=0,
        ge=0,
        le=57_600,
        description="320x180 thumbnail pixels that may change by more than reuse_pixel_delta "
        "in a frame still treated as identical",
    )
    merge_similarity: float = Field(
        default=0.9,
        ge=0.5,
        le=1,
        description="difflib ratio of normalised texts that makes two keyframes' lines one span",
    )
    merge_min_overlap: float = Field(
        default=0.5, ge=0, le=1, description="box intersection over the smaller box"
    )
    tesseract_timeout_s: float = Field(
        default=60, gt=0, le=3600, description="limit for one tesseract call (one frame)"
    )

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in TESSERACT_LANGS]
        if unknown:
            raise ValueError(f"unknown OCR language(s) {unknown}; known: {sorted(TESSERACT_LANGS)}")
        return list(dict.fromkeys(value))


class Ocr(Analyzer):
    name = "ocr"
    version = "1.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    Config: ClassVar[type[AnalyzerConfig]] = OcrConfig
    description = "on-screen text per keyframe, merged into spans (PP-OCR + Tesseract)"
    model_specs = engines.MODEL_SPECS

    def __init__(self, config: AnalyzerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._pp: engines.PpOcr | None = None
        self._tess: engines.Tesseract | None = None
        self._count_lock = threading.Lock()
        self.engine_calls = 0  # frames actually analysed (not reused) by this instance

    @property
    def cfg(self) -> OcrConfig:
        assert isinstance(self.config, OcrConfig)
        return self.config

    # ------------------------------------------------------------ which engines
    @property
    def tesseract_langs(self) -> list[str]:
        """Tesseract traineddata for the configured languages, non-PP-OCR ones first."""
        langs = sorted(self.cfg.languages, key=lambda lang: lang in PPOCR_LANGS)
        return [TESSERACT_LANGS[lang] for lang in langs]

    @property
    def wants_tesseract(self) -> bool:
        if self.cfg.engine == "tesseract":
            return True
        return self.cfg.engine == "auto" and not set(self.cfg.languages) <= PPOCR_LANGS

    @property
    def model_id(self) -> str:
        pp = engines.select_models(self.models, self.cfg.model_size).label
        parts = [f"rapidocr-{engines.rapidocr_version()}/{pp}"]
        if self.wants_tesseract:
            label = engines.tesseract_version_label(self.tesseract_langs)
            if label is not None:
                parts.append(label)
        return "+".join(parts)

    def load(self) -> None:
        models = engines.select_models(self.models, self.cfg.model_size)
        self._pp = engines.PpOcr(
            self.models, models, det_max_side=self.cfg.det_max_side, batch_size=self.cfg.batch_size
        )
        if self.wants_tesseract:
            try:
                self._tess = engines.Tesseract(
                    self.tesseract_langs, timeout_s=self.cfg.tesseract_timeout_s
                )
            except ConfigError as exc:
                if self.cfg.engine == "tesseract":
                    raise
                log.warning("ocr: Tesseract unavailable, RapidOCR alone: %s", exc)

    # ------------------------------------------------------------ per chunk
    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        last: tuple[Any, int, list[dict[str, Any]]] | None = None  # thumb, shot, lines
        analysed, spent = 0, 0.0
        for frame in data.frames:
            thumb = _thumb(frame.image) if self.cfg.reuse_frames else None
            if (
                last is not None
                and thumb is not None
                and last[1] == frame.shot
                and self._same(last[0], thumb)
            ):
                out.append({"t": round(frame.t, 3), "lines": last[2], "reused": True})
                continue
            started = time.perf_counter()
            lines = self.read_frame(frame)
            spent += time.perf_counter() - started
            analysed += 1
            last = (thumb, frame.shot, lines)
            out.append({"t": round(frame.t, 3), "lines": lines, "reused": False})
        if analysed:
            log.debug(
                "ocr chunk %s: %d/%d frames analysed, %.0f ms/frame",
                data.chunk.index,
                analysed,
                len(out),
                1000 * spent / analysed,
            )
        stats = {"frames": len(out), "analysed": analysed, "reused": len(out) - analysed}
        return {"frames": out, "stats": stats}

    def _same(self, a: Any, b: Any) -> bool:
        changed = np.abs(a.astype(np.int16) - b.astype(np.int16)) > self.cfg.reuse_pixel_delta
        return int(changed.sum()) <= self.cfg.reuse_max_changed

    def read_frame(self, frame: Frame) -> list[dict[str, Any]]:
        """Every text line of one frame (runs the engines: counted in ``engine_calls``)."""
        self.ensure_loaded()
        assert self._pp is not None
        with self._count_lock:
            self.engine_calls += 1
        rgb = np.asarray(frame.image)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # PP-OCR was trained on BGR (cv2) images
        found = self._pp.detect(bgr)
        if not found:
            return []
        crops = [d.crop for d in found]
        if self.cfg.use_angle_cls:
            crops = self._pp.upright(crops)
        rapid: list[Reading | None] = [None] * len(crops)
        if self.cfg.engine != "tesseract":
            rapid = list(self._pp.recognise(crops))
        tess: list[Reading | None] = [None] * len(crops)
        if self._tess is not None:
            todo = [i for i, r in enumerate(rapid) if self._reread(r)]
            for i, reading in zip(todo, self._tess.read([crops[i] for i in todo]), strict=True):
                tess[i] = reading
        height, width = rgb.shape[:2]
        lines: list[dict[str, Any]] = []
        for det, r, t in zip(found, rapid, tess, strict=True):
            best = t if self.cfg.engine == "tesseract" else choose(r, t)
            if best is None or not best.text.strip() or best.confidence < self.cfg.min_confidence:
                continue
            lines.append(
                {
                    "text": best.text.strip(),
                    "box": _norm_box(det.quad, width, height),
                    "confidence": round(best.confidence, 4),
                    "language": guess_language(best.text, self.cfg.languages),
                    "engine": best.engine,
                }
            )
        return lines

    def _reread(self, reading: Reading | None) -> bool:
        if self.cfg.engine == "tesseract" or reading is None or not reading.text.strip():
            return True
        if reading.confidence < self.cfg.min_confidence:
            return not any(is_cjk(c) for c in reading.text)
        return is_latin_text(reading.text)

    # ------------------------------------------------------------ media level
    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        frames = [f for c in chunks for f in c["frames"]]
        spans = merge_spans(
            frames,
            min_similarity=self.cfg.merge_similarity,
            min_overlap=self.cfg.merge_min_overlap,
        )
        analysed = sum(c.get("stats", {}).get("analysed", 0) for c in chunks)
        return {
            "lines": spans,
            "text": distinct_text(spans),
            "stats": {
                "frames": len(frames),
                "analysed": analysed,
                "reused": len(frames) - analysed,
            },
            "notes": self._notes(),
        }

    def _notes(self) -> list[str]:
        if not self.wants_tesseract or self.cfg.engine == "tesseract":
            return []
        if engines.tesseract_version_label(self.tesseract_langs) is not None:
            return []
        _, _, problem = engines.tesseract_probe(engines.tesseract_cmd())
        return [
            "Tesseract unavailable, RapidOCR read alone (umlauts and ß may be lost): "
            + (problem or f"language data {self.tesseract_langs} missing (tesseract-ocr-<lang>)")
        ]


def _thumb(image: Any) -> Any:
    grey = Image.fromarray(np.asarray(image)).convert("L")
    return np.asarray(grey.resize((_THUMB_W, _THUMB_H), Image.Resampling.BOX))


def _norm_box(quad: Any, width: int, height: int) -> list[float]:
    pts = np.asarray(quad, dtype=np.float64)
    x0, y0 = max(0.0, float(pts[:, 0].min())), max(0.0, float(pts[:, 1].min()))
    x1, y1 = min(float(width), float(pts[:, 0].max())), min(float(height), float(pts[:, 1].max()))
    return [
        round(x0 / width, 4),
        round(y0 / height, 4),
        round(max(0.0, x1 - x0) / width, 4),
        round(max(0.0, y1 - y0) / height, 4),
    ]
