"""Where inference runs: the one place that picks the device for every runtime.

:func:`choose_device` answers for ONNX Runtime (providers; RapidOCR uses the same
answer), torch (device string) and CTranslate2 (faster-whisper: device and compute
type): CUDA when the installed runtime offers it and a GPU is visible, else CPU.
Each runtime is probed separately because each ships its own CUDA build (a CPU-only
onnxruntime wheel next to a CUDA torch is common). Tests pass a stub ``probe``;
analyzers ask here; nothing else decides hardware.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

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


Runtime = Literal["onnxruntime", "torch", "ctranslate2"]


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """Where one runtime runs: ``device`` plus what that runtime needs to be told.

    ``providers``: ONNX Runtime execution providers in priority order (CPU always last,
    as the fallback for operators the GPU provider lacks). ``compute_type``:
    CTranslate2's default for the device (float16 on CUDA; int8 on CPU, which
    MODELS.md measured as the faster CPU option for Whisper base: RTF 0.09 vs 0.15).
    """

    runtime: Runtime
    device: Literal["cpu", "cuda"]
    providers: tuple[str, ...] = ()
    compute_type: str | None = None
    detail: str = ""


def probe_runtime(runtime: Runtime) -> tuple[str, ...]:
    """What the installed ``runtime`` can run on: ONNX Runtime's provider names, or
    ``("cuda",)`` / ``()`` for torch and CTranslate2. A runtime that is not installed
    or cannot query its GPU offers nothing beyond the CPU."""
    try:
        if runtime == "onnxruntime":
            ort = importlib.import_module("onnxruntime")
            return tuple(str(p) for p in ort.get_available_providers())
        if runtime == "torch":
            torch = importlib.import_module("torch")
            return ("cuda",) if bool(torch.cuda.is_available()) else ()
        ct2 = importlib.import_module("ctranslate2")
        return ("cuda",) if int(ct2.get_cuda_device_count()) > 0 else ()
    except (ImportError, RuntimeError, OSError) as exc:
        log.info("%s offers no GPU here: %s", runtime, exc)
        return ()


def choose_device(
    runtime: Runtime, probe: Callable[[Runtime], tuple[str, ...]] | None = None
) -> DeviceChoice:
    """CUDA when ``runtime`` can use a GPU here, else CPU (``probe``: tests stub it)."""
    if probe is None:
        return _cached_choice(runtime)
    return _decide(runtime, probe(runtime))


@cache
def _cached_choice(runtime: Runtime) -> DeviceChoice:
    choice = _decide(runtime, probe_runtime(runtime))
    log.info("%s runs on %s (%s)", runtime, choice.device, choice.detail)
    return choice


def _decide(runtime: Runtime, offered: tuple[str, ...]) -> DeviceChoice:
    if runtime == "onnxruntime":
        # TensorRT is skipped on purpose: it compiles engines for minutes on first use
        gpu = [p for p in _GPU_PROVIDERS if p in offered and p != "TensorrtExecutionProvider"]
        return DeviceChoice(
            runtime,
            "cuda" if gpu else "cpu",
            providers=(*gpu, "CPUExecutionProvider"),
            detail=f"available providers: {', '.join(offered) or 'none'}",
        )
    device: Literal["cpu", "cuda"] = "cuda" if "cuda" in offered else "cpu"
    compute = None
    if runtime == "ctranslate2":
        compute = "float16" if device == "cuda" else "int8"
    return DeviceChoice(
        runtime, device, compute_type=compute, detail=f"offered: {offered or 'cpu'}"
    )


def onnx_providers() -> tuple[str, ...]:
    """ONNX Runtime providers for every session (and RapidOCR's CUDA switch)."""
    return choose_device("onnxruntime").providers


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


def torch_device() -> str:
    return choose_device("torch").device
