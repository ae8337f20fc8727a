"""The measured cost model: device seconds per unit of media, per analyzer version and device.

Every finished chunk teaches the model: the runner reports the analyzer, its version,
the device class the worker computes on (``cpu``, ``cuda:<gpu>``) and the chunk's own
compute seconds; :class:`CostModel` adds them to ``analyzer_costs`` (sums, so a rate
is ``seconds / units``). A unit is a **media minute** for audio/video chunks (they
have a time window) and an **image** for whole-file chunks.

Before there is history an analyzer's rate is a documented prior (:data:`PRIOR_SECONDS`),
and while history is thin the prior is blended in as if it were ``PRIOR_WEIGHT``
measured chunks, so one odd chunk cannot swing an estimate and the estimate converges
on the real machine after a few jobs.

Where the repository has benchmark numbers for a default model the prior comes from
them (``MODELS.md``, measured on the 2-core CPU reference machine):

- ``transcribe``: faster-whisper base int8, RTF 0.093 → 5.6 s per media minute, plus
  windowing/decoding overhead → 8 s;
- ``vad``: Silero VAD ONNX, RTF 0.003 → 0.2 s per media minute, rounded up to 0.5 s;
- ``speakers`` (VAD + embeddings per turn): RTF ≈0.1 → 6 s.

The other priors are the planner's original table (visual analyzers at the default
keyframe sampling on CPU), to be replaced by measurement on the first jobs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from aima.core.clock import utcnow
from aima.core.settings import ComputeSettings
from aima.store.db import Database
from aima.store.models import AnalyzerCost

Unit = Literal["media_minute", "image"]

#: Prior compute seconds of each built-in analyzer on the CPU reference machine:
#: (seconds per media minute, seconds per image). Plug-ins not listed use DEFAULT_PRIOR.
PRIOR_SECONDS: dict[str, tuple[float, float]] = {
    "thumbnails": (1.0, 0.2),
    "faces": (20.0, 0.5),
    "emotion": (5.0, 0.2),
    "bodies": (15.0, 0.5),
    "nsfw": (10.0, 0.3),
    "ocr": (20.0, 1.0),
    "vad": (0.5, 0.1),
    "speakers": (6.0, 0.5),
    "transcribe": (8.0, 1.0),
}
DEFAULT_PRIOR = (10.0, 0.5)
PRIOR_WEIGHT = 3.0  # the prior counts as this many measured chunks
#: Prior GPU speed-up over the CPU reference for a device class with no history yet.
#: Deliberately 1.0: an estimate for an unmeasured GPU assumes no speed-up, so the money
#: shown before a job is an upper bound rather than a hope.
PRIOR_GPU_SPEEDUP = 1.0


def unit_of(start_s: float | None, end_s: float | None) -> tuple[Unit, float]:
    """The unit a chunk is measured in, and how many of them it covers."""
    if start_s is None or end_s is None:
        return "image", 1.0
    return "media_minute", max(0.0, end_s - start_s) / 60.0


def is_gpu(device_class: str) -> bool:
    return device_class.startswith("cuda")


@dataclass(frozen=True, slots=True)
class Rate:
    """Device seconds per unit for one analyzer on one device class."""

    analyzer: str
    unit: Unit
    seconds_per_unit: float
    basis: str  # prior | measured (blended with the prior)
    samples: int  # measured chunks behind it


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished chunk as the cost model learns it."""

    analyzer: str
    version: str
    device_class: str
    unit: Unit
    units: float
    seconds: float


class CostModel:
    """Reads and learns ``analyzer_costs``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def rate(self, analyzer: str, version: str, device_class: str, unit: Unit) -> Rate:
        return self.rates([(analyzer, version)], device_class, unit)[analyzer]

    def rates(
        self, analyzers: Sequence[tuple[str, str]], device_class: str, unit: Unit
    ) -> dict[str, Rate]:
        """Blended rates for ``(name, version)`` pairs on ``device_class``."""
        names = [a for a, _ in analyzers]
        with self.db.session() as s:
            rows = s.execute(
                select(AnalyzerCost).where(
                    AnalyzerCost.analyzer.in_(names),
                    AnalyzerCost.device_class == device_class,
                    AnalyzerCost.unit == unit,
                )
            ).scalars()
            measured = {(r.analyzer, r.analyzer_version): r for r in rows}
        out: dict[str, Rate] = {}
        for name, version in analyzers:
            per_minute, per_image = PRIOR_SECONDS.get(name, DEFAULT_PRIOR)
            prior = per_minute if unit == "media_minute" else per_image
            if is_gpu(device_class):
                prior /= PRIOR_GPU_SPEEDUP
            row = measured.get((name, version))
            if row is None or row.samples == 0 or row.units <= 0:
                out[name] = Rate(name, unit, prior, "prior", 0)
                continue
            seconds = row.gpu_s if is_gpu(device_class) else row.cpu_s
            prior_units = PRIOR_WEIGHT * row.units / row.samples  # the prior, in chunk units
            blended = (prior * prior_units + seconds) / (prior_units + row.units)
            out[name] = Rate(name, unit, blended, "measured", row.samples)
        return out

    def record(self, samples: Iterable[Sample]) -> None:
        """Add finished chunks to the sums (one row per analyzer/version/device/unit)."""
        merged: dict[tuple[str, str, str, str], list[float]] = {}
        for x in samples:
            key = (x.analyzer, x.version, x.device_class, x.unit)
            acc = merged.setdefault(key, [0.0, 0.0, 0.0])
            acc[0] += x.units
            acc[1] += x.seconds
            acc[2] += 1
        for (analyzer, version, device, unit), (units, seconds, n) in merged.items():
            gpu = is_gpu(device)
            self._add(analyzer, version, device, unit, units, seconds, gpu, int(n))

    def _add(
        self,
        analyzer: str,
        version: str,
        device: str,
        unit: str,
        units: float,
        seconds: float,
        gpu: bool,
        n: int,
    ) -> None:
        key = (
            AnalyzerCost.analyzer == analyzer,
            AnalyzerCost.analyzer_version == version,
            AnalyzerCost.device_class == device,
            AnalyzerCost.unit == unit,
        )
        for _ in range(3):  # a concurrent first insert of the same key: add to it instead
            with self.db.engine.begin() as conn:
                changed = conn.execute(
                    update(AnalyzerCost)
                    .where(*key)
                    .values(
                        units=AnalyzerCost.units + units,
                        cpu_s=AnalyzerCost.cpu_s + (0.0 if gpu else seconds),
                        gpu_s=AnalyzerCost.gpu_s + (seconds if gpu else 0.0),
                        samples=AnalyzerCost.samples + n,
                        updated_at=utcnow(),
                    )
                ).rowcount
            if changed:
                return
            try:
                with self.db.session() as s:
                    s.add(
                        AnalyzerCost(
                            analyzer=analyzer,
                            analyzer_version=version,
                            device_class=device,
                            unit=unit,
                            units=units,
                            cpu_s=0.0 if gpu else seconds,
                            gpu_s=seconds if gpu else 0.0,
                            samples=n,
                            updated_at=utcnow(),
                        )
                    )
                return
            except IntegrityError:
                continue

    def rows(self) -> list[AnalyzerCost]:
        with self.db.session() as s:
            return list(
                s.execute(
                    select(AnalyzerCost).order_by(
                        AnalyzerCost.analyzer, AnalyzerCost.device_class, AnalyzerCost.unit
                    )
                ).scalars()
            )


@dataclass(frozen=True, slots=True)
class Pricing:
    """What device time costs on one worker, and how it is billed."""

    device_class: str
    price_per_hour: float
    billing_increment_s: float
    currency: str

    @classmethod
    def local(cls, settings: ComputeSettings, device_class: str | None = None) -> Pricing:
        """This worker's prices for ``device_class`` (default: the configured one)."""
        device = device_class or settings.device_class
        return cls(
            device,
            settings.gpu_price_per_hour if is_gpu(device) else settings.cpu_price_per_hour,
            settings.billing_increment_s,
            settings.currency,
        )

    def billed_seconds(self, seconds: float) -> float:
        """Seconds billed for one chunk's ``seconds`` of device time: rounded up to whole
        increments, at least one (providers bill started increments)."""
        seconds = max(0.0, seconds)
        if self.billing_increment_s <= 0:
            return seconds
        increments = max(1, math.ceil(seconds / self.billing_increment_s - 1e-9))
        return increments * self.billing_increment_s

    def money(self, seconds: float) -> float:
        if self.price_per_hour <= 0:
            return 0.0
        return self.billed_seconds(seconds) / 3600.0 * self.price_per_hour
