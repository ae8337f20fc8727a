"""Retention rules: delete the original file (or the whole media) of a library after N days.

``delete_raw`` deletes the original blob and sets ``Media.raw_deleted_at`` (results, timeline,
thumbnails and persons stay; downloads answer 410 Gone); ``delete_media`` erases the media and
everything derived from it (:class:`~aima.services.erase_media.MediaEraser`). Applying rules is
idempotent and batched, skips media a job works on (the next run takes them) and records one
audit event per media with actor ``retention:<rule id>``. Workers apply due rules every
``AIMA_RETENTION__INTERVAL_S`` (:meth:`RetentionService.run_due`, given the time: tests need no
sleeping); ``aima retention run`` does it from cron. User guide: docs/retention.md.
"""

from __future__ import annotations

import builtins
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Text, cast, exists, or_, select, update
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.settings import RetentionSettings
from aima.jobs.states import JobState
from aima.media.types import MediaKind
from aima.security import audit
from aima.security.permissions import Permission, Role
from aima.services.access import Principal
from aima.services.erase_media import MediaEraser
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, JobChunk, Media, Observation
from aima.store.models_trust import RetentionRule

log = logging.getLogger(__name__)

Action = Literal["delete_raw", "delete_media"]
ACTIONS: tuple[str, ...] = ("delete_raw", "delete_media")
LIBRARY_PATTERN = r"^[a-z0-9_-]{1,64}$"
DEFAULT_LIBRARY = "default"
BATCH = 100  # media per transaction (delete_raw) / per candidate query (delete_media)
LOOK_EVERY_S = 60.0  # the scheduler reads the rules at most this often (new rules: ≤ 1 min)
_LIBRARY = re.compile(LIBRARY_PATTERN)
# a raw file is still needed while a job works on it or is about to (queued or awaiting an
# accepted estimate); delete_media refuses only running jobs (the eraser drops the others)
_HOLDS_RAW = (JobState.RUNNING, JobState.QUEUED, JobState.AWAITING_CONFIRMATION)


def check_library(library: str) -> str:
    """A library name as given, or a 422 saying what is allowed."""
    if not _LIBRARY.match(library):
        raise InvalidInput(
            f"library {library[:80]!r} is not a valid name: 1-64 characters of a-z, 0-9, _ and -"
        )
    return library


@dataclass(slots=True)
class RuleRun:
    """What applying one rule did (or, in a dry run, would do)."""

    rule_id: str
    library: str
    media_kind: str | None
    action: str
    after_days: int
    dry_run: bool
    cutoff: datetime
    media: builtins.list[str] = field(default_factory=list)  # deleted (dry run: would be)
    skipped: builtins.list[str] = field(default_factory=list)  # a job works on them: next run

    @property
    def count(self) -> int:
        return len(self.media)


class RetentionService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        eraser: MediaEraser,
        settings: RetentionSettings,
        *,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.eraser = eraser
        self.settings = settings
        self.batch = batch
        self._lock = threading.Lock()  # one run per process at a time
        self._next_look: datetime | None = None

    # ------------------------------------------------------------------ rules
    def list_rules(self, principal: Principal) -> builtins.list[RetentionRule]:
        principal.require(Permission.RETENTION_MANAGE)
        with self.db.session() as s:
            return list(
                s.execute(
                    select(RetentionRule).order_by(RetentionRule.library, RetentionRule.created_at)
                ).scalars()
            )

    def create_rule(
        self,
        principal: Principal,
        *,
        action: str,
        after_days: int,
        library: str = DEFAULT_LIBRARY,
        media_kind: str | None = None,
        enabled: bool = True,
    ) -> RetentionRule:
        principal.require(Permission.RETENTION_MANAGE)
        _check(library, action, media_kind, after_days)
        rule = RetentionRule(
            id=new_id("ret"),
            library=library,
            media_kind=media_kind,
            action=action,
            after_days=after_days,
            enabled=enabled,
            created_by=principal.actor,
            created_at=utcnow(),
            last_run_count=0,
        )
        with self.db.session() as s:
            s.add(rule)
            s.flush()
            self._audit(s, principal, "retention.rule_create", rule, _describe(rule))
        return rule

    def set_enabled(self, principal: Principal, rule_id: str, enabled: bool) -> RetentionRule:
        principal.require(Permission.RETENTION_MANAGE)
        with self.db.session() as s:
            rule = self._rule(s, rule_id)
            rule.enabled = enabled
            action = "retention.rule_enable" if enabled else "retention.rule_disable"
            self._audit(s, principal, action, rule, _describe(rule))
            return rule

    def update_rule(
        self, principal: Principal, rule_id: str, changes: dict[str, Any]
    ) -> RetentionRule:
        """Change a rule in place (``changes``: any of library, media_kind, action, after_days,
        enabled); its id and last run stay. Audited with the values before and after."""
        principal.require(Permission.RETENTION_MANAGE)
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise InvalidInput(f"a rule has no field {', '.join(sorted(unknown))}")
        with self.db.session() as s:
            rule = self._rule(s, rule_id)
            before = _describe(rule)
            after = before | changes
            _check(after["library"], after["action"], after["media_kind"], after["after_days"])
            for name, value in changes.items():
                setattr(rule, name, value)
            self._audit(
                s, principal, "retention.rule_update", rule, {"before": before, "after": after}
            )
            return rule

    def delete_rule(self, principal: Principal, rule_id: str) -> RetentionRule:
        principal.require(Permission.RETENTION_MANAGE)
        with self.db.session() as s:
            rule = self._rule(s, rule_id)
            s.delete(rule)
            self._audit(s, principal, "retention.rule_delete", rule, _describe(rule))
            return rule

    @staticmethod
    def _rule(s: Session, rule_id: str) -> RetentionRule:
        rule = s.get(RetentionRule, rule_id)
        if rule is None:
            raise NotFound(f"retention rule {rule_id} not found; `aima retention rules` lists them")
        return rule

    @staticmethod
    def _audit(
        s: Session, principal: Principal, action: str, rule: RetentionRule, details: dict[str, Any]
    ) -> None:
        audit.record(
            s,
            actor=principal.actor,
            action=action,
            object_type="retention_rule",
            object_id=rule.id,
            details=details,
        )

    # ------------------------------------------------------------------ applying
    def run(
        self,
        principal: Principal,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        rule_id: str | None = None,
    ) -> builtins.list[RuleRun]:
        """Apply every enabled rule now (or one rule, enabled or not): ``aima retention run``."""
        principal.require(Permission.RETENTION_MANAGE)
        now = now or utcnow()
        with self.db.session() as s:
            if rule_id is not None:
                rules = [self._rule(s, rule_id)]
            else:
                query = select(RetentionRule).where(RetentionRule.enabled.is_(True))
                rules = list(s.execute(query.order_by(RetentionRule.created_at)).scalars())
        with self._lock:
            runs = [self.apply(rule, now, dry_run=dry_run) for rule in rules]
        if not dry_run:  # who started it; each deletion has its own event with the rule
            with self.db.session() as s:
                audit.record(
                    s,
                    actor=principal.actor,
                    action="retention.run",
                    details={
                        "rules": [r.rule_id for r in runs],
                        "deleted": sum(r.count for r in runs),
                        "skipped": sum(len(r.skipped) for r in runs),
                    },
                )
        return runs

    def run_due(self, now: datetime) -> builtins.list[RuleRun]:
        """The scheduler's tick: apply each enabled rule whose last run is ``interval_s`` old.

        Cheap when nothing is due (the rules are read at most once a minute); a concurrent call
        in this process returns at once; other processes see the rules' ``last_run_at``.
        """
        interval = self.settings.interval_s
        if interval <= 0 or not self._lock.acquire(blocking=False):
            return []
        try:
            if self._next_look is not None and now < self._next_look:
                return []
            self._next_look = now + timedelta(seconds=min(interval, LOOK_EVERY_S))
            due_before = now - timedelta(seconds=interval)
            with self.db.session() as s:
                rules = list(
                    s.execute(
                        select(RetentionRule)
                        .where(
                            RetentionRule.enabled.is_(True),
                            or_(
                                RetentionRule.last_run_at.is_(None),
                                RetentionRule.last_run_at <= due_before,
                            ),
                        )
                        .order_by(RetentionRule.created_at)
                    ).scalars()
                )
            return [self.apply(rule, now) for rule in rules]
        finally:
            self._lock.release()

    def apply(self, rule: RetentionRule, now: datetime, *, dry_run: bool = False) -> RuleRun:
        """Apply one rule as of ``now``: media of its library (and kind) created before
        ``now - after_days``."""
        run = RuleRun(
            rule.id,
            rule.library,
            rule.media_kind,
            rule.action,
            rule.after_days,
            dry_run,
            now - timedelta(days=rule.after_days),
        )
        last_id = ""
        while True:
            batch = self._candidates(rule, run.cutoff, last_id)
            if not batch:
                break
            last_id = batch[-1][0]
            busy_states = _HOLDS_RAW if rule.action == "delete_raw" else (JobState.RUNNING,)
            busy = self._busy([m for m, _ in batch], busy_states)
            run.skipped += [m for m, _ in batch if m in busy]
            ready = [(m, sha) for m, sha in batch if m not in busy]
            if dry_run:
                run.media += [m for m, _ in ready]
            elif rule.action == "delete_raw":
                run.media += self._delete_raw(rule, ready, now)
            else:
                run.media += self._delete_media(rule, [m for m, _ in ready])
        if not dry_run:
            self._finish(rule.id, run, now)
        if run.media or run.skipped:
            log.info(
                "retention rule applied",
                extra={
                    "rule_id": rule.id,
                    "action": rule.action,
                    "count": run.count,
                    "skipped": len(run.skipped),
                    "dry_run": dry_run,
                },
            )
        return run

    def _candidates(
        self, rule: RetentionRule, cutoff: datetime, after_id: str
    ) -> builtins.list[tuple[str, str]]:
        query = select(Media.id, Media.sha256).where(
            Media.library == rule.library, Media.created_at < cutoff, Media.id > after_id
        )
        if rule.media_kind is not None:
            query = query.where(Media.kind == rule.media_kind)
        if rule.action == "delete_raw":
            query = query.where(Media.raw_deleted_at.is_(None))
        with self.db.session() as s:
            rows = s.execute(query.order_by(Media.id).limit(self.batch)).all()
        return [(str(m), str(sha)) for m, sha in rows]

    def _busy(self, media_ids: builtins.list[str], states: tuple[JobState, ...]) -> set[str]:
        with self.db.session() as s:
            rows = s.execute(
                select(Job.media_id)
                .where(Job.media_id.in_(media_ids), Job.state.in_([st.value for st in states]))
                .distinct()
            ).scalars()
            return {str(m) for m in rows}

    def _delete_raw(
        self, rule: RetentionRule, batch: builtins.list[tuple[str, str]], now: datetime
    ) -> builtins.list[str]:
        """One transaction per batch: mark each file deleted (a conditional update, so two
        processes never both claim one), one audit event each; then delete the blobs."""
        done: builtins.list[tuple[str, str]] = []
        actor = _principal(rule).actor
        with self.db.session() as s:
            for media_id, sha256 in batch:
                active = exists().where(
                    Job.media_id == media_id, Job.state.in_([st.value for st in _HOLDS_RAW])
                )
                claimed = s.execute(
                    update(Media)
                    .where(Media.id == media_id, Media.raw_deleted_at.is_(None), ~active)
                    .values(raw_deleted_at=now)
                )
                if getattr(claimed, "rowcount", 0) != 1:
                    continue  # another process got there first, or a job just started
                media = s.get(Media, media_id)
                audit.record(
                    s,
                    actor=actor,
                    action="media.raw_delete",
                    object_type="media",
                    object_id=media_id,
                    details={
                        "rule_id": rule.id,
                        "library": rule.library,
                        "after_days": rule.after_days,
                        "sha256": sha256,
                        "size": media.size if media is not None else None,
                        "created_at": media.created_at.isoformat() if media is not None else None,
                    },
                )
                done.append((media_id, sha256))
        for media_id, sha256 in done:  # after the commit: a rolled-back batch keeps every byte
            try:
                if not self._shared(sha256, media_id) and self.blobs.exists(sha256):
                    self.blobs.delete(sha256)
            except Exception:  # an orphan blob `aima doctor` reports; the row says it is gone
                log.warning("could not delete raw blob of media %s", media_id, exc_info=True)
        return [m for m, _ in done]

    def _shared(self, sha256: str, media_id: str) -> bool:
        """Does anything else still point at these bytes (another media, a result, a crop)?"""
        checks = [
            exists().where(Media.sha256 == sha256, Media.id != media_id),
            exists().where(Observation.crop == sha256),
            *(exists().where(cast(c, Text).contains(sha256, autoescape=True)) for c in _JSON),
        ]
        with self.db.session() as s:
            return any(s.execute(select(check)).scalar_one() for check in checks)

    def _delete_media(self, rule: RetentionRule, ids: builtins.list[str]) -> builtins.list[str]:
        principal = _principal(rule)
        done: builtins.list[str] = []
        for media_id in ids:
            try:
                self.eraser.erase(principal, media_id)  # audited as media.delete by the rule
            except NotFound:
                continue  # erased meanwhile (another process, a user)
            except Conflict:
                continue  # a job started meanwhile: the next run takes it
            done.append(media_id)
        return done

    def _finish(self, rule_id: str, run: RuleRun, now: datetime) -> None:
        with self.db.session() as s:
            rule = s.get(RetentionRule, rule_id)
            if rule is None:
                return  # deleted while it ran
            rule.last_run_at = now
            rule.last_run_count = run.count


_JSON = (AnalysisResult.data, JobChunk.result)  # result JSON may name blobs


def _principal(rule: RetentionRule) -> Principal:
    """Deletions by a rule run as the system, audited with the rule as the actor."""
    return Principal(user_id=None, username=rule.id, role=Role.ADMIN, via="retention")


_EDITABLE = frozenset({"library", "media_kind", "action", "after_days", "enabled"})


def _check(library: str, action: str, media_kind: str | None, after_days: int) -> None:
    """A 422 naming the first field of a rule that is not valid."""
    check_library(library)
    if action not in ACTIONS:
        raise InvalidInput(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if media_kind is not None and media_kind not in {k.value for k in MediaKind}:
        kinds = ", ".join(k.value for k in MediaKind)
        raise InvalidInput(f"media kind {media_kind!r} is not one of {kinds} (or none: all)")
    if not 0 <= after_days <= 36500:
        raise InvalidInput(f"after_days {after_days} is out of range (0 to 36500)")


def _describe(rule: RetentionRule) -> dict[str, Any]:
    return {
        "library": rule.library,
        "media_kind": rule.media_kind,
        "action": rule.action,
        "after_days": rule.after_days,
        "enabled": rule.enabled,
    }
