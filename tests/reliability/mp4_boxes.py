"""Byte-level surgery on MP4/MOV files for the hostile corpus (boxes found by walking sizes)."""

from __future__ import annotations

import struct

_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"edts", b"udta"}


def mp4_boxes(data: bytes, start: int, end: int) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of the boxes between ``start`` and ``end``."""
    out, pos = [], start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8 or pos + size > end:
            break
        out.append((pos, size, data[pos + 4 : pos + 8]))
        pos += size
    return out


def mp4_find(data: bytes, kind: bytes, start: int = 0, end: int | None = None) -> list[list[int]]:
    """Every ``kind`` box as the list of its ancestors' offsets plus its own offset."""
    found: list[list[int]] = []
    for pos, size, box in mp4_boxes(data, start, len(data) if end is None else end):
        if box == kind:
            found.append([pos])
        elif box in _MP4_CONTAINERS:
            found += [[pos, *sub] for sub in mp4_find(data, kind, pos + 8, pos + size)]
    return found


def _grow(data: bytearray, ancestors: list[int], delta: int) -> None:
    for pos in ancestors:
        size = int.from_bytes(data[pos : pos + 4], "big")
        data[pos : pos + 4] = (size + delta).to_bytes(4, "big")


def external_dref(media: bytes, target: str) -> bytes:
    """An MP4/MOV whose tracks say "my samples are in ``target``": each ``dref`` entry becomes a
    non-self-contained ``url `` box naming it, and the file's own sample bytes are zeroed.
    Expects the moov after the mdat (no faststart), so no chunk offset moves."""
    data = bytearray(media)
    for path in reversed(mp4_find(bytes(data), b"dref")):
        dref = path[-1]
        entry = dref + 16  # size, type, version/flags, entry_count
        if data[entry + 4 : entry + 8] != b"url ":
            continue
        old = int.from_bytes(data[entry : entry + 4], "big")
        location = target.encode() + b"\x00"
        new = struct.pack(">I", 12 + len(location)) + b"url " + b"\x00\x00\x00\x00" + location
        data[entry : entry + old] = new
        _grow(data, path, len(new) - old)
    for pos, size, box in mp4_boxes(bytes(data), 0, len(data)):
        if box == b"mdat":
            data[pos + 8 : pos + size] = bytes(size - 8)
    return bytes(data)


def huge_mp4_duration(media: bytes) -> bytes:
    """Every mvhd/tkhd/mdhd duration set to 2^32-1 ticks (version-0 boxes)."""
    data = bytearray(media)
    # offset of the duration field after the box header + version/flags, per box type
    at = {b"mvhd": 8 + 4 + 12, b"tkhd": 8 + 4 + 16, b"mdhd": 8 + 4 + 12}
    for kind, offset in at.items():
        for path in mp4_find(bytes(data), kind):
            pos = path[-1]
            if data[pos + 8] == 0:  # version 0: 32-bit times
                data[pos + offset : pos + offset + 4] = b"\xff\xff\xff\xff"
                if kind != b"tkhd":
                    data[pos + offset - 4 : pos + offset] = (1).to_bytes(4, "big")  # timescale 1
    return bytes(data)
