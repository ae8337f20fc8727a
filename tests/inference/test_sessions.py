"""One rule picks the device for every runtime: checked with stubbed availability (no GPU
here) and on this machine's real CPU runtimes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aima.inference.sessions import (
    Runtime,
    choose_device,
    onnx_providers,
    probe_runtime,
    torch_device,
)


def offering(**offers: tuple[str, ...]) -> Callable[[Runtime], tuple[str, ...]]:
    def probe(runtime: Runtime) -> tuple[str, ...]:
        return offers.get(runtime, ())

    return probe


def test_onnxruntime_takes_cuda_when_offered_and_keeps_cpu_last() -> None:
    gpu = offering(
        onnxruntime=("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    )
    choice = choose_device("onnxruntime", gpu)
    assert choice.device == "cuda"
    # TensorRT is skipped: it compiles engines for minutes on first use
    assert choice.providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    cpu = choose_device("onnxruntime", offering(onnxruntime=("CPUExecutionProvider",)))
    assert (cpu.device, cpu.providers) == ("cpu", ("CPUExecutionProvider",))


@pytest.mark.parametrize(
    ("offered", "device", "compute_type"), [(("cuda",), "cuda", "float16"), ((), "cpu", "int8")]
)
def test_ctranslate2_device_and_compute_type(
    offered: tuple[str, ...], device: str, compute_type: str
) -> None:
    choice = choose_device("ctranslate2", offering(ctranslate2=offered))
    assert (choice.device, choice.compute_type) == (device, compute_type)
    torch = choose_device("torch", offering(torch=offered))
    assert (torch.device, torch.compute_type) == (device, None)


def test_each_runtime_is_probed_on_its_own() -> None:
    # a CUDA torch next to a CPU-only onnxruntime wheel is common: no shared answer
    probe = offering(torch=("cuda",), onnxruntime=("CPUExecutionProvider",))
    assert choose_device("torch", probe).device == "cuda"
    assert choose_device("onnxruntime", probe).device == "cpu"
    assert choose_device("ctranslate2", probe).device == "cpu"


def test_this_machines_runtimes_agree_with_their_probes() -> None:
    runtimes: tuple[Runtime, ...] = ("onnxruntime", "torch", "ctranslate2")
    for runtime in runtimes:
        offered = probe_runtime(runtime)
        gpu = "cuda" in offered or "CUDAExecutionProvider" in offered
        assert choose_device(runtime).device == ("cuda" if gpu else "cpu")
    assert onnx_providers()[-1] == "CPUExecutionProvider"
    assert torch_device() == choose_device("torch").device
