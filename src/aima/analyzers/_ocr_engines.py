"""The OCR engines behind the ``ocr`` analyzer: PP-OCR through RapidOCR, and Tesseract.

``PpOcr`` runs RapidOCR's detector, angle classifier and recognizer as separate steps so
the detector sees a downscaled frame while recognition reads the full-resolution crops.
``Tesseract`` re-reads line crops: all crops of one frame that need the same language are
stacked into one image and read in a single ``tesseract`` process (process start + loading
a model costs more than reading a line); different languages run as separate processes,
two at a time (``read_each``).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
from PIL import Image

from aima.analyzers._ocr_text import Reading
from aima.core.errors import ConfigError
from aima.inference.backends import BackendOption, choose_backend
from aima.inference.models import ModelSpec, ModelStore
from aima.inference.sessions import cpu_threads, onnx_providers

log = logging.getLogger(__name__)

_PKG = "rapidocr_onnxruntime"
_GET_PKG = "pip install rapidocr-onnxruntime==1.4.4 --no-deps (it ships the PP-OCR ONNX files)"
_GET_SERVER = (
    "optional: put RapidOCR's ONNX export of PP-OCRv4 server ({file}) into "
    "$AIMA_MODELS_DIR/rapidocr/ (RapidAI/RapidOCR model release); "
    "the file must carry its character list in the ONNX metadata, as RapidOCR's exports do"
)
DET_MOBILE = ModelSpec(
    "ppocr-v4-det",
    "models/ch_PP-OCRv4_det_infer.onnx",
    _GET_PKG,
    package=_PKG,
    sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    description="PP-OCRv4 mobile text detector (DB)",
    version="rapidocr-onnxruntime 1.4.4",
    licence="Apache-2.0 (PaddleOCR)",
)
CLS_MOBILE = ModelSpec(
    "ppocr-v2-cls",
    "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    _GET_PKG,
    package=_PKG,
    sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    description="PP-OCR text direction (0/180 degrees) classifier",
    version="rapidocr-onnxruntime 1.4.4",
    licence="Apache-2.0 (PaddleOCR)",
)
REC_MOBILE = ModelSpec(
    "ppocr-v4-rec",
    "models/ch_PP-OCRv4_rec_infer.onnx",
    _GET_PKG,
    package=_PKG,
    sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    description="PP-OCRv4 mobile recognizer (Chinese + ASCII alphabet)",
    version="rapidocr-onnxruntime 1.4.4",
    licence="Apache-2.0 (PaddleOCR)",
)
DET_SERVER = ModelSpec(
    "ppocr-v4-det-server",
    "rapidocr/ch_PP-OCRv4_det_server_infer.onnx",
    _GET_SERVER.format(file="ch_PP-OCRv4_det_server_infer.onnx"),
    optional=True,
    description="PP-OCRv4 server text detector (stronger, slower)",
    version="PP-OCRv4 server",
    licence="Apache-2.0 (PaddleOCR)",
)
REC_SERVER = ModelSpec(
    "ppocr-v4-rec-server",
    "rapidocr/ch_PP-OCRv4_rec_server_infer.onnx",
    _GET_SERVER.format(file="ch_PP-OCRv4_rec_server_infer.onnx"),
    optional=True,
    description="PP-OCRv4 server recognizer (stronger, slower)",
    version="PP-OCRv4 server",
    licence="Apache-2.0 (PaddleOCR)",
)
MODEL_SPECS = (DET_MOBILE, CLS_MOBILE, REC_MOBILE, DET_SERVER, REC_SERVER)


@dataclass(frozen=True, slots=True)
class PpModels:
    det: ModelSpec
    cls: ModelSpec
    rec: ModelSpec

    @property
    def label(self) -> str:
        size = {s.optional for s in (self.det, self.rec)}
        if size == {False}:
            return "ppocr-v4"
        return "ppocr-v4-server" if size == {True} else f"ppocr-v4({self.det.name},{self.rec.name})"


_SIZES = (
    BackendOption("server", (DET_SERVER, REC_SERVER)),
    BackendOption("mobile", (DET_MOBILE, CLS_MOBILE, REC_MOBILE)),
)


def select_models(store: ModelStore, model_size: str) -> PpModels:
    """``mobile``: the packaged files; ``server``: the server files (must be present);
    ``auto``: the server pair when both files are present, else the packaged files
    (``choose_backend``, the one rule every analyzer uses)."""
    size = choose_backend("ocr", model_size, _SIZES, store)
    if size == "server":
        return PpModels(DET_SERVER, CLS_MOBILE, REC_SERVER)
    return PpModels(DET_MOBILE, CLS_MOBILE, REC_MOBILE)


def rapidocr_version() -> str:
    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return "missing"


@dataclass(frozen=True, slots=True)
class DetectedLine:
    quad: Any  # float32 (4, 2): the detector's box in frame pixels, clockwise from top-left
    crop: Any  # BGR uint8 crop of the full-resolution frame, upright


class PpOcr:
    """RapidOCR's PP-OCR det/cls/rec sessions, run step by step."""

    def __init__(
        self, store: ModelStore, models: PpModels, *, det_max_side: int, batch_size: int
    ) -> None:
        from rapidocr_onnxruntime import RapidOCR

        cuda = "CUDAExecutionProvider" in onnx_providers()  # hardware is chosen there only
        self.det_max_side = det_max_side
        self._engine = RapidOCR(
            det_model_path=str(store.path(models.det)),
            cls_model_path=str(store.path(models.cls)),
            rec_model_path=str(store.path(models.rec)),
            intra_op_num_threads=cpu_threads(),
            inter_op_num_threads=1,
            det_use_cuda=cuda,
            cls_use_cuda=cuda,
            rec_use_cuda=cuda,
            # "max": never upscale (RapidOCR's "max" ignores the side length for inputs
            # under 1500 px, so detect() downscales to det_max_side itself)
            det_limit_type="max",
            rec_batch_num=batch_size,
            cls_batch_num=batch_size,
        )

    def detect(self, bgr: Any) -> list[DetectedLine]:
        """Text line boxes (reading order) with their upright full-resolution crops."""
        import cv2

        height, width = bgr.shape[:2]
        scale = min(1.0, self.det_max_side / max(height, width))
        small = bgr
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        boxes, _ = self._engine.text_det(small)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = np.asarray(boxes, dtype=np.float32)
        if scale < 1.0:
            boxes[:, :, 0] *= width / small.shape[1]
            boxes[:, :, 1] *= height / small.shape[0]
            boxes[:, :, 0] = np.clip(boxes[:, :, 0], 0, width - 1)
            boxes[:, :, 1] = np.clip(boxes[:, :, 1], 0, height - 1)
        ordered = self._engine.sorted_boxes(boxes)
        crops = self._engine.get_crop_img_list(bgr, ordered)
        return [DetectedLine(q, c) for q, c in zip(ordered, crops, strict=True)]

    def upright(self, crops: list[Any]) -> list[Any]:
        """Turn crops the angle classifier finds upside down (score > 0.9)."""
        if not crops:
            return crops
        turned, _, _ = self._engine.text_cls(crops)
        return list(turned)

    def recognise(self, crops: list[Any]) -> list[Reading]:
        if not crops:
            return []
        results, _ = self._engine.text_rec(crops)
        return [Reading(str(text), float(score), "rapidocr") for text, score, *_ in results]


# ---------------------------------------------------------------- Tesseract


@lru_cache(maxsize=4)
def tesseract_probe(cmd: str = "tesseract") -> tuple[str | None, frozenset[str], str]:
    """(version or None, installed languages, why unusable) of the tesseract binary."""
    path = shutil.which(cmd)
    if path is None:
        return None, frozenset(), "tesseract is not installed (apt-get install tesseract-ocr)"
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
        first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
        ver = first.split()[-1] if first.startswith("tesseract") else "unknown"
        langs = subprocess.run(
            [path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, frozenset(), f"tesseract cannot be run: {exc}"
    names = frozenset(line.strip() for line in langs.stdout.splitlines()[1:] if line.strip())
    return ver, names, ""


class Tesseract:
    """Reads line crops with the ``tesseract`` binary (the one ``pytesseract`` would run).

    Called directly rather than through ``pytesseract`` because each call needs its own
    environment: ``OMP_THREAD_LIMIT=1`` (OpenMP threads spinning on small crops made a
    call 2.5x slower here on 2 shared cores), and the image goes through stdin instead of
    temporary files. ``pytesseract.pytesseract.tesseract_cmd`` is honoured.
    """

    line_height = 48  # crops are scaled to this height (text ~30 px: Tesseract's sweet spot)
    gap = 24  # blank rows between stacked crops
    max_rows = 24  # crops per tesseract call

    def __init__(self, langs: Sequence[str], *, timeout_s: float, processes: int = 1) -> None:
        self.cmd = tesseract_cmd()
        ver, installed, problem = tesseract_probe(self.cmd)
        if ver is None:
            raise TesseractMissing(problem)
        missing = [lang for lang in langs if lang not in installed]
        if missing:
            raise ConfigError(
                f"tesseract has no language data for {missing} (configured OCR languages); "
                f"install the Debian package(s) {' '.join(debian_package(m) for m in missing)} "
                "or remove the language(s) from the ocr analyzer's `languages`"
            )
        self.version = ver
        self.langs = "+".join(langs)
        self.timeout_s = timeout_s
        self.processes = max(1, processes)
        self._env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def read(self, crops: Sequence[Any], langs: str | None = None) -> list[Reading | None]:
        """One reading per BGR/grey crop (``None`` where Tesseract found no word).

        ``langs``: Tesseract language(s) for this read (``"fra"``, ``"deu+eng"``); default:
        all languages this reader was built for.
        """
        out: list[Reading | None] = []
        for i in range(0, len(crops), self.max_rows):
            out.extend(self._read_stack(crops[i : i + self.max_rows], langs or self.langs))
        return out

    def read_each(self, jobs: Mapping[str, Sequence[Any]]) -> dict[str, list[Reading | None]]:
        """``read`` for several languages (language -> its crops), up to ``processes`` at once.

        One process per language keeps the languages apart (a combined ``fra+spa`` model
        picks per word and mixes alphabets); running two at a time uses both cores of a
        small machine while one process starts and loads its model.
        """
        items = [(lang, crops) for lang, crops in jobs.items() if crops]
        if self.processes == 1 or len(items) <= 1:
            return {lang: self.read(crops, lang) for lang, crops in items}
        with ThreadPoolExecutor(max_workers=self.processes) as pool:
            futures = {lang: pool.submit(self.read, crops, lang) for lang, crops in items}
            return {lang: future.result() for lang, future in futures.items()}

    def _read_stack(self, crops: Sequence[Any], langs: str) -> list[Reading | None]:
        rows = [_prepare(c, self.line_height) for c in crops]
        width = max(r.shape[1] for r in rows) + 2 * self.gap
        height = sum(r.shape[0] for r in rows) + self.gap * (len(rows) + 1)
        canvas = np.full((height, width), 255, np.uint8)
        spans: list[tuple[int, int]] = []
        y = self.gap
        for row in rows:
            canvas[y : y + row.shape[0], self.gap : self.gap + row.shape[1]] = row
            spans.append((y, y + row.shape[0]))
            y += row.shape[0] + self.gap
        words = self._run(canvas, langs)
        found: list[list[tuple[int, str, float]]] = [[] for _ in rows]
        for left, top, h, conf, text in words:
            centre = top + h / 2
            for i, (a, b) in enumerate(spans):
                if a - self.gap / 2 <= centre < b + self.gap / 2:
                    found[i].append((left, text, conf))
                    break
        readings: list[Reading | None] = []
        for items in found:
            items.sort()
            if not items:
                readings.append(None)
                continue
            chars = sum(len(t) for _, t, _ in items)
            conf = sum(len(t) * c for _, t, c in items) / chars / 100.0
            text = " ".join(t for _, t, _ in items)
            readings.append(Reading(text, round(min(1.0, max(0.0, conf)), 4), "tesseract"))
        return readings

    def _run(self, canvas: Any, langs: str) -> list[tuple[int, int, int, float, str]]:
        buf = io.BytesIO()
        Image.fromarray(canvas).save(buf, format="PNG", compress_level=1)
        cmd = [self.cmd, "stdin", "stdout", "-l", langs, "--psm", "6", "tsv"]
        try:
            proc = subprocess.run(
                cmd,
                input=buf.getvalue(),
                capture_output=True,
                timeout=self.timeout_s,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"tesseract took longer than {self.timeout_s:.0f} s") from exc
        if proc.returncode != 0:
            raise RuntimeError(
                f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
            )
        words: list[tuple[int, int, int, float, str]] = []
        reader = csv.DictReader(
            io.StringIO(proc.stdout.decode("utf-8", errors="replace")),
            delimiter="\t",
            quoting=csv.QUOTE_NONE,
        )
        for rec in reader:
            text = (rec.get("text") or "").strip()
            if rec.get("level") != "5" or not text:
                continue
            conf = float(rec.get("conf") or -1)
            if conf < 0:
                continue
            words.append((int(rec["left"]), int(rec["top"]), int(rec["height"]), conf, text))
        return words


class TesseractMissing(ConfigError):
    """The ``tesseract`` binary itself is absent or broken (``auto`` then runs PP-OCR alone)."""


def debian_package(traineddata: str) -> str:
    """The Debian package shipping a Tesseract language (``chi_sim`` -> tesseract-ocr-chi-sim)."""
    return "tesseract-ocr-" + traineddata.lower().replace("_", "-")


def tesseract_cmd() -> str:
    try:
        import pytesseract

        return str(pytesseract.pytesseract.tesseract_cmd)
    except ImportError:
        return "tesseract"


def _prepare(crop: Any, line_height: int) -> Any:
    """Grey, dark text on light background, scaled to ``line_height`` rows."""
    img = np.asarray(crop)
    grey = img if img.ndim == 2 else img.astype(np.float32).mean(axis=2).astype(np.uint8)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if float(np.median(border)) < 128:  # light text on a dark background
        grey = 255 - grey
    h, w = grey.shape
    scale = line_height / max(1, h)
    size = (max(1, round(w * scale)), line_height)
    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BICUBIC))


def tesseract_version_label(langs: Sequence[str]) -> str | None:
    ver, installed, _ = tesseract_probe(tesseract_cmd())
    if ver is None or any(lang not in installed for lang in langs):
        return None
    return f"tesseract-{ver}({'+'.join(langs)})"
