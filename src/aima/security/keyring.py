"""Key-encryption keys (KEKs): the keys that wrap every data key, held outside the database.

A keyring file (JSON, mode 0600) names the active KEK and holds every KEK still needed to
unwrap older data keys: ``{"active": kid, "keys": {kid: hex}}``. New data keys are wrapped
by the active KEK; ``aima keys rotate`` adds a new active KEK and re-wraps every data key
under it (the sealed blobs are not rewritten), after which an old KEK can be retired.

Where it lives: ``AIMA_ENCRYPTION__KEK`` (one KEK, 64 hex characters) or
``AIMA_ENCRYPTION__KEK_FILE``, never inside ``data_dir``: whoever copies the library must
not get the key with it. Encryption is on exactly when one of the two is set; without,
blobs are stored in plaintext as before, unless ``AIMA_ENCRYPTION__REQUIRED`` or
``AIMA_ENV=production`` demands a KEK (then start-up is refused).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aima.core.errors import ConfigError, StorageError
from aima.core.settings import Settings
from aima.security.keyfiles import create_exclusive, refuse_inside, write_tmp

log = logging.getLogger(__name__)
NONCE = 12


def kek_id_of(key: bytes) -> str:
    return "kek-" + hashlib.sha256(b"aima-kek-id" + key).hexdigest()[:12]


def _aad(kek_id: str, scope: str, subject: str) -> bytes:
    return b"\0".join((b"aima-data-key", kek_id.encode(), scope.encode(), subject.encode()))


@dataclass(frozen=True)
class KekRing:
    keys: dict[str, bytes]
    active: str
    source: str = field(default="", compare=False)  # where it came from, for messages
    path: Path | None = field(default=None, compare=False)  # the file; None: from the env

    def wrap(self, data_key: bytes, scope: str, subject: str) -> tuple[str, bytes]:
        """``(kek id, nonce || AES-GCM(active KEK, data key))``; bound to scope and subject."""
        nonce = os.urandom(NONCE)
        sealed = AESGCM(self.keys[self.active]).encrypt(
            nonce, data_key, _aad(self.active, scope, subject)
        )
        return self.active, nonce + sealed

    def unwrap(self, kek_id: str, wrapped: bytes, scope: str, subject: str) -> bytes:
        kek = self.keys.get(kek_id)
        if kek is None:
            raise StorageError(
                f"data key of {scope} {subject} is wrapped by KEK {kek_id}, which the keyring "
                f"({self.source}) does not hold: restore that KEK into the keyring file"
            )
        try:
            return AESGCM(kek).decrypt(
                wrapped[:NONCE], wrapped[NONCE:], _aad(kek_id, scope, subject)
            )
        except InvalidTag as exc:
            raise StorageError(
                f"data key of {scope} {subject} does not unwrap under KEK {kek_id} "
                "(tampered with, or moved from another row)"
            ) from exc


def load_kek_ring(settings: Settings) -> KekRing | None:
    """The configured KEK keyring; None when encryption is off (and allowed to be)."""
    enc = settings.encryption
    if enc.kek is not None:
        raw = enc.kek.get_secret_value().strip()
        try:
            key = bytes.fromhex(raw)
        except ValueError as exc:
            raise ConfigError("AIMA_ENCRYPTION__KEK must be 64 hexadecimal characters") from exc
        if len(key) != 32:
            raise ConfigError("AIMA_ENCRYPTION__KEK must be 64 hexadecimal characters (32 bytes)")
        kid = kek_id_of(key)
        return KekRing({kid: key}, kid, "AIMA_ENCRYPTION__KEK")
    if enc.kek_file is None:
        if enc.required or settings.env == "production":
            raise ConfigError(
                "encryption at rest is required but no KEK is configured: set "
                "AIMA_ENCRYPTION__KEK_FILE (created on first use outside production) or "
                "AIMA_ENCRYPTION__KEK"
            )
        return None
    path = enc.kek_file
    _refuse_inside(path, settings.data_dir)
    if not path.exists():
        if settings.env == "production":
            raise ConfigError(
                f"KEK file {path} does not exist (AIMA_ENCRYPTION__KEK_FILE); a missing KEK "
                "makes every encrypted blob unreadable, so production never creates one"
            )
        create_ring_file(path)
    return read_ring_file(path)


def _refuse_inside(path: Path, data_dir: Path) -> None:
    refuse_inside(
        path,
        data_dir,
        what="the KEK file",
        risk="anyone who copies the library would get the key with it",
        setting="AIMA_ENCRYPTION__KEK_FILE",
    )


def create_ring_file(path: Path) -> None:
    """A new keyring with one random KEK; two first starts racing agree on one file."""
    key = secrets.token_bytes(32)
    kid = kek_id_of(key)
    create_exclusive(path, {"active": kid, "keys": {kid: key.hex()}}, indent=1)


def write_ring_file(path: Path, ring: KekRing) -> KekRing:
    """Replace the keyring file atomically (0600); returns the ring as read back."""
    body = {"active": ring.active, "keys": {k: v.hex() for k, v in ring.keys.items()}}
    os.replace(write_tmp(path, body, indent=1), path)
    return read_ring_file(path)


def read_ring_file(path: Path) -> KekRing:
    try:
        data = json.loads(path.read_text())
        keys = {str(k): bytes.fromhex(v) for k, v in data["keys"].items()}
        active = str(data["active"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"KEK file {path} is unreadable or malformed: {exc}") from exc
    if active not in keys or any(len(k) != 32 for k in keys.values()):
        raise ConfigError(f"KEK file {path} is malformed (active KEK missing or not 32 bytes)")
    for kid, key in keys.items():
        if kek_id_of(key) != kid:
            raise ConfigError(f"KEK file {path}: key {kid} does not match its id (edited?)")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("KEK file %s is readable by others; chmod 600 it", path)
    return KekRing(keys, active, str(path), path)


def add_kek(ring: KekRing) -> KekRing:
    """A new random KEK, made active, written to the ring's file (the old ones stay)."""
    if ring.path is None:
        raise ConfigError(
            "the KEK comes from AIMA_ENCRYPTION__KEK: rotation needs a keyring file "
            "(AIMA_ENCRYPTION__KEK_FILE) holding both the old and the new KEK"
        )
    key = secrets.token_bytes(32)
    kid = kek_id_of(key)
    return write_ring_file(ring.path, KekRing({**ring.keys, kid: key}, kid, ring.source))


def drop_kek(ring: KekRing, kid: str) -> KekRing:
    """Remove a KEK from the file (the caller has checked nothing is wrapped by it)."""
    if ring.path is None:
        raise ConfigError("the KEK comes from AIMA_ENCRYPTION__KEK: there is no keyring to edit")
    if kid not in ring.keys:
        raise ConfigError(f"KEK {kid} is not in the keyring {ring.source}")
    if kid == ring.active:
        raise ConfigError(f"KEK {kid} is the active one: rotate to a new KEK before retiring it")
    keys = {k: v for k, v in ring.keys.items() if k != kid}
    return write_ring_file(ring.path, KekRing(keys, ring.active, ring.source))
