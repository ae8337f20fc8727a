"""HTTP byte ranges (RFC 9110 §14): one range per request, as ``<video>`` and ``<audio>`` ask."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aima.core.errors import AimaError

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_MAX_DIGITS = 19  # past 2**63: no real file is that large; refuse before int() is asked to parse it


class RangeNotSatisfiable(AimaError):
    """416: the Range header is malformed, asks for several ranges, or lies past the end."""

    status = 416
    code = "range_not_satisfiable"


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range ``header`` asks for within ``size`` bytes; None when there is no header.

    ``bytes=100-199``, ``bytes=100-`` (to the end) and ``bytes=-500`` (the last 500 bytes) are
    understood; an end past the file is clamped to its last byte.
    """
    if header is None:
        return None
    if "," in header:
        raise RangeNotSatisfiable("only a single byte range is supported per request")
    match = _RANGE.match(header)
    if match is None or not any(match.groups()):
        raise RangeNotSatisfiable(f"malformed Range header {header[:80]!r}; use bytes=START-END")
    first, last = match.groups()
    if len(first) > _MAX_DIGITS or len(last) > _MAX_DIGITS:
        raise RangeNotSatisfiable(f"range {header[:80]!r} lies past the end ({size} bytes)")
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {header!r} selects no bytes of {size}")
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        raise RangeNotSatisfiable(f"range starts at byte {start}, the file has {size} bytes")
    if end < start:
        raise RangeNotSatisfiable(f"range {header!r} ends before it starts")
    return ByteRange(start, min(end, size - 1))


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match / If-Range comparison (weak comparison: ``W/`` prefixes are ignored)."""
    if header is None:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates
