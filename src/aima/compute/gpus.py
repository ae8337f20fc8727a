"""GPU inventory through NVML: what this machine has and how busy it is.

Read with ``pynvml`` (the ``nvidia-ml-py`` package, NVIDIA's own binding of the driver's
NVML library). A machine without an NVIDIA driver or GPU has no inventory: the
result is an empty list, never an error, so the same code runs on laptops, CPU
servers and GPU nodes. A reading a device does not support (power on some boards,
temperature in some VMs) is ``None`` for that device, not a failure of the others.

Used by ``/metrics`` (Prometheus gauges), ``/api/v1/dashboard`` and ``aima gpus``, and
to name the device class an executor runs on (``cuda:<name>`` or ``cpu``) for the
cost model.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # NVML init/shutdown is reference-counted; keep calls serial


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """One device as NVML reports it now (bytes, percent, degrees Celsius, watts)."""

    index: int
    name: str
    uuid: str
    memory_total_bytes: int
    memory_used_bytes: int
    utilization_pct: float | None
    memory_utilization_pct: float | None
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _nvml() -> ModuleType | None:
    try:  # the binding is untyped: imported as a plain module
        return importlib.import_module("pynvml")
    except ImportError:  # nvidia-ml-py not installed: no inventory, as without a driver
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(nvml: ModuleType, read: Any, *args: Any) -> Any:
    """One reading, or None when this device does not support it."""
    try:
        return read(*args)
    except nvml.NVMLError:
        return None


def _device(nvml: ModuleType, index: int) -> GpuInfo:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = nvml.nvmlDeviceGetMemoryInfo(handle)
    rates = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    temperature = _optional(nvml, nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
    power_mw = _optional(nvml, nvml.nvmlDeviceGetPowerUsage, handle)
    limit_mw = _optional(nvml, nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(handle)),
        uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
        memory_total_bytes=int(memory.total),
        memory_used_bytes=int(memory.used),
        utilization_pct=None if rates is None else float(rates.gpu),
        memory_utilization_pct=None if rates is None else float(rates.memory),
        temperature_c=None if temperature is None else float(temperature),
        power_w=None if power_mw is None else power_mw / 1000.0,
        power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
    )


def gpu_inventory(nvml: ModuleType | None = None) -> list[GpuInfo]:
    """Every NVIDIA GPU of this machine, or ``[]`` when there is no driver or GPU."""
    nvml = nvml or _nvml()
    if nvml is None:
        return []
    with _LOCK:
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:  # no library / no driver / no device: none, not an error
            log.debug("no NVIDIA GPU inventory: %s", exc)
            return []
        try:
            return [_device(nvml, i) for i in range(int(nvml.nvmlDeviceGetCount()))]
        except nvml.NVMLError as exc:
            log.warning("NVML could not read the GPUs: %s", exc)
            return []
        finally:
            nvml.nvmlShutdown()


def device_class(gpu_ids: list[int] | None = None, nvml: ModuleType | None = None) -> str:
    """``cuda:<name>`` of the first GPU this process may use, else ``cpu``.

    ``gpu_ids`` are NVML indices (what Ray assigns an actor); without them the first
    device named by ``CUDA_VISIBLE_DEVICES`` (or device 0) is taken.
    """
    devices = gpu_inventory(nvml)
    if not devices:
        return "cpu"
    if gpu_ids is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None and not visible.strip():
            return "cpu"  # explicitly hidden
        first = (visible or "0").split(",")[0].strip()
        chosen = next((d for d in devices if first in (str(d.index), d.uuid)), devices[0])
    else:
        if not gpu_ids:
            return "cpu"
        chosen = next((d for d in devices if d.index == gpu_ids[0]), devices[0])
    return f"cuda:{chosen.name}"


class GpuCollector:
    """Prometheus gauges per device, read from NVML at scrape time (none without a GPU)."""

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self.nvml = nvml

    def collect(self) -> Iterator[Metric]:
        devices = gpu_inventory(self.nvml)
        count = GaugeMetricFamily("aima_gpus", "NVIDIA GPUs visible to this process (NVML)")
        count.add_metric([], len(devices))
        yield count
        labels = ["gpu", "name", "uuid"]
        gauges: dict[str, tuple[GaugeMetricFamily, str]] = {
            "memory_total_bytes": (
                GaugeMetricFamily("aima_gpu_memory_total_bytes", "GPU memory", labels=labels),
                "memory_total_bytes",
            ),
            "memory_used_bytes": (
                GaugeMetricFamily("aima_gpu_memory_used_bytes", "GPU memory in use", labels=labels),
                "memory_used_bytes",
            ),
            "utilization": (
                GaugeMetricFamily(
                    "aima_gpu_utilization_ratio",
                    "fraction of the last sample period a kernel ran (0-1)",
                    labels=labels,
                ),
                "utilization_pct",
            ),
            "temperature": (
                GaugeMetricFamily(
                    "aima_gpu_temperature_celsius", "GPU core temperature", labels=labels
                ),
                "temperature_c",
            ),
            "power": (
                GaugeMetricFamily("aima_gpu_power_watts", "GPU power draw", labels=labels),
                "power_w",
            ),
        }
        for device in devices:
            values = device.to_dict()
            key = [str(device.index), device.name, device.uuid]
            for family, field in gauges.values():
                value = values[field]
                if value is None:
                    continue
                family.add_metric(key, value / 100.0 if field == "utilization_pct" else value)
        for family, _ in gauges.values():
            yield family
