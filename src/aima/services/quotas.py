"""Per-user quotas: uploads and bytes per day, GPU-seconds and money per month, requests per
minute. Defaults come from settings (``AIMA_QUOTAS__*``); an Admin overrides them per user
(``user_quotas``: NULL = the default, 0 = unlimited). Every change is audited.

Usage is counted from the database, never from a counter that could drift:

- **uploads / bytes per day**: the user's upload grants (``media_grants.via = 'upload'``,
  new files and duplicates alike) since 00:00 UTC, bytes being the sizes of those media;
  resets at the next midnight UTC (a calendar day, not a rolling 24 h);
- **GPU-seconds / money per month**: the user's jobs created since the 1st (UTC). A finished
  job counts what it used (measured chunk seconds of jobs that ran on a GPU device class,
  ``jobs.cost_actual``); a job still queued, running or awaiting confirmation counts at least
  its estimate, so queueing many jobs at once cannot pass the quota.

Quotas are **reserved**, not only checked: an upload about to be stored and a job about to be
queued first hold their share in ``quota_reservations``, decided under a per-user lock (a
transaction-scoped advisory lock on PostgreSQL; SQLite transactions all start with ``BEGIN
IMMEDIATE`` and so already run one at a time), and live reservations count as used. So
concurrent requests, in any number of processes, never admit more than the quota. The reserved
share becomes committed usage without a gap or an overlap: an upload's reservation is deleted
in the very transaction that records the upload (:func:`consume`); a job's reservation names
the job it becomes, and that job counts through the reservation until it is released under the
lock. A reservation left by a crashed request stops counting after ``RESERVATION_TTL_S``.

Requests per minute are counted by :mod:`aima.api.ratelimit_mw`; this service only says each
user's limit (overrides cached for ``CACHE_S``: no query per request).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import AimaError, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.settings import QuotaSettings
from aima.jobs.states import TERMINAL
from aima.security import audit
from aima.security.permissions import Permission
from aima.security.ratelimit import Counter, MemoryCounter
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import Job, JobChunk, Media, MediaGrant, User
from aima.store.models_trust import QuotaReservation, UserQuota

CACHE_S = 30.0  # how long the request-rate overrides are trusted before they are read again
# how long a reservation counts if its request never converts or releases it (a crashed
# process): far longer than storing one file or queueing one job takes
RESERVATION_TTL_S = 900.0
QUOTA_FIELDS = (
    "uploads_per_day",
    "bytes_per_day",
    "gpu_seconds_per_month",
    "money_per_month",
    "requests_per_minute",
)
_TERMINAL = [s.value for s in TERMINAL]


class QuotaExceeded(AimaError):
    """A per-user quota is used up: 429 with ``Retry-After`` = when the quota resets."""

    status = 429
    code = "quota_exceeded"


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    uploads_per_day: int
    bytes_per_day: int
    gpu_seconds_per_month: float
    money_per_month: float
    requests_per_minute: int
    overridden: tuple[str, ...] = ()  # the fields an Admin set for this user


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    uploads_today: int
    bytes_today: int
    gpu_seconds_month: float
    money_month: float
    day_resets_at: datetime
    month_resets_at: datetime


@dataclass(frozen=True, slots=True)
class QuotaReport:
    username: str
    user_id: str
    limits: QuotaLimits
    usage: QuotaUsage
    updated_by: str | None = None
    updated_at: datetime | None = None
    currency: str = "USD"
    remaining: dict[str, float | None] = field(default_factory=dict)  # None: unlimited


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


def is_gpu_device(device: object) -> bool:
    """``cuda:*`` on a worker, or ``provider:gpu`` for a rented offer."""
    text = str(device or "")
    return text.startswith("cuda") or (":" in text and not text.startswith("cpu"))


class QuotaService:
    def __init__(
        self,
        db: Database,
        defaults: QuotaSettings,
        counter: Counter | None = None,
        *,
        currency: str = "USD",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        reservation_ttl_s: float = RESERVATION_TTL_S,
    ) -> None:
        self.db = db
        self.reservation_ttl_s = reservation_ttl_s
        self.defaults = defaults
        self.counter: Counter = counter or MemoryCounter()
        self.currency = currency
        self.clock = clock
        self.now = now
        self._lock = threading.Lock()
        self._rpm: dict[str, int] = {}
        self._rpm_loaded_at: float | None = None

    # ------------------------------------------------------------------ limits
    def limits(self, user_id: str) -> QuotaLimits:
        with self.db.session() as s:
            row = s.get(UserQuota, user_id)
        return self._merge(row)

    def _merge(self, row: UserQuota | None) -> QuotaLimits:
        values: dict[str, Any] = {}
        overridden = []
        for name in QUOTA_FIELDS:
            own = getattr(row, name) if row is not None else None
            values[name] = getattr(self.defaults, name) if own is None else own
            if own is not None:
                overridden.append(name)
        return QuotaLimits(**values, overridden=tuple(overridden))

    def requests_per_minute(self, user_id: str | None) -> int:
        """The request-rate limit of a user (None: anonymous, the default). Cached overrides."""
        if user_id is None:
            return self.defaults.requests_per_minute
        overrides = self._rpm_overrides()
        return overrides.get(user_id, self.defaults.requests_per_minute)

    def rpm_cache_fresh(self) -> bool:
        loaded = self._rpm_loaded_at
        return loaded is not None and self.clock() - loaded < CACHE_S

    def _rpm_overrides(self) -> Mapping[str, int]:
        if self.rpm_cache_fresh():
            return self._rpm
        with self.db.session() as s:
            rows = s.execute(
                select(UserQuota.user_id, UserQuota.requests_per_minute).where(
                    UserQuota.requests_per_minute.is_not(None)
                )
            ).all()
        with self._lock:
            self._rpm = {uid: int(n or 0) for uid, n in rows}
            self._rpm_loaded_at = self.clock()
            return self._rpm

    # ------------------------------------------------------------------- usage
    def usage(self, user_id: str, *, exclude_job: str | None = None) -> QuotaUsage:
        """What the user has used, live reservations (requests in flight) included."""
        with self.db.session() as s:
            return self._usage(s, user_id, self.now(), exclude_job)

    def _usage(
        self, s: Session, user_id: str, now: datetime, exclude_job: str | None = None
    ) -> QuotaUsage:
        today, month = day_start(now), month_start(now)
        held = s.execute(
            select(QuotaReservation).where(
                QuotaReservation.user_id == user_id, QuotaReservation.expires_at > now
            )
        ).scalars()
        held_uploads = held_bytes = 0
        held_gpu = held_money = 0.0
        held_jobs: set[str] = set()  # queued under a live reservation: counted through it
        for r in held:
            held_uploads += r.uploads
            held_bytes += r.bytes
            held_gpu += r.gpu_seconds
            held_money += r.money
            if r.job_id is not None:
                held_jobs.add(r.job_id)
        uploads, size = s.execute(
            select(func.count(), func.coalesce(func.sum(Media.size), 0))
            .select_from(MediaGrant)
            .join(Media, Media.id == MediaGrant.media_id)
            .where(
                MediaGrant.user_id == user_id,
                MediaGrant.via == "upload",
                MediaGrant.created_at >= today,
            )
        ).one()
        query = select(Job.id, Job.state, Job.estimate, Job.cost_actual).where(
            Job.created_by == user_id, Job.created_at >= month
        )
        if exclude_job is not None:
            query = query.where(Job.id != exclude_job)
        jobs = s.execute(query).all()
        gpu_ids = [j.id for j in jobs if is_gpu_device((j.estimate or {}).get("device"))]
        seconds: dict[str, float] = {}
        if gpu_ids:
            seconds = {
                job_id: float(total or 0.0)
                for job_id, total in s.execute(
                    select(JobChunk.job_id, func.sum(JobChunk.duration_s))
                    .where(JobChunk.job_id.in_(gpu_ids))
                    .group_by(JobChunk.job_id)
                ).all()
            }
        gpu, money = held_gpu, held_money
        for j in jobs:
            if j.id in held_jobs:
                continue
            estimate = j.estimate or {}
            used_s, spent = seconds.get(j.id, 0.0), float(j.cost_actual or 0.0)
            if str(j.state) not in _TERMINAL:  # not finished: at least what it is expected to use
                used_s = max(used_s, float(estimate.get("duration_s") or 0.0))
                spent = max(spent, float(estimate.get("amount") or 0.0))
            if is_gpu_device(estimate.get("device")):
                gpu += used_s
            money += spent
        return QuotaUsage(
            int(uploads) + held_uploads,
            int(size) + held_bytes,
            round(gpu, 3),
            round(money, 6),
            today + timedelta(days=1),
            next_month(now),
        )

    def report(self, actor: Principal, username: str) -> QuotaReport:
        """Limits, usage and resets of ``username``: Admins for anyone, users for themselves."""
        if actor.username != username or actor.user_id is None:
            actor.require(Permission.QUOTAS_MANAGE)
        user = self._user(username)
        with self.db.session() as s:
            row = s.get(UserQuota, user.id)
        limits, usage = self._merge(row), self.usage(user.id)
        remaining: dict[str, float | None] = {
            "uploads_per_day": _left(limits.uploads_per_day, usage.uploads_today),
            "bytes_per_day": _left(limits.bytes_per_day, usage.bytes_today),
            "gpu_seconds_per_month": _left(limits.gpu_seconds_per_month, usage.gpu_seconds_month),
            "money_per_month": _left(limits.money_per_month, usage.money_month),
        }
        return QuotaReport(
            user.username,
            user.id,
            limits,
            usage,
            row.updated_by if row is not None else None,
            row.updated_at if row is not None else None,
            self.currency,
            remaining,
        )

    # ----------------------------------------------------------------- changes
    def set(
        self, actor: Principal, username: str, changes: Mapping[str, float | None]
    ) -> QuotaReport:
        """Change the overrides named in ``changes`` (None: back to the default; 0: unlimited)."""
        actor.require(Permission.QUOTAS_MANAGE)
        unknown = sorted(set(changes) - set(QUOTA_FIELDS))
        if unknown:
            raise InvalidInput(f"unknown quota {unknown}; one of {list(QUOTA_FIELDS)}")
        for name, value in changes.items():
            if value is not None and value < 0:
                raise InvalidInput(f"quota {name} cannot be negative (0 means unlimited)")
        user = self._user(username)
        with self.db.session() as s:
            row = s.get(UserQuota, user.id)
            before = {n: getattr(row, n) for n in QUOTA_FIELDS} if row is not None else {}
            if row is None:
                row = UserQuota(user_id=user.id)
                s.add(row)
            for name, value in changes.items():
                integral = name in ("uploads_per_day", "bytes_per_day", "requests_per_minute")
                setattr(row, name, None if value is None else int(value) if integral else value)
            row.updated_by, row.updated_at = actor.actor, utcnow()
            after = {n: getattr(row, n) for n in QUOTA_FIELDS}
            audit.record(
                s,
                actor=actor.actor,
                action="quota.set",
                object_type="user",
                object_id=user.id,
                details={"username": user.username, "before": before, "after": after},
            )
        self._rpm_loaded_at = None  # this process sees the new request limit at once
        return self.report(actor, username)

    # ------------------------------------------------------------------ checks
    def upload_refusal(self, user_id: str | None, incoming_bytes: int = 0) -> QuotaExceeded | None:
        """Why one more upload of ``incoming_bytes`` is refused, or None (a check: nothing is
        held; :meth:`reserve_upload` holds)."""
        return self._upload_check(user_id, incoming_bytes)[0]

    def admit_upload(self, user_id: str | None, declared_bytes: int) -> int | None:
        """Before an upload's body is read: raise :class:`QuotaExceeded` when no upload is left
        today or ``declared_bytes`` is more than the bytes left; else return the bytes left
        (None: unlimited), the most the body may then carry. Uploads in flight count as used;
        each file is then reserved exactly (:meth:`reserve_upload`) before it is stored."""
        refusal, left = self._upload_check(user_id, max(1, declared_bytes))
        if refusal is not None:
            raise refusal
        return left

    def _upload_check(
        self, user_id: str | None, incoming: int
    ) -> tuple[QuotaExceeded | None, int | None]:
        """(the refusal or None, bytes left today or None when unlimited)."""
        if user_id is None:
            return None, None
        limits = self.limits(user_id)
        if not limits.uploads_per_day and not limits.bytes_per_day:
            return None, None  # both unlimited: no usage query
        return self._upload_verdict(limits, self.usage(user_id), incoming)

    def _upload_verdict(
        self, limits: QuotaLimits, usage: QuotaUsage, incoming: int
    ) -> tuple[QuotaExceeded | None, int | None]:
        resets = usage.day_resets_at
        left = max(0, limits.bytes_per_day - usage.bytes_today) if limits.bytes_per_day else None
        if limits.uploads_per_day and usage.uploads_today + 1 > limits.uploads_per_day:
            over = self._exceeded(
                "uploads_per_day", limits.uploads_per_day, usage.uploads_today, 1, resets, "uploads"
            )
            return over, left
        if left is not None and incoming > left:
            over = self._exceeded(
                "bytes_per_day", limits.bytes_per_day, usage.bytes_today, incoming, resets, "bytes"
            )
            return over, left
        return None, left

    def bytes_refusal(self, user_id: str | None, received: int) -> QuotaExceeded:
        """The error for a body that passed the bytes left today while it streamed in."""
        refusal = self.upload_refusal(user_id, received)
        if refusal is not None:
            return refusal
        return QuotaExceeded(f"quota bytes_per_day exceeded: this upload is over {received} bytes")

    def job_refusal(
        self, user_id: str | None, estimate: Mapping[str, Any], *, job_id: str | None = None
    ) -> QuotaExceeded | None:
        """Why a job with this estimate is refused by the GPU-seconds or money quota, or None.
        ``job_id``: a job already in the ledger (confirmation), left out of the usage. A check:
        nothing is held (:meth:`reserve_job` holds)."""
        if user_id is None:
            return None
        limits = self.limits(user_id)
        if not limits.gpu_seconds_per_month and not limits.money_per_month:
            return None
        return self._job_verdict(limits, self.usage(user_id, exclude_job=job_id), estimate)

    def _job_verdict(
        self, limits: QuotaLimits, usage: QuotaUsage, estimate: Mapping[str, Any]
    ) -> QuotaExceeded | None:
        seconds, amount = _job_share(estimate)
        resets = usage.month_resets_at
        if (
            limits.gpu_seconds_per_month
            and is_gpu_device(estimate.get("device"))
            and usage.gpu_seconds_month + seconds > limits.gpu_seconds_per_month + 1e-9
        ):
            return self._exceeded(
                "gpu_seconds_per_month",
                limits.gpu_seconds_per_month,
                usage.gpu_seconds_month,
                seconds,
                resets,
                "GPU-seconds",
            )
        if limits.money_per_month and usage.money_month + amount > limits.money_per_month + 1e-9:
            return self._exceeded(
                "money_per_month",
                limits.money_per_month,
                usage.money_month,
                amount,
                resets,
                self.currency,
            )
        return None

    # ------------------------------------------------------------ reservations
    def reserve_upload(self, user_id: str | None, size: int) -> str | None:
        """Hold one upload of ``size`` bytes against today's quotas, or raise
        :class:`QuotaExceeded` (nothing held). Returns the reservation to hand to the
        transaction that records the upload (:func:`consume`) and to :meth:`release` when the
        request ends whatever happened; None when no upload quota applies."""
        if user_id is None:
            return None
        with self.db.session() as s:
            lock_user(s, user_id)
            limits = self._merge(s.get(UserQuota, user_id))
            if not limits.uploads_per_day and not limits.bytes_per_day:
                return None
            now = self._purge(s, user_id)
            refusal, _ = self._upload_verdict(limits, self._usage(s, user_id, now), max(0, size))
            if refusal is not None:
                raise refusal
            return self._hold(s, user_id, "upload", now, uploads=1, size=max(0, size))

    def reserve_job(
        self, user_id: str | None, estimate: Mapping[str, Any], *, job_id: str
    ) -> str | None:
        """Hold a job's estimated GPU-seconds and money against the month's quotas, or raise
        :class:`QuotaExceeded` (nothing held). ``job_id``: the id the job will be queued
        under; until :meth:`release`, that job counts through this reservation, so the moment it
        commits is neither counted twice nor missed. None when no job quota applies."""
        if user_id is None:
            return None
        with self.db.session() as s:
            lock_user(s, user_id)
            limits = self._merge(s.get(UserQuota, user_id))
            if not limits.gpu_seconds_per_month and not limits.money_per_month:
                return None
            now = self._purge(s, user_id)
            refusal = self._job_verdict(limits, self._usage(s, user_id, now), estimate)
            if refusal is not None:
                raise refusal
            seconds, amount = _job_share(estimate)
            return self._hold(s, user_id, "job", now, gpu=seconds, money=amount, job_id=job_id)

    def release(self, reservation: str | None) -> None:
        """The request is over: its reservation stops counting (what it became, a stored upload
        or a queued job, counts by itself). Idempotent; None is a no-op."""
        if reservation is None:
            return
        with self.db.session() as s:
            consume(s, reservation)

    def _purge(self, s: Session, user_id: str) -> datetime:
        """Drop the user's expired reservations (under the lock); returns now."""
        now = self.now()
        s.execute(
            delete(QuotaReservation).where(
                QuotaReservation.user_id == user_id, QuotaReservation.expires_at <= now
            )
        )
        return now

    def _hold(
        self,
        s: Session,
        user_id: str,
        kind: str,
        now: datetime,
        *,
        uploads: int = 0,
        size: int = 0,
        gpu: float = 0.0,
        money: float = 0.0,
        job_id: str | None = None,
    ) -> str:
        reservation = new_id("qres")
        s.add(
            QuotaReservation(
                id=reservation,
                user_id=user_id,
                kind=kind,
                uploads=uploads,
                bytes=size,
                gpu_seconds=gpu,
                money=money,
                job_id=job_id,
                created_at=now,
                expires_at=now + timedelta(seconds=self.reservation_ttl_s),
            )
        )
        return reservation

    def _exceeded(
        self, quota: str, limit: float, used: float, wanted: float, resets: datetime, unit: str
    ) -> QuotaExceeded:
        left = max(0.0, limit - used)
        retry = max(1.0, (resets - self.now()).total_seconds())
        return QuotaExceeded(
            f"quota {quota} exceeded: used {_fmt(used)} of {_fmt(limit)} {unit}, "
            f"{_fmt(left)} remaining, this needs {_fmt(wanted)}; it resets at "
            f"{resets.isoformat()} (ask an admin to raise it: aima quotas set)",
            details={
                "quota": quota,
                "limit": limit,
                "used": used,
                "remaining": left,
                "requested": wanted,
                "resets_at": resets.isoformat(),
            },
            retry_after_s=retry,
        )

    def _user(self, username: str) -> User:
        with self.db.session() as s:
            user = s.execute(
                select(User).where(User.username == username.strip().lower())
            ).scalar_one_or_none()
        if user is None:
            raise NotFound(f"user {username!r} not found")
        return user


def lock_user(s: Session, user_id: str) -> None:
    """Serialise the quota decisions of one user until ``s`` ends, across processes: a
    transaction-scoped advisory lock on PostgreSQL. On SQLite every transaction starts with
    ``BEGIN IMMEDIATE`` (:mod:`aima.store.db`) and so already holds the database's write lock."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(_lock_key(user_id))))


def consume(s: Session, reservation: str | None) -> None:
    """Delete a reservation under its user's lock, in ``s``: called in the transaction that
    records the upload it held, so the upload stops counting as reserved exactly when it
    starts counting as stored. Gone already (released, expired): nothing to do."""
    if reservation is None:
        return
    user_id = s.execute(
        select(QuotaReservation.user_id).where(QuotaReservation.id == reservation)
    ).scalar_one_or_none()
    if user_id is None:
        return
    lock_user(s, user_id)
    s.execute(delete(QuotaReservation).where(QuotaReservation.id == reservation))


def consume_job(s: Session, job_id: str | None) -> None:
    """Delete the reservation held for job ``job_id`` (under its user's lock), in ``s``: in the
    transaction that queues the job, or after the job was not queued after all."""
    if job_id is None:
        return
    user_id = s.execute(
        select(QuotaReservation.user_id).where(QuotaReservation.job_id == job_id)
    ).scalar()
    if user_id is None:
        return
    lock_user(s, user_id)
    s.execute(delete(QuotaReservation).where(QuotaReservation.job_id == job_id))


def _lock_key(user_id: str) -> int:
    digest = hashlib.blake2b(f"aima.quota\x00{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _job_share(estimate: Mapping[str, Any]) -> tuple[float, float]:
    """(GPU-seconds, money) a job with this estimate is held to until it has run."""
    seconds = float(estimate.get("duration_s") or 0.0)
    amount = float(estimate.get("amount") or 0.0)
    return (seconds if is_gpu_device(estimate.get("device")) else 0.0), amount


def _left(limit: float, used: float) -> float | None:
    return None if not limit else max(0.0, limit - used)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
