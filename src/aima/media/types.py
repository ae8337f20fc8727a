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
