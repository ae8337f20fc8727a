"""Who a speaker label is: a media's ``S1`` resolved to its person's current name.

Analyzers label speakers per media (``S1``, ``S2``); the identity engine turns each
speaker of an accepted result into one voice observation (``ref = "speaker:S1"``)
assigned to a person. A person may later be renamed, merged into another by a user,
or merged into a face person by a face-voice link: the label a user reads must follow
all of that at read time, so nothing here is stored -- every transcript, export and
search hit asks this module, and a rename shows everywhere at once.

Unnamed persons get a stable short label, ``Unknown person <last 8 characters of the
id>`` (the random part of the id, so persons created in the same millisecond differ);
the full id is always given next to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.store.models import Observation, Person


@dataclass(frozen=True, slots=True)
class PersonLabel:
    person_id: str
    person_name: str  # the person's name, or a stable "Unknown person ..." label
    named: bool

    def as_fields(self) -> dict[str, str | bool]:
        return {
            "person_id": self.person_id,
            "person_name": self.person_name,
            "person_named": self.named,
        }


def short_label(person_id: str) -> str:
    return f"Unknown person {person_id[-8:]}"


def live_persons(session: Session, ids: Iterable[str]) -> dict[str, Person]:
    """Each id -> the live person standing for it now (``merged_into`` chains followed).

    One query per merge depth; a cycle or a dangling id stops at the last person found.
    """
    loaded: dict[str, Person] = {}
    todo = set(ids)
    while todo:
        found = list(session.execute(select(Person).where(Person.id.in_(todo))).scalars())
        for p in found:
            loaded[p.id] = p
        todo = {p.merged_into for p in found if p.merged_into and p.merged_into not in loaded}
    out: dict[str, Person] = {}
    for pid in ids:
        person = loaded.get(pid)
        seen = {pid}
        while person is not None and person.merged_into and person.merged_into not in seen:
            seen.add(person.merged_into)
            nxt = loaded.get(person.merged_into)
            if nxt is None:
                break
            person = nxt
        if person is not None:
            out[pid] = person
    return out


def person_labels(session: Session, ids: Iterable[str]) -> dict[str, PersonLabel]:
    """Each person id -> the label of the live person it stands for."""
    return {
        pid: PersonLabel(p.id, p.name or short_label(p.id), p.name is not None)
        for pid, p in live_persons(session, set(ids)).items()
    }


def speaker_labels(
    session: Session, media_ids: Iterable[str]
) -> dict[tuple[str, str], PersonLabel]:
    """(media id, speaker id) -> the person that speaker is now, for every assigned voice."""
    rows = session.execute(
        select(Observation.media_id, Observation.ref, Observation.person_id).where(
            Observation.media_id.in_(list(set(media_ids))),
            Observation.kind == "voice",
            Observation.person_id.is_not(None),
        )
    ).all()
    labels = person_labels(session, {pid for _, _, pid in rows if pid})
    out: dict[tuple[str, str], PersonLabel] = {}
    for media_id, ref, pid in rows:
        if pid in labels and ref.startswith("speaker:"):
            out[(media_id, ref.removeprefix("speaker:"))] = labels[pid]
    return out
