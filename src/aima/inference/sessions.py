"""Where inference runs: the one place that picks ONNX Runtime providers and the torch device.

CUDA (or TensorRT) when the installed runtime offers it and a GPU is visible,
else CPU. Tests and analyzers ask here; nothing else decides hardware.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


class InferenceSession(Protocol):
    """The slice of ``onnxruntime.InferenceSession`` analyzers use (tests may stub it)."""

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...
    def get_inputs(self) -> list[Any]: ...
    def get_outputs(self) -> list[Any]: ...


def cpu_threads() -> int:
    """Intra-op threads per session: the cores this process may use (``AIMA_THREADS`` overrides)."""
    configured = os.environ.get("AIMA_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def onnx_providers() -> tuple[str, ...]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = [p for p in _GPU_PROVIDERS if p in available and p != "TensorrtExecutionProvider"]
    chosen.append("CPUExecutionProvider")
    log.info("onnxruntime providers: %s (available: %s)", chosen, available)
    return tuple(chosen)


def onnx_session(path: Path, *, threads: int | None = None) -> InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session: InferenceSession = ort.InferenceSession(
        str(path), sess_options=options, providers=list(onnx_providers())
    )
    return session


@lru_cache(maxsize=1)
def torch_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
