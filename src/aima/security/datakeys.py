"""Data keys: one random AES-256 key per blob (and a few system keys), stored only wrapped.

Each key is a ``DataKey`` row whose ``wrapped`` column holds it sealed by a KEK from the
keyring (:mod:`aima.security.keyring`), bound to its scope and subject. Crypto-shredding
sets ``wrapped`` to NULL: whatever that key sealed can never be read again, wherever copies
of the ciphertext went. Rotation re-wraps rows under the active KEK; the sealed data is not
touched.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from aima.core.clock import utcnow
from aima.core.errors import Conflict, StorageError
from aima.core.ids import new_id
from aima.security.keyring import KekRing, read_ring_file
from aima.store.db import Database
from aima.store.models_trust import DataKey

BLOB = "blob"
SYSTEM = "system"


@dataclass(frozen=True)
class KeyStatus:
    active: str
    keks: list[str]
    live: dict[str, int]  # data keys per KEK id (not destroyed)
    destroyed: int
    unknown: list[str] = field(default_factory=list)  # KEK ids in use the keyring lacks


class DataKeys:
    """Creates, opens, shreds and re-wraps data keys under a KEK keyring."""

    def __init__(self, db: Database, ring: KekRing) -> None:
        self.db = db
        self._ring = ring
        self._stamp = _stamp(ring)
        self._system: dict[str, bytes] = {}

    @property
    def ring(self) -> KekRing:
        """The keyring, re-read when its file changed (``aima keys rotate`` in another process):
        a running server then wraps new keys under the new KEK and can unwrap re-wrapped ones."""
        stamp = _stamp(self._ring)
        if stamp is not None and stamp != self._stamp and self._ring.path is not None:
            self._ring, self._stamp = read_ring_file(self._ring.path), stamp
        return self._ring

    # ------------------------------------------------------------------ per-subject keys
    def for_subject(self, scope: str, subject: str) -> tuple[str, bytes]:
        """The live data key of a subject (created when there is none): ``(id, key)``."""
        with self.db.session() as s:
            row = s.execute(
                select(DataKey)
                .where(
                    DataKey.scope == scope,
                    DataKey.subject_id == subject,
                    DataKey.wrapped.is_not(None),
                )
                .order_by(DataKey.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is not None and row.wrapped is not None:
                return row.id, self.ring.unwrap(row.kek_id, row.wrapped, scope, subject)
            key = os.urandom(32)
            kek_id, wrapped = self.ring.wrap(key, scope, subject)
            kid = new_id("dk")
            s.add(DataKey(id=kid, scope=scope, subject_id=subject, wrapped=wrapped, kek_id=kek_id))
        return kid, key

    def open(self, key_id: str, scope: str, subject: str) -> bytes:
        with self.db.session() as s:
            row = s.get(DataKey, key_id)
        if row is None or row.scope != scope or row.subject_id != subject:
            raise StorageError(
                f"{scope} {subject} names data key {key_id}, which does not exist for it "
                "(moved, or its row was deleted)"
            )
        if row.wrapped is None:
            raise StorageError(
                f"{scope} {subject} was crypto-shredded at {row.destroyed_at}: it cannot be read"
            )
        return self.ring.unwrap(row.kek_id, row.wrapped, scope, subject)

    def shred(self, scope: str, subject: str) -> int:
        """Destroy every data key of a subject; returns how many were live."""
        with self.db.session() as s:
            done = s.execute(
                update(DataKey)
                .where(
                    DataKey.scope == scope,
                    DataKey.subject_id == subject,
                    DataKey.wrapped.is_not(None),
                )
                .values(wrapped=None, destroyed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return int(getattr(done, "rowcount", 0) or 0)

    # ------------------------------------------------------------------ system keys
    def system_key(self, name: str) -> bytes:
        """A long-lived key (e.g. the dedup key), one row per name; stable across rotations."""
        if name in self._system:
            return self._system[name]
        kid = f"dk_system_{name}"
        key = self._load_system(kid, name)
        if key is None:
            fresh = os.urandom(32)
            kek_id, wrapped = self.ring.wrap(fresh, SYSTEM, name)
            try:
                with self.db.session() as s:
                    s.add(
                        DataKey(
                            id=kid, scope=SYSTEM, subject_id=name, wrapped=wrapped, kek_id=kek_id
                        )
                    )
                key = fresh
            except IntegrityError:  # another process created it first: use theirs
                key = self._load_system(kid, name)
        if key is None:
            raise StorageError(f"system key {name} was destroyed; encrypted data needs it")
        self._system[name] = key
        return key

    def _load_system(self, kid: str, name: str) -> bytes | None:
        with self.db.session() as s:
            row = s.get(DataKey, kid)
        if row is None:
            return None
        if row.wrapped is None:
            raise StorageError(f"system key {name} was destroyed; encrypted data needs it")
        return self.ring.unwrap(row.kek_id, row.wrapped, SYSTEM, name)

    # ------------------------------------------------------------------ rotation
    def rewrap(self, batch: int = 500, progress: Callable[[int], None] | None = None) -> int:
        """Re-wrap every live data key not under the active KEK; returns how many."""
        done = 0
        while True:
            with self.db.session() as s:
                rows = (
                    s.execute(
                        select(DataKey)
                        .where(DataKey.wrapped.is_not(None), DataKey.kek_id != self.ring.active)
                        .order_by(DataKey.id)
                        .limit(batch)
                    )
                    .scalars()
                    .all()
                )
                for row in rows:
                    assert row.wrapped is not None
                    key = self.ring.unwrap(row.kek_id, row.wrapped, row.scope, row.subject_id)
                    row.kek_id, row.wrapped = self.ring.wrap(key, row.scope, row.subject_id)
                    row.rewrapped_at = utcnow()
            done += len(rows)
            if progress is not None:
                progress(done)
            if len(rows) < batch:
                return done

    def in_use(self, kek_id: str) -> int:
        with self.db.session() as s:
            return int(
                s.execute(
                    select(func.count())
                    .select_from(DataKey)
                    .where(DataKey.kek_id == kek_id, DataKey.wrapped.is_not(None))
                ).scalar_one()
            )

    def check_retirable(self, kek_id: str) -> None:
        used = self.in_use(kek_id)
        if used:
            raise Conflict(
                f"KEK {kek_id} still wraps {used} data key(s): run `aima keys rotate` (which "
                "re-wraps them under the active KEK) before retiring it"
            )

    def status(self) -> KeyStatus:
        with self.db.session() as s:
            live = Counter(
                {
                    str(kek): int(n)
                    for kek, n in s.execute(
                        select(DataKey.kek_id, func.count())
                        .where(DataKey.wrapped.is_not(None))
                        .group_by(DataKey.kek_id)
                    ).all()
                }
            )
            destroyed = s.execute(
                select(func.count()).select_from(DataKey).where(DataKey.wrapped.is_(None))
            ).scalar_one()
        unknown = sorted(k for k in live if k not in self.ring.keys)
        return KeyStatus(
            self.ring.active, sorted(self.ring.keys), dict(live), int(destroyed), unknown
        )


def _stamp(ring: KekRing) -> tuple[int, int] | None:
    if ring.path is None:
        return None
    try:
        st = ring.path.stat()
    except OSError:
        return None  # gone for a moment (being replaced): keep what we have
    return st.st_mtime_ns, st.st_ino
