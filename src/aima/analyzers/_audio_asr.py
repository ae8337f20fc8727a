"""Speech-recognition engines behind one small interface: pocketsphinx (offline default)
and faster-whisper (used when a CTranslate2 Whisper model is in the models directory).

Both take one stretch of 16 kHz speech (a VAD segment) and return words with media
times and confidences in [0, 1]:

* pocketsphinx: a word's confidence is its posterior probability from the decoder's
  word lattice (``Segment.prob``, already a probability in pocketsphinx 5), clipped
  to [0, 1]; a segment's is the mean over its words. Times come from the decoder's
  segmentation at its frame rate (``frate``, 100 frames/s).
* faster-whisper: a word's confidence is Whisper's word probability; a segment's
  is ``exp(avg_logprob)`` (the geometric mean token probability).
"""

from __future__ import annotations

import importlib
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from aima.analyzers._audio_common import MODEL_RATE, package_version
from aima.inference.models import ModelMissing, ModelSpec, ModelStore

WHISPER_SIZES = ("large-v3", "medium", "small", "base", "tiny")
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")
WHISPER_HOW_TO_GET = (
    "put a CTranslate2 Whisper model in $AIMA_MODELS_DIR/whisper/<size>/ (model.bin, "
    "config.json, tokenizer.json, vocabulary.*), e.g. a copy of the Hugging Face repository "
    "Systran/faster-whisper-<size>, or `ct2-transformers-converter --model openai/whisper-<size> "
    "--output_dir whisper/<size> --copy_files tokenizer.json preprocessor_config.json` "
    "on a machine with network access"
)
FALLBACK_NOTE = (
    "weak offline fallback; put a Whisper model in AIMA_MODELS_DIR/whisper/<size> "
    "for accurate transcripts"
)

_PS_ROOT = "model/en-us"
_PS_HOW = "pip install pocketsphinx==5.1.1 (ships the en-US model)"
POCKETSPHINX_SPECS = (
    ModelSpec(
        name="pocketsphinx-en-us-acoustic",
        path=f"{_PS_ROOT}/en-us/mdef",
        package="pocketsphinx",
        sha256="2360f9a86889c1cfee8bd618a0269387911e5fb2920a594f506b18b8c79683b0",
        how_to_get=_PS_HOW,
        description="CMU Sphinx en-US acoustic model (its directory; mdef pinned)",
    ),
    ModelSpec(
        name="pocketsphinx-en-us-acoustic-means",
        path=f"{_PS_ROOT}/en-us/means",
        package="pocketsphinx",
        sha256="832019e32cac12eb318964f96f469034acb12d0348eeddc3831831a100cb4dd4",
        how_to_get=_PS_HOW,
        description="CMU Sphinx en-US acoustic model Gaussian means",
    ),
    ModelSpec(
        name="pocketsphinx-en-us-lm",
        path=f"{_PS_ROOT}/en-us.lm.bin",
        package="pocketsphinx",
        sha256="db21d0642286677699e6dbc859d2e5395570222361999387ce60f6e1d01995d6",
        how_to_get=_PS_HOW,
        description="en-US trigram language model",
    ),
    ModelSpec(
        name="pocketsphinx-en-us-dict",
        path=f"{_PS_ROOT}/cmudict-en-us.dict",
        package="pocketsphinx",
        sha256="20b5c293e1f311fb375fe067e500ec5636f4fc7af5594967263696def9b23bfe",
        how_to_get=_PS_HOW,
        description="CMU pronouncing dictionary",
    ),
)


def whisper_spec(size: str) -> ModelSpec:
    return ModelSpec(
        name=f"whisper-{size}",
        path=f"whisper/{size}/model.bin",
        optional=True,
        how_to_get=WHISPER_HOW_TO_GET.replace("<size>", size),
        description=f"faster-whisper (CTranslate2) Whisper {size}",
    )


WHISPER_SPECS = tuple(whisper_spec(size) for size in WHISPER_SIZES)


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "word": self.word,
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True, slots=True)
class Piece:
    """What an engine heard in one stretch of audio (media times)."""

    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default_factory=tuple)


class AsrEngine(Protocol):
    name: str
    model_id: str

    def transcribe(
        self, audio: NDArray[np.float32], offset_s: float, language: str | None
    ) -> tuple[list[Piece], str | None]:
        """Pieces heard in ``audio`` (16 kHz; its first sample is at media time ``offset_s``)."""
        ...


@dataclass(frozen=True, slots=True)
class Backend:
    """Which engine a transcribe config resolves to, before anything is loaded."""

    engine: str  # "pocketsphinx" | "whisper"
    whisper_dir: Path | None = None
    note: str | None = None


def _whisper_dir_problem(directory: Path) -> str | None:
    missing = [f for f in WHISPER_FILES if not (directory / f).is_file()]
    if missing:
        return f"{directory} lacks {', '.join(missing)}"
    return None


def select_backend(backend: str, whisper_model: str | None, models: ModelStore) -> Backend:
    """Resolve ``backend`` ("auto" | "pocketsphinx" | "whisper") against the models directory.

    ``whisper_model`` names the directory under ``<models>/whisper/`` (``None``: the
    largest of ``WHISPER_SIZES`` present). A Whisper directory counts only when it holds
    ``model.bin``, ``config.json`` and ``tokenizer.json`` (without the tokenizer,
    faster-whisper would try to download one). Forced ``whisper`` without a model
    raises :class:`ModelMissing`; ``auto`` falls back to pocketsphinx with a note.
    """
    if backend == "pocketsphinx":
        return Backend("pocketsphinx")
    specs = (whisper_spec(whisper_model),) if whisper_model else WHISPER_SPECS
    problems: list[str] = []
    for spec in specs:
        location = models.locate(spec)
        if location is None or not location.is_file():
            continue
        problem = _whisper_dir_problem(location.parent)
        if problem is None:
            return Backend("whisper", location.parent)
        problems.append(problem)
    if backend == "whisper":
        where = models.models_dir / "whisper" / (whisper_model or "<size>")
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise ModelMissing(
            f"transcribe backend 'whisper' needs a CTranslate2 Whisper model at {where}{detail}; "
            f"to get it: {WHISPER_HOW_TO_GET}",
            details={"model": "whisper", "path": str(where), "status": "missing"},
        )
    return Backend("pocketsphinx", note=FALLBACK_NOTE)


# --- pocketsphinx -----------------------------------------------------------------

_ALT_PRONUNCIATION = re.compile(r"\(\d+\)$")


def _is_filler(token: str) -> bool:
    return token.startswith(("<", "[", "+")) or not token


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self, models: ModelStore) -> None:
        from pocketsphinx import Config, Decoder

        mdef, _, lm, dictionary = (models.path(spec) for spec in POCKETSPHINX_SPECS)
        config = Config(hmm=str(mdef.parent), lm=str(lm), dict=str(dictionary), loglevel="FATAL")
        self._decoder = Decoder(config)
        self._frame_rate = float(self._decoder.config["frate"])
        self._lock = threading.Lock()  # one decoder, one utterance at a time
        self.model_id = pocketsphinx_model_id()

    def transcribe(
        self, audio: NDArray[np.float32], offset_s: float, language: str | None
    ) -> tuple[list[Piece], str | None]:
        if audio.size < MODEL_RATE // 10:
            return [], "en"
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with self._lock:
            decoder = self._decoder
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            raw = [(s.word, s.start_frame, s.end_frame, s.prob) for s in decoder.seg()]
        end_s = offset_s + audio.size / MODEL_RATE
        words: list[Word] = []
        for token, first, last, prob in raw:
            if _is_filler(token):
                continue
            start = offset_s + first / self._frame_rate
            end = min(end_s, offset_s + (last + 1) / self._frame_rate)
            text = _ALT_PRONUNCIATION.sub("", token)
            words.append(Word(start, end, text, min(1.0, max(0.0, float(prob)))))
        if not words:
            return [], "en"
        conf = float(np.mean([w.confidence for w in words]))
        text = " ".join(w.word for w in words)
        return [Piece(words[0].start, words[-1].end, text, conf, tuple(words))], "en"


# --- faster-whisper ------------------------------------------------------------------


def _cuda_available() -> bool:
    """Whether CTranslate2 (faster-whisper's runtime) sees a CUDA device."""
    try:
        ctranslate2 = importlib.import_module("ctranslate2")
        return int(ctranslate2.get_cuda_device_count()) > 0
    except (ImportError, RuntimeError):
        return False


def whisper_device_and_type(compute_type: str | None) -> tuple[str, str]:
    """CUDA with float16 when CTranslate2 sees a GPU, else CPU with int8 (``compute_type``
    overrides the type)."""
    device = "cuda" if _cuda_available() else "cpu"
    return device, compute_type or ("float16" if device == "cuda" else "int8")


def pocketsphinx_model_id() -> str:
    return f"pocketsphinx-{package_version('pocketsphinx')}/en-us"


def whisper_model_id(directory: Path, compute_type: str) -> str:
    return f"faster-whisper-{package_version('faster-whisper')}/{directory.name}-{compute_type}"


class WhisperEngine:
    name = "whisper"

    def __init__(
        self,
        directory: Path,
        *,
        compute_type: str | None,
        beam_size: int,
        threads: int,
    ) -> None:
        from faster_whisper import WhisperModel

        device, self.compute_type = whisper_device_and_type(compute_type)
        # a local directory only (a size name would make faster-whisper download it)
        self._model = WhisperModel(
            str(directory),
            device=device,
            compute_type=self.compute_type,
            cpu_threads=threads,
            local_files_only=True,
        )
        self._beam_size = beam_size
        self._lock = threading.Lock()
        self.model_id = whisper_model_id(directory, self.compute_type)

    def transcribe(
        self, audio: NDArray[np.float32], offset_s: float, language: str | None
    ) -> tuple[list[Piece], str | None]:
        with self._lock:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=self._beam_size,
                word_timestamps=True,
                vad_filter=False,  # the VAD analyzer already chose the speech
                condition_on_previous_text=False,
            )
            decoded = list(segments)  # the generator does the work: keep it under the lock
        pieces: list[Piece] = []
        for seg in decoded:
            words = tuple(
                Word(
                    offset_s + float(w.start),
                    offset_s + float(w.end),
                    str(w.word).strip(),
                    min(1.0, max(0.0, float(w.probability))),
                )
                for w in (seg.words or ())
                if str(w.word).strip()
            )
            conf = min(1.0, max(0.0, math.exp(float(seg.avg_logprob))))
            pieces.append(
                Piece(offset_s + seg.start, offset_s + seg.end, seg.text.strip(), conf, words)
            )
        return pieces, getattr(info, "language", language)


def owned_piece(piece: Piece, owns: Any) -> Piece | None:
    """The part of ``piece`` whose words start inside the chunk (``owns(t)``), or ``None``."""
    words = tuple(w for w in piece.words if owns(w.start))
    if not words:
        return None
    if len(words) == len(piece.words):
        return piece
    conf = float(np.mean([w.confidence for w in words]))
    return Piece(words[0].start, words[-1].end, " ".join(w.word for w in words), conf, words)


def most_common(values: Sequence[str | None]) -> str | None:
    counts: dict[str, int] = {}
    for v in values:
        if v:
            counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None
