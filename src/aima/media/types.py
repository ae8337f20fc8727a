"""Framework-free description of one media file, as probed at ingest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What ingest learnt about a file. ``format`` is AIMA's own short name (``mp4``, ``png``...)."""

    kind: MediaKind
    format: str
    mime: str
    size: int
    container: str | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    streams: int = 0
    exif: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must be >= 0")
        if self.kind is not MediaKind.IMAGE and (self.duration_s is None or self.duration_s <= 0):
            raise ValueError(f"{self.kind} media needs a positive duration")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["kind"] = MediaKind(known["kind"])
        return cls(**known)


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded keyframe: exact presentation time, RGB pixels (H x W x 3, uint8), shot index."""

    t: float
    image: Any  # numpy.ndarray; typed loosely to keep this module framework-free
    shot: int = 0
    reason: str = "interval"  # "shot" (first frame of a shot), "interval", "image"

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class AudioSpan:
    """Mono float32 PCM in [-1, 1] starting at ``start_s`` (seconds from media start).

    A chunk's span reaches ``overlap_s`` beyond the chunk on both sides so that words
    and turns crossing a chunk border are seen whole; analyzers keep only events that
    *start* inside ``[core_start_s, core_end_s)``.
    """

    start_s: float
    samples: Any  # numpy.ndarray float32
    rate: int
    core_start_s: float
    core_end_s: float

    @property
    def duration_s(self) -> float:
        return float(len(self.samples)) / self.rate

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def slice(self, start_s: float, end_s: float) -> Any:
        """Samples between two media times (clipped to what this span holds)."""
        lo = max(0, round((start_s - self.start_s) * self.rate))
        hi = max(lo, round((end_s - self.start_s) * self.rate))
        return self.samples[lo:hi]

    def core(self) -> Any:
        """The chunk's own samples, without the overlap."""
        return self.slice(self.core_start_s, self.core_end_s)

    def owns(self, t: float) -> bool:
        """Whether an event starting at ``t`` belongs to this chunk (each belongs to exactly one)."""
        return self.core_start_s <= t < self.core_end_s
