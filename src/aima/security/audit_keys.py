"""The audit chain's key: held outside the database, so database access alone cannot forge.

A keyring file (JSON, mode 0600) holds one or more 32-byte HMAC keys by id and names the
current one; each audit row records the id of the key that authenticated it, so a key can be
replaced without losing the ability to verify older rows. The same key derives an Ed25519
signing key for chain-head anchors (``aima audit anchor``), whose public half is written into
every anchor: anyone holding an anchor can check its signature.

Where it lives: ``AIMA_AUDIT__KEY`` (the key itself) or ``AIMA_AUDIT__KEY_FILE``; in
development, a file in the user's config directory — never inside ``data_dir``, the directory
that holds the database the key protects. Production refuses to start without one (settings).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from platformdirs import user_config_dir

from aima.core.errors import ConfigError
from aima.core.settings import Settings
from aima.security.keyfiles import create_exclusive, refuse_inside


@dataclass(frozen=True)
class AuditKeyring:
    keys: dict[str, bytes]
    current: str
    source: str = field(default="", compare=False)  # where it came from, for messages

    @property
    def key(self) -> bytes:
        return self.keys[self.current]

    def mac(self, key_id: str, message: bytes) -> str | None:
        """HMAC-SHA256 under ``key_id``; None when this keyring does not hold that key."""
        key = self.keys.get(key_id)
        return hmac.new(key, message, hashlib.sha256).hexdigest() if key else None

    def signing_key(self) -> Ed25519PrivateKey:
        seed = hmac.new(self.key, b"aima audit anchor signing key", hashlib.sha256).digest()
        return Ed25519PrivateKey.from_private_bytes(seed)

    def public_key_hex(self) -> str:
        raw = (
            self.signing_key()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return raw.hex()


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"aima-audit-key-id" + key).hexdigest()[:12]


def default_key_file() -> Path:
    return Path(user_config_dir("aima")) / "audit.key"


def key_path(settings: Settings) -> Path:
    return settings.audit.key_file or default_key_file()


def load_keyring(settings: Settings) -> AuditKeyring:
    """The configured keyring; in development, created on first use."""
    if settings.audit.key is not None:
        raw = settings.audit.key.get_secret_value().strip()
        try:
            key = bytes.fromhex(raw)
        except ValueError as exc:
            raise ConfigError("AIMA_AUDIT__KEY must be 64 hexadecimal characters") from exc
        if len(key) != 32:
            raise ConfigError("AIMA_AUDIT__KEY must be 64 hexadecimal characters (32 bytes)")
        kid = key_id_of(key)
        return AuditKeyring({kid: key}, kid, "AIMA_AUDIT__KEY")
    path = key_path(settings)
    _refuse_inside(path, settings.data_dir)
    if not path.exists():
        if settings.env == "production":
            raise ConfigError(f"audit key file {path} does not exist (AIMA_AUDIT__KEY_FILE)")
        _create(path)
    return _read(path)


def _refuse_inside(path: Path, data_dir: Path) -> None:
    refuse_inside(
        path,
        data_dir,
        what="the audit key file",
        risk="anyone who can copy the database could forge the chain",
        setting="AIMA_AUDIT__KEY_FILE",
    )


def _create(path: Path) -> None:
    key = secrets.token_bytes(32)
    kid = key_id_of(key)
    create_exclusive(path, {"current": kid, "keys": {kid: key.hex()}})


def _read(path: Path) -> AuditKeyring:
    try:
        data = json.loads(path.read_text())
        keys = {str(k): bytes.fromhex(v) for k, v in data["keys"].items()}
        current = str(data["current"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"audit key file {path} is unreadable or malformed: {exc}") from exc
    if current not in keys or any(len(k) != 32 for k in keys.values()):
        raise ConfigError(f"audit key file {path} is malformed (current key missing or short)")
    return AuditKeyring(keys, current, str(path))
