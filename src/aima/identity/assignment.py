"""Observations to persons: nearest neighbours within the model's calibrated threshold.

:meth:`PersonAssigner.assign` places one observation (join the nearest person it may
join, found a new one if it is usable, else leave it unassigned); ``_recluster`` redoes
a whole collection at once, keeping pinned observations and person ids (see
``clustering``). Both honour the cannot-links analysts recorded. Callers hold the
identity write lock (:func:`aima.identity.engine.lock`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from aima.core.ids import new_id
from aima.core.settings import IdentitySettings
from aima.identity.calibration import Calibration, calibration_for
from aima.identity.clustering import Item, Neighbour, choose_person, recluster
from aima.store.models import CannotLink, Correction, Observation, Person, PersonLink
from aima.store.vectors import VectorStore, decode_embedding


class PersonAssigner:
    """Assignment and re-clustering over the vector index and the observation rows."""

    def __init__(self, vectors: VectorStore, settings: IdentitySettings) -> None:
        self.vectors = vectors
        self.settings = settings

    def calibration(self, kind: str, model_id: str, hint: float | None = None) -> Calibration:
        return calibration_for(kind, model_id, self.settings, hint=hint)

    def neighbours(
        self,
        s: Session,
        collection: str,
        vec: np.ndarray[Any, Any],
        *,
        k: int | None = None,
        extra: Sequence[tuple[int, np.ndarray[Any, Any]]] = (),
        exclude: Iterable[int] = (),
    ) -> list[Neighbour]:
        """Nearest observations (from the index, plus uncommitted ``extra``) with their persons.

        The index gives candidates only; persons are read from the rows in this
        transaction, so a stale index entry can never put a face in the wrong person.
        """
        k = k or self.settings.neighbours
        skip = set(exclude)
        found: dict[int, float] = {}
        # Straight to the index: syncing it here would open a second transaction while the
        # caller holds the write lock (callers sync before they begin).
        query = np.ascontiguousarray(vec.reshape(1, -1), dtype=np.float32)
        for hit in self.vectors.index.search(collection, query, k + len(skip))[0]:
            found[hit.item_id] = hit.distance
        for oid, other in extra:
            found[oid] = float(np.sqrt(max(0.0, 2.0 - 2.0 * float(np.dot(vec, other)))))
        for oid in skip:
            found.pop(oid, None)
        if not found:
            return []
        persons = dict(
            s.execute(
                select(Observation.id, Observation.person_id).where(Observation.id.in_(list(found)))
            ).all()
        )
        out = [Neighbour(oid, d, persons[oid]) for oid, d in found.items() if oid in persons]
        return sorted(out, key=lambda n: n.distance)[:k]

    def assign(
        self,
        s: Session,
        row: Observation,
        vec: np.ndarray[Any, Any],
        extra: Sequence[tuple[int, np.ndarray[Any, Any]]] = (),
        *,
        cannot: set[str] | None = None,
    ) -> str:
        """Attach one observation: 'joined' a person, founded a 'new' one, or 'unassigned'.

        ``cannot``: the persons it may not join, when the caller knows them (a row created
        in this transaction has none); read from its cannot-links otherwise.
        """
        cal = self.calibration(row.kind, row.model_id)
        if cannot is None:
            cannot = set(
                s.execute(
                    select(CannotLink.person_id).where(CannotLink.observation_id == row.id)
                ).scalars()
            )
        near = self.neighbours(s, row.collection, vec, extra=extra, exclude=[row.id])
        choice = choose_person(near, cal.max_distance, cannot)
        if choice is not None:
            row.person_id, row.distance = choice
            row.assigned_by = "auto"
            return "joined"
        if row.usable:
            person = Person(id=new_id("per"))
            s.add(person)
            s.flush()
            row.person_id, row.distance, row.assigned_by = person.id, 0.0, "auto"
            return "new"
        row.person_id, row.distance, row.assigned_by = None, None, "unmatched"
        return "unassigned"

    def _recluster(self, s: Session, coll: str) -> dict[str, int]:
        rows = s.execute(
            select(
                Observation.id,
                Observation.kind,
                Observation.model_id,
                Observation.usable,
                Observation.pinned,
                Observation.person_id,
                Observation.embedding,
            )
            .where(Observation.collection == coll)
            .order_by(Observation.id)
        ).all()
        if not rows:
            return {"observations": 0, "changed": 0, "new_persons": 0}
        cannot: dict[int, set[str]] = defaultdict(set)
        for oid, pid in s.execute(
            select(CannotLink.observation_id, CannotLink.person_id)
            .join(Observation, Observation.id == CannotLink.observation_id)
            .where(Observation.collection == coll)
        ).all():
            cannot[oid].add(pid)
        items = [
            Item(
                id=r.id,
                usable=r.usable,
                pinned=r.person_id if r.pinned else None,
                prior=r.person_id,
                cannot=frozenset(cannot.get(r.id, ())),
            )
            for r in rows
        ]
        vectors = np.stack([decode_embedding(r.embedding) for r in rows])
        cal = self.calibration(rows[0].kind, rows[0].model_id)
        mapping = recluster(items, vectors, cal.max_distance, k=self.settings.neighbours)
        fresh: dict[str, str] = {}
        changed = 0
        for r in rows:
            target = mapping.get(r.id)
            if target is not None and target.startswith("new:"):
                if target not in fresh:
                    person = Person(id=new_id("per"))
                    s.add(person)
                    fresh[target] = person.id
                target = fresh[target]
            if target != r.person_id:
                changed += 1
                s.execute(
                    update(Observation)
                    .where(Observation.id == r.id)
                    .values(
                        person_id=target,
                        assigned_by="recluster" if target else "unmatched",
                        distance=None,
                    )
                )
        s.flush()
        self.drop_empty_persons(s)
        return {"observations": len(rows), "changed": changed, "new_persons": len(fresh)}

    def drop_empty_persons(self, s: Session) -> int:
        """Unnamed automatic persons left without observations or constraints go away."""
        has_obs = select(Observation.person_id).where(Observation.person_id.is_not(None))
        constrained = select(CannotLink.person_id)
        corrected = select(Correction.person_id).where(Correction.person_id.is_not(None))
        linked = select(PersonLink.face_person_id).union(select(PersonLink.voice_person_id))
        merged = select(Person.merged_into).where(Person.merged_into.is_not(None))
        empty = (
            s.execute(
                select(Person.id).where(
                    Person.name.is_(None),
                    Person.merged_into.is_(None),
                    Person.id.not_in(has_obs),
                    Person.id.not_in(constrained),
                    Person.id.not_in(corrected),
                    Person.id.not_in(linked),
                    Person.id.not_in(merged),
                )
            )
            .scalars()
            .all()
        )
        if empty:
            s.execute(delete(Person).where(Person.id.in_(empty)))
        return len(empty)
