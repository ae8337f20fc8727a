"""Person and media summaries: read (rewritten when stale), forced refresh, refresh after jobs.

Reading a summary compares the stored fact-set hash with the current facts and writes a
new summary when they differ (new media, corrections, renames, merges, erasure). The
model is called outside any database transaction: facts are read in one session, the
summary is written, then stored in another.

After a job (``Runtime.after_job``) only persons that appear in the job's media *and*
already have a stored summary are checked, and only those whose facts changed are
rewritten — **extractively**, never with the language model: a job must not wait on (or
pay for) model calls, and the cheap refresh means no stale sentence (say, about erased
media) outlives the facts. The next read then asks the model again
(:func:`aima.identity.summaries.is_stale`: reason ``eager``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aima.core.errors import NotFound
from aima.identity import summaries as sums
from aima.identity.dossier import build_dossier
from aima.identity.engine import live_person
from aima.identity.summary_facts import FactSet, media_facts, person_facts
from aima.llm import LlmClient
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal, cli_principal
from aima.services.timeline import TimelineService
from aima.store.db import Database
from aima.store.models import Job, Observation, Summary

log = logging.getLogger(__name__)


class SummaryService:
    def __init__(self, db: Database, timelines: TimelineService, text: LlmClient | None) -> None:
        self.db = db
        self.timelines = timelines
        self.text = text

    @property
    def llm_configured(self) -> bool:
        return self.text is not None and self.text.configured

    # --- reading ------------------------------------------------------------------------

    def person(
        self, principal: Principal, person_id: str, *, refresh: bool = False
    ) -> dict[str, Any]:
        """The person's summary (a merged id answers for the person it joined); audited."""
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = live_person(s, person_id)
            if person is None:
                raise NotFound(f"person {person_id} not found; list persons to find its id")
            facts = person_facts(build_dossier(s, person.id))
        out = self._current(facts, refresh=refresh)
        out["requested_id"] = person_id
        self._audit(principal, "person.summary", "person", facts.subject_id, out)
        return out

    def for_dossier(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The summary of a dossier just built (the caller checked access and audits)."""
        return self._current(person_facts(doc), refresh=False)

    def media(
        self, principal: Principal, media_id: str, *, refresh: bool = False
    ) -> dict[str, Any]:
        """The media's summary from its fused timeline (access like the timeline's); audited."""
        timeline = self.timelines.timeline(principal, media_id)  # RESULTS_READ + object access
        facts = media_facts(timeline)
        out = self._current(facts, refresh=refresh)
        self._audit(principal, "media.summary", "media", media_id, out)
        return out

    def _audit(
        self, principal: Principal, action: str, kind: str, subject: str, out: dict[str, Any]
    ) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action=action,
                object_type=kind,
                object_id=subject,
                details={
                    "method": out["method"],
                    "sentences": len(out["sentences"]),
                    "regenerated": out["regenerated"],
                },
            )

    def _current(self, facts: FactSet, *, refresh: bool) -> dict[str, Any]:
        with self.db.session() as s:
            row = sums.stored(s, facts.subject_type, facts.subject_id)
            fresh = row is not None and not sums.is_stale(
                row, facts, llm_configured=self.llm_configured
            )
            if row is not None and fresh and not refresh:
                return {**sums.view(row), "regenerated": False}
        endpoint = self.text.settings if self.text is not None else None
        written = sums.write_summary(
            facts,
            self.text,
            context_tokens=endpoint.context_tokens if endpoint else 4096,
            max_tokens=endpoint.max_tokens if endpoint else sums.MAX_TOKENS,
        )
        return {**self._save(facts, written), "regenerated": True}

    def _save(self, facts: FactSet, written: sums.Written) -> dict[str, Any]:
        """Store it; two readers writing at once: the second replaces the first's row."""
        for attempt in (1, 2):
            try:
                with self.db.session() as s:
                    return sums.view(sums.save(s, facts, written))
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # --- after a job ----------------------------------------------------------------------

    def refresh_after_job(self, job_id: str) -> dict[str, int]:
        """Rewrite (extractively) the stored summaries whose facts this job changed."""
        checked = rewritten = 0
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return {"checked": 0, "rewritten": 0}
            media_id = job.media_id
            persons = self._persons_in(s, media_id)
            have = set(
                s.execute(
                    select(Summary.subject_id).where(
                        Summary.subject_type == "person", Summary.subject_id.in_(persons)
                    )
                ).scalars()
            )
            for pid in sorted(have):
                checked += 1
                facts = person_facts(build_dossier(s, pid))
                row = sums.stored(s, "person", pid)
                if row is not None and row.facts_hash != facts.hash:
                    sums.save(
                        s,
                        facts,
                        sums.write_summary(facts, None, use_llm=False, reason_without="eager"),
                    )
                    rewritten += 1
            media_row = sums.stored(s, "media", media_id)
            media_hash = media_row.facts_hash if media_row is not None else None
        if media_hash is not None:
            checked += 1
            rewritten += self._refresh_media(media_id, media_hash)
        return {"checked": checked, "rewritten": rewritten}

    def _refresh_media(self, media_id: str, old_hash: str) -> int:
        try:  # the system reads it as the local operator does
            timeline = self.timelines.timeline(cli_principal(), media_id)
        except NotFound:
            return 0
        facts = media_facts(timeline)
        if facts.hash == old_hash:
            return 0
        self._save(facts, sums.write_summary(facts, None, use_llm=False, reason_without="eager"))
        return 1

    @staticmethod
    def _persons_in(s: Session, media_id: str) -> list[str]:
        ids = set(
            s.execute(
                select(Observation.person_id)
                .where(Observation.media_id == media_id, Observation.person_id.is_not(None))
                .distinct()
            ).scalars()
        )
        live = {live_person(s, str(pid)) for pid in ids}
        return sorted(p.id for p in live if p is not None)


def forget(s: Session, *, media_id: str | None = None, persons: Iterable[str] = ()) -> int:
    """Delete the summaries that may quote erased content, in the erasing transaction; the
    next read writes them again from the facts that remain."""
    rows = []
    if media_id is not None:
        rows.append(sums.stored(s, "media", media_id))
    rows += [sums.stored(s, "person", pid) for pid in persons]
    for row in rows:
        if row is not None:
            s.delete(row)
    return sum(row is not None for row in rows)
