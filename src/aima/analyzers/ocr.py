"""On-screen text (OCR) in images and video keyframes: PP-OCR finds and reads lines, Tesseract
re-reads them in their language so accents survive.

Engines (config ``engine``)
    ``rapidocr``  PP-OCRv4 detector + angle classifier + recognizer (ONNX files shipped in
                  ``rapidocr_onnxruntime``; the server models from ``AIMA_MODELS_DIR/rapidocr``
                  replace them when present, ``model_size``). Its alphabet is Chinese + ASCII:
                  "Größe" comes out as "GroBe", "reunión" as "reunion", "à" as "a".
    ``tesseract`` the PP-OCR detector finds the lines; Tesseract reads every line crop in
                  every configured language (slow; no PP-OCR text to rank languages by).
    ``auto``      (default) RapidOCR; when ``languages`` names a language PP-OCR does not cover
                  (anything but ``en``/``zh``), every detected line whose reading is Latin text
                  (or empty / below ``min_confidence``) is re-read by Tesseract
                  (``_ocr_multilang``): in the ``language_candidates`` (2) languages PP-OCR's
                  text makes most likely (``_ocr_lang.rank``: function words, letter sequences,
                  "B" for ß), or in every configured language when that text has less than
                  ``language_evidence_min`` evidence (short signs). Each candidate language is
                  its own Tesseract model and process (a combined ``eng+fra+...`` model picks per
                  word, mixes alphabets and is as slow as all of them), two processes at a time
                  (``tesseract_processes``); all lines of a frame that need a language go to
                  that process stacked in one image. ``_ocr_lang.decide`` picks the line's
                  language from the readings (the text most models agree on, scored by
                  function words and diacritics, + each language's Tesseract confidence), and
                  that language's reading is compared with PP-OCR's (``_ocr_text.choose``):
                  same letters once diacritics, ß/B and spaces are folded away -> Tesseract's
                  text; mostly the same letters (difflib ratio >= 0.8) -> Tesseract's text if
                  it has diacritics, RapidOCR's otherwise; disagreeing: higher confidence.
                  Without a ``tesseract`` binary ``auto`` runs RapidOCR alone, logs why and
                  says so in ``notes``; ``engine="tesseract"`` fails with how to install it.
                  A configured language whose Tesseract data is missing fails the load,
                  naming the Debian package (``tesseract-ocr-fra``, ...).

Languages (config ``languages``, ISO 639-1, mapped to Tesseract's ``eng``/``deu``/...)
    Default: en, de, fr, es, it, pt, nl (the packs the setup installs). More configured
    languages cost little on lines with function words (still 2 Tesseract reads per line,
    one process per distinct candidate language in the frame) and up to one process per
    language on short signs without them. ``benchmarks/ocr_bench.py``, 1280x720, 2 shared
    cores, quiet machine: frames with one line per language (7 lines, worst case)
    RapidOCR alone 611 ms, CER 8.0 %; auto 1417 ms, CER 0.05 %, language tags 112/112;
    frames with one line: 564 ms vs 950 ms (CER 6.9 % -> 0.0 %); short signs: 1176 ms
    per 7-line frame, CER 6.6 % -> 0.1 %, tags 51/112 -> 110/112.

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
    tesseract engine 380 ms. A Tesseract call costs ~150-330 ms, mostly process start
    and model loading, hence one call per language per frame (see Languages).

Results
    chunk:    ``{"frames": [{"t", "reused", "lines": [line]}], "stats": {...}}``
    line:     ``{"text", "box": [x, y, w, h] (normalised), "confidence", "language",
              "language_confidence", "engine"}``
    finalize: ``{"lines": [{"text", "start", "end", "box", "confidence", "language",
              "language_confidence", "engine", "frames"}], "text": every distinct line
              once, "\\n"-joined, "stats", "notes"}``;
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

Language (per line: ``language`` ISO 639-1, ``language_confidence`` in [0, 1])
    Re-read lines: ``_ocr_lang.decide`` (above); its confidence is the winner's softmax
    share among the languages that read the line, a relative score, not a measured
    probability. Other lines (RapidOCR only, CJK): ``zh`` for CJK, else the text scorer
    alone; a span takes the language of its chosen reading.
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
from aima.analyzers._ocr_multilang import LineReading, reread, tag
from aima.analyzers._ocr_text import (
    PPOCR_LANGS,
    TESSERACT_LANGS,
    Reading,
    distinct_text,
    is_cjk,
    is_latin_text,
    merge_spans,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult, OcrResult

log = logging.getLogger(__name__)

_THUMB_W, _THUMB_H = 320, 180
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl")


class OcrConfig(AnalyzerConfig):
    engine: Literal["auto", "rapidocr", "tesseract"] = Field(
        default="auto", description="auto: RapidOCR + Tesseract re-read for non-PP-OCR languages"
    )
    languages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGUAGES),
        min_length=1,
        description="ISO 639-1 codes expected on screen, most frequent first (the first one "
        f"wins lines without language evidence); one of {sorted(TESSERACT_LANGS)}",
    )
    language_candidates: int = Field(
        default=2,
        ge=1,
        le=len(TESSERACT_LANGS),
        description="languages Tesseract re-reads each Latin line with (most likely first)",
    )
    language_evidence_min: float = Field(
        default=1.0,
        ge=0,
        description="a Latin line whose PP-OCR text has less language evidence (about one "
        "function word) is re-read in every configured language",
    )
    tesseract_processes: int = Field(
        default=2, ge=1, le=16, description="Tesseract processes run at once (one per language)"
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
    version = "1.1.0"  # 1.1: per-line language re-read, language_confidence
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    Config: ClassVar[type[AnalyzerConfig]] = OcrConfig
    Result: ClassVar[type[AnalyzerResult]] = OcrResult
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
                    self.tesseract_langs,
                    timeout_s=self.cfg.tesseract_timeout_s,
                    processes=self.cfg.tesseract_processes,
                )
            except engines.TesseractMissing as exc:
                # no binary at all: auto still reads with PP-OCR (and says so in notes);
                # a missing language pack is a configuration error and fails the load
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
        langs = self.cfg.languages
        kept: dict[int, LineReading] = {}
        if self._tess is not None:
            todo = [i for i, r in enumerate(rapid) if self._reread(r)]
            # engine "tesseract" has no PP-OCR text to rank languages by: every language
            k = len(langs) if self.cfg.engine == "tesseract" else self.cfg.language_candidates
            kept = reread(
                self._tess,
                crops,
                rapid,
                todo,
                langs,
                candidates=k,
                min_evidence=self.cfg.language_evidence_min,
            )
        height, width = rgb.shape[:2]
        lines: list[dict[str, Any]] = []
        for i, det in enumerate(found):
            line = kept.get(i) or tag(rapid[i], langs)
            best = line.reading
            if best is None or not best.text.strip() or best.confidence < self.cfg.min_confidence:
                continue
            lines.append(
                {
                    "text": best.text.strip(),
                    "box": _norm_box(det.quad, width, height),
                    "confidence": round(best.confidence, 4),
                    "language": line.language,
                    "language_confidence": line.language_confidence,
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
            "Tesseract unavailable, RapidOCR read alone (accents, umlauts and ß may be lost): "
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
