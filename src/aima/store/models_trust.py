"""Data-protection tables: encryption keys, cases, erasure receipts, retention, quotas.

Imported at the end of :mod:`aima.store.models` so ``Base.metadata`` always holds them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from aima.core.clock import utcnow
from aima.store.models import Base


class DataKey(Base):
    """One data-encryption key, stored only wrapped by a key-encryption key (KEK).

    ``scope`` is ``media`` (blobs, crops and embeddings of one media), ``person`` (data
    derived about one person: names, summaries) or ``system``. Crypto-shredding a subject
    deletes ``wrapped`` and sets ``destroyed_at``: what it encrypted can never be read again.
    """

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_subject", "scope", "subject_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]


class Case(Base):
    """A purpose: the investigation or request that justifies searching for people."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    legal_basis: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class CaseMember(Base):
    __tablename__ = "case_members"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErasureReceipt(Base):
    """Proof that a person was erased: counts and hashes per store, signed; no personal data."""

    __tablename__ = "erasure_receipts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)  # keyed hash, not the id
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the signed document
    signature: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionRule(Base):
    """Delete raw media (or whole media) of one library after a number of days."""

    __tablename__ = "retention_rules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    library: Mapped[str] = mapped_column(String(64), index=True)
    media_kind: Mapped[str | None] = mapped_column(String(16))  # None: every kind
    action: Mapped[str] = mapped_column(String(16))  # delete_raw | delete_media
    after_days: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None]
    last_run_count: Mapped[int] = mapped_column(Integer, default=0)


class UserQuota(Base):
    """An Admin's override of the quota defaults for one user (NULL: the default; 0: none)."""

    __tablename__ = "user_quotas"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    uploads_per_day: Mapped[int | None] = mapped_column(Integer)
    bytes_per_day: Mapped[int | None] = mapped_column(BigInteger)
    gpu_seconds_per_month: Mapped[float | None] = mapped_column(Float)
    money_per_month: Mapped[float | None] = mapped_column(Float)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuotaReservation(Base):
    """Quota held by a request in flight (an upload being stored, a job being queued), counted
    with the committed usage until it is converted, released or expires.

    Written and deleted only under the user's quota lock (:mod:`aima.services.quotas`). An
    upload's row is deleted in the transaction that records the upload; a job's row names the
    job it becomes (``job_id``) and, while it lives, that job is counted through it."""

    __tablename__ = "quota_reservations"
    __table_args__ = (Index("ix_quota_reservations_user", "user_id", "expires_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # upload | job
    uploads: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    money: Mapped[float] = mapped_column(Float, default=0.0)
    job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
