"""Secrets for the embedded default: generated once into <data_dir>/secrets.json (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from aima.core.errors import ConfigError
from aima.core.settings import Settings


def jwt_secret(settings: Settings) -> str:
    if settings.auth.jwt_secret is not None:
        return settings.auth.jwt_secret.get_secret_value()
    if settings.env == "production":  # also refused by Settings; kept as a second lock
        raise ConfigError("AIMA_AUTH__JWT_SECRET must be set in production")
    return _load_or_create(settings.data_dir / "secrets.json")["jwt_secret"]


def _load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        if data.get("jwt_secret"):
            return data
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"jwt_secret": secrets.token_urlsafe(48)}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic and exclusive: two first starts agree on one secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    stored: dict[str, str] = json.loads(path.read_text())
    return stored


def write_secret_file(path: Path, value: str) -> Path:
    """Write a secret for the operator to read once: mode 0600 from creation, replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
