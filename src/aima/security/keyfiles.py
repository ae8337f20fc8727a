"""Key files on disk: kept out of the data directory, created 0600 and exactly once.

The audit keyring (:mod:`aima.security.audit_keys`) and the KEK keyring
(:mod:`aima.security.keyring`) are both small JSON files that must never travel with the
library they protect, and whose first creation must be race-free: two processes starting
at once have to end up agreeing on one key. Both go through the helpers here.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from aima.core.errors import ConfigError


def refuse_inside(path: Path, data_dir: Path, *, what: str, risk: str, setting: str) -> None:
    """Raise ConfigError when ``path`` lies inside ``data_dir`` (links resolved first).

    The message reads "<what> <path> is inside the data directory <data_dir>: <risk>. Put it
    elsewhere (<setting>)".
    """
    try:
        path.resolve().relative_to(data_dir.resolve())
    except ValueError:
        return
    raise ConfigError(
        f"{what} {path} is inside the data directory {data_dir}: {risk}. "
        f"Put it elsewhere ({setting})"
    )


def write_tmp(path: Path, body: Mapping[str, object], *, indent: int | None = None) -> Path:
    """``body`` as JSON in a new 0600 file beside ``path`` (fsynced); returns its path.

    The name is unique to this call (pid + random suffix, created with ``O_EXCL``), so
    concurrent writers never share a temp file. The caller links or renames it into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, json.dumps(body, indent=indent).encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def create_exclusive(path: Path, body: Mapping[str, object], *, indent: int | None = None) -> None:
    """Create ``path`` holding ``body`` unless it exists already; never overwrites.

    The content is written to a temp file first and hard-linked into place, which fails when
    ``path`` exists: of two first starts racing, the first link wins and the other keeps it.
    A reader never sees a half-written file. The temp file is removed either way.
    """
    tmp = write_tmp(path, body, indent=indent)
    try:
        os.link(tmp, path)  # exclusive: two first starts agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
