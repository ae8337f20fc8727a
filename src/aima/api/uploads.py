"""Uploaded files spooled to disk with the size limit enforced while copying."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile

from aima.core.errors import PayloadTooLarge

COPY_CHUNK = 1024 * 1024


def copy_limited(upload_file: UploadFile, dest: Path, limit: int, name: str) -> None:
    """Spool an upload to ``dest``, refusing it as soon as it passes ``limit`` bytes."""
    written = 0
    with dest.open("wb") as out:
        while chunk := upload_file.file.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise PayloadTooLarge(
                    f"{name}: over the size limit of {limit} bytes (AIMA_LIMITS__MAX_BYTES)"
                )
            out.write(chunk)
