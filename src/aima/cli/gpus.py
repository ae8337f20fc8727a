"""``aima gpus``: the NVIDIA GPUs of this machine, as NVML reports them (none is not an error)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, print_json
from aima.compute.gpus import gpu_inventory


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f}"


def _opt(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def gpus_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """GPUs of this machine: name, memory, utilisation, temperature, power (NVML)."""
    devices = gpu_inventory()
    if as_json:
        print_json([d.to_dict() for d in devices])
        return
    if not devices:
        console.print("no NVIDIA GPU found (no driver or no device); analyzers run on the CPU")
        return
    table = Table("#", "name", "memory GiB used/total", "util %", "temp °C", "power W")
    for d in devices:
        table.add_row(
            str(d.index),
            d.name,
            f"{_gib(d.memory_used_bytes)}/{_gib(d.memory_total_bytes)}",
            _opt(d.utilization_pct, ".0f"),
            _opt(d.temperature_c, ".0f"),
            _opt(d.power_w, ".0f") + ("" if d.power_limit_w is None else f"/{d.power_limit_w:.0f}"),
        )
    console.print(table)
