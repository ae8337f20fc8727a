"""Persons: listing, details, corrections (audited), dossiers, "seen before?", re-clustering."""

from __future__ import annotations

import builtins
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aima.core.errors import NotFound
from aima.core.progress import ProgressHook, no_progress
from aima.identity import corrections
from aima.identity.dossier import build_dossier
from aima.identity.dossier_markdown import dossier_markdown
from aima.identity.engine import IdentityEngine, SyncReport, live_person, lock
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.cases import CaseUse
from aima.services.summaries import SummaryService
from aima.store.db import Database
from aima.store.models import Correction, Media, Observation, Person, PersonLink
from aima.store.vectors import decode_embedding


@dataclass(frozen=True, slots=True)
class PersonPage:
    items: builtins.list[dict[str, Any]]
    total: int


def _observation(o: Observation) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind,
        "media_id": o.media_id,
        "ref": o.ref,
        "start": o.start,
        "end": o.end,
        "spans": o.spans,
        "duration_s": o.duration_s,
        "count": o.count,
        "usable": o.usable,
        "confidence": o.confidence,
        "crop": o.crop,
        "quality": o.quality,
        "pinned": o.pinned,
        "assigned_by": o.assigned_by,
        "distance": o.distance,
        "model_id": o.model_id,
    }


def _link(lk: PersonLink) -> dict[str, Any]:
    ev = lk.evidence or {}
    return {
        "id": lk.id,
        "face_person_id": lk.face_person_id,
        "voice_person_id": lk.voice_person_id,
        "confidence": lk.confidence,
        "state": lk.state,
        "coverage": ev.get("coverage"),
        "media": ev.get("media", {}),
        "decided_by": lk.decided_by,
    }


class PersonService:
    def __init__(
        self, db: Database, engine: IdentityEngine, summaries: SummaryService | None = None
    ) -> None:
        self.db = db
        self.engine = engine
        self.summaries = summaries  # the dossier shows the person's (cited) summary

    # --- reading ---------------------------------------------------------------------

    def list(
        self,
        principal: Principal,
        *,
        name: str | None = None,
        named: bool | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> PersonPage:
        principal.require(Permission.PERSONS_READ)
        counts = (
            select(
                Observation.person_id.label("pid"),
                func.count().label("n"),
                func.count(func.distinct(Observation.media_id)).label("media"),
                func.sum(Observation.duration_s).label("seconds"),
            )
            .where(Observation.person_id.is_not(None))
            .group_by(Observation.person_id)
        )
        if kind:
            counts = counts.where(Observation.kind == kind)
        sub = counts.subquery()
        query = (
            select(Person, sub.c.n, sub.c.media)
            .join(sub, sub.c.pid == Person.id)
            .where(Person.merged_into.is_(None))
        )
        if name:
            pattern = name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Person.name.ilike(f"%{pattern}%", escape="\\"))
        if named is not None:
            query = query.where(Person.name.is_not(None) if named else Person.name.is_(None))
        with self.db.session() as s:
            total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            rows = s.execute(
                query.order_by(sub.c.media.desc(), sub.c.n.desc(), Person.id)
                .limit(limit)
                .offset(offset)
            ).all()
            items = [self._summary(s, p) for p, _n, _m in rows]
        return PersonPage(items=items, total=total)

    def _summary(self, s: Session, person: Person) -> dict[str, Any]:
        obs = list(
            s.execute(select(Observation).where(Observation.person_id == person.id)).scalars()
        )
        faces = [o for o in obs if o.kind == "face"]
        voices = [o for o in obs if o.kind == "voice"]
        best = sorted(
            (o for o in faces if o.crop),
            key=lambda o: (o.usable, o.quality.get("size_px", 0) * o.confidence),
            reverse=True,
        )
        return {
            "id": person.id,
            "name": person.name,
            "faces": len(faces),
            "voices": len(voices),
            "media": len({o.media_id for o in obs}),
            "on_screen_s": round(sum(o.duration_s for o in faces), 3),
            "speaking_s": round(sum(o.duration_s for o in voices), 3),
            "crops": [o.crop for o in best[:3]],
            "crop_media": [o.media_id for o in best[:3]],
            "created_at": person.created_at.isoformat(),
            "updated_at": person.updated_at.isoformat(),
        }

    def get(self, principal: Principal, person_id: str) -> dict[str, Any]:
        """A person with every observation (a merged id answers with the person it joined)."""
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = self._live(s, person_id)
            out = self._summary(s, person)
            obs = s.execute(
                select(Observation)
                .where(Observation.person_id == person.id)
                .order_by(Observation.media_id, Observation.start)
            ).scalars()
            out["observations"] = [_observation(o) for o in obs]
            out["merged_ids"] = list(
                s.execute(select(Person.id).where(Person.merged_into == person.id)).scalars()
            )
            out["links"] = [
                _link(lk)
                for lk in s.execute(
                    select(PersonLink).where(
                        or_(
                            PersonLink.face_person_id == person.id,
                            PersonLink.voice_person_id == person.id,
                        )
                    )
                ).scalars()
            ]
            out["requested_id"] = person_id
            return out

    def corrections(self, principal: Principal, person_id: str) -> builtins.list[dict[str, Any]]:
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = self._live(s, person_id)
            ids = [
                person.id,
                *s.execute(select(Person.id).where(Person.merged_into == person.id)).scalars(),
            ]
            rows = s.execute(
                select(Correction)
                .where(Correction.person_id.in_(ids))
                .order_by(Correction.created_at.desc())
            ).scalars()
            return [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "person_id": c.person_id,
                    "actor": c.actor,
                    "created_at": c.created_at.isoformat(),
                    "undone_at": c.undone_at.isoformat() if c.undone_at else None,
                    "observations": len(c.payload.get("before", [])),
                }
                for c in rows
            ]

    def links(
        self, principal: Principal, state: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            q = select(PersonLink).order_by(PersonLink.confidence.desc())
            if state:
                q = q.where(PersonLink.state == state)
            return [_link(lk) for lk in s.execute(q).scalars()]

    def _live(self, s: Session, person_id: str) -> Person:
        person = live_person(s, person_id)
        if person is None:
            raise NotFound(f"person {person_id} not found")
        return person

    # --- corrections -----------------------------------------------------------------

    def _correct(
        self, principal: Principal, action: str, person_id: str | None, fn: Any, **details: Any
    ) -> dict[str, Any]:
        principal.require(Permission.PERSONS_MANAGE)
        self.engine.vectors.sync()  # before the write lock: assignments read the index
        with self.db.session() as s:
            lock(s)
            result = fn(s)
            correction: Correction = result[0] if isinstance(result, tuple) else result
            audit.record(
                s,
                actor=principal.actor,
                action=f"person.{action}",
                object_type="person",
                object_id=correction.person_id or person_id,
                details={"correction": correction.id, **details},
            )
            out = {"correction_id": correction.id, "person_id": correction.person_id}
            if isinstance(result, tuple):
                out["new_person_id"] = result[1].id
        self.engine.vectors.sync()
        return out

    def merge(
        self, principal: Principal, target: str, sources: builtins.list[str]
    ) -> dict[str, Any]:
        return self._correct(
            principal,
            "merge",
            target,
            lambda s: corrections.merge(s, principal.actor, target, sources),
            sources=sources,
        )

    def split(
        self,
        principal: Principal,
        person_id: str,
        observations: builtins.list[int],
        name: str | None,
    ) -> dict[str, Any]:
        return self._correct(
            principal,
            "split",
            person_id,
            lambda s: corrections.split(s, principal.actor, person_id, observations, name),
            observations=observations,
        )

    def reject(
        self, principal: Principal, person_id: str, observations: builtins.list[int]
    ) -> dict[str, Any]:
        return self._correct(
            principal,
            "reject",
            person_id,
            lambda s: corrections.reject(s, self.engine, principal.actor, person_id, observations),
            observations=observations,
        )

    def rename(self, principal: Principal, person_id: str, name: str | None) -> dict[str, Any]:
        return self._correct(
            principal,
            "rename",
            person_id,
            lambda s: corrections.rename(s, principal.actor, person_id, name),
        )

    def decide_link(self, principal: Principal, link_id: str, confirm: bool) -> dict[str, Any]:
        fn = corrections.confirm_link if confirm else corrections.reject_link
        return self._correct(
            principal,
            "link_confirm" if confirm else "link_reject",
            None,
            lambda s: fn(s, principal.actor, link_id),
            link=link_id,
        )

    def undo(self, principal: Principal, correction_id: str) -> dict[str, Any]:
        principal.require(Permission.PERSONS_MANAGE)
        with self.db.session() as s:
            lock(s)
            out = corrections.undo(s, principal.actor, correction_id)
            c = s.get(Correction, correction_id)
            audit.record(
                s,
                actor=principal.actor,
                action="person.undo",
                object_type="person",
                object_id=c.person_id if c else None,
                details={"correction": correction_id, "restored": len(out["restored"])},
            )
        return out

    # --- library-wide ----------------------------------------------------------------

    def sync(self, principal: Principal, progress: ProgressHook = no_progress) -> SyncReport:
        principal.require(Permission.PERSONS_MANAGE)
        return self.engine.sync(progress)

    def recluster(
        self, principal: Principal, progress: ProgressHook = no_progress
    ) -> dict[str, dict[str, int]]:
        principal.require(Permission.PERSONS_MANAGE)
        out = self.engine.recluster(progress=progress)
        with self.db.session() as s:
            audit.record(
                s, actor=principal.actor, action="person.recluster", details={"collections": out}
            )
        return out

    # --- dossier and "seen before?" -----------------------------------------------------

    def dossier(
        self,
        principal: Principal,
        person_id: str,
        fmt: str = "json",
        *,
        case: CaseUse | None = None,
    ) -> dict[str, Any] | str:
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = self._live(s, person_id)
            doc = build_dossier(s, person.id)
            audit.record(
                s,
                actor=principal.actor,
                action="person.dossier_export",
                object_type="person",
                object_id=person.id,
                details={
                    "format": fmt,
                    "facts": len(doc.get("facts", [])),
                    **(case.audit() if case is not None else {}),
                },
            )
        if self.summaries is not None:
            doc["narrative"] = self.summaries.for_dossier(doc)
        return dossier_markdown(doc) if fmt == "md" else doc

    def seen_before(
        self,
        principal: Principal,
        person_id: str,
        *,
        min_score: float | None = None,
        k: int = 50,
        case: CaseUse | None = None,
    ) -> dict[str, Any]:
        """Every observation close to this person's, not already theirs (unknowns included)."""
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = self._live(s, person_id)
            own = list(
                s.execute(select(Observation).where(Observation.person_id == person.id)).scalars()
            )
        found: dict[int, dict[str, Any]] = {}
        groups: dict[tuple[str, str], list[Observation]] = defaultdict(list)
        for o in own:
            groups[(o.kind, o.model_id)].append(o)
        own_ids = {o.id for o in own}
        for (kind, model_id), rows in groups.items():
            vectors = [decode_embedding(o.embedding) for o in rows]
            per_query = self.engine.match(
                kind, model_id, np.stack(vectors), k=k, min_score=min_score
            )
            for o, matches in zip(rows, per_query, strict=True):
                for m in matches:
                    if m["observation_id"] in own_ids:
                        continue
                    prev = found.get(m["observation_id"])
                    if prev is None or m["score"] > prev["score"]:
                        found[m["observation_id"]] = {**m, "because_of": o.id}
        items = sorted(found.values(), key=lambda m: -m["score"])
        with self.db.session() as s:
            names = dict(
                s.execute(
                    select(Media.id, Media.original_name).where(
                        Media.id.in_({m["media_id"] for m in items})
                    )
                ).all()
            )
            audit.record(
                s,
                actor=principal.actor,
                action="search.seen_before",
                object_type="person",
                object_id=person.id,
                details={"results": len(items), **(case.audit() if case is not None else {})},
            )
        for m in items:
            m["media_name"] = names.get(m["media_id"])
        return {"person_id": person.id, "matches": items}
