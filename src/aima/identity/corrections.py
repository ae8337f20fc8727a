"""A user's corrections, stored as constraints that re-clustering and new media honour.

* merge A <- B: B's observations move to A and every observation of both is *pinned*
  (must-link); B redirects to A.
* split: chosen observations of P move to a new person, pinned there, with a
  cannot-link to P.
* reject ("not this person"): a cannot-link (observation, P); the observation is
  re-assigned elsewhere (another person, a new one, or none).
* rename; confirm / reject a face-voice link.

Every correction records the observations' state before and after, so ``undo`` can
put back exactly what it changed. Observations changed again since (by a later
correction) are left alone and reported: undo the later correction first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.identity.engine import IdentityEngine, live_person
from aima.identity.linking import merge_voice
from aima.store.models import CannotLink, Correction, Observation, Person, PersonLink
from aima.store.vectors import decode_embedding


def _snapshot(s: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    rows = s.execute(
        select(Observation.id, Observation.person_id, Observation.pinned, Observation.assigned_by)
        .where(Observation.id.in_(list(ids)))
        .order_by(Observation.id)
    ).all()
    return [{"id": i, "person_id": p, "pinned": pin, "assigned_by": a} for i, p, pin, a in rows]


def _person(s: Session, person_id: str) -> Person:
    person = live_person(s, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    return person


def _members(s: Session, person: Person, ids: Sequence[int]) -> list[Observation]:
    if not ids:
        raise InvalidInput("name at least one observation")
    rows = list(s.execute(select(Observation).where(Observation.id.in_(list(ids)))).scalars())
    missing = set(ids) - {o.id for o in rows if o.person_id == person.id}
    if missing:
        raise InvalidInput(
            f"observations {sorted(missing)} do not belong to person {person.id}",
            details={"observations": sorted(missing)},
        )
    return rows


def _record(
    s: Session,
    kind: str,
    person: Person,
    actor: str,
    before: list[dict[str, Any]],
    **extra: Any,
) -> Correction:
    s.flush()
    after = _snapshot(s, [b["id"] for b in before])
    c = Correction(
        id=new_id("cor"),
        kind=kind,
        person_id=person.id,
        actor=actor,
        payload={"before": before, "after": after, **extra},
    )
    s.add(c)
    person.updated_at = utcnow()
    return c


def merge(s: Session, actor: str, target_id: str, source_ids: Sequence[str]) -> Correction:
    target = _person(s, target_id)
    sources = []
    for sid in source_ids:
        p = _person(s, sid)
        if p.id != target.id and p not in sources:
            sources.append(p)
    if not sources:
        raise InvalidInput("merge needs at least one other person")
    everyone = [target.id, *(p.id for p in sources)]
    ids = list(
        s.execute(select(Observation.id).where(Observation.person_id.in_(everyone))).scalars()
    )
    before = _snapshot(s, ids)
    persons = [{"id": p.id, "merged_into": p.merged_into, "name": p.name} for p in sources]
    s.execute(
        update(Observation)
        .where(Observation.id.in_(ids))
        .values(person_id=target.id, pinned=True, assigned_by="user")
    )
    for p in sources:
        p.merged_into = target.id
        p.updated_at = utcnow()
    target_name = target.name
    if target.name is None:
        target.name = next((p.name for p in sources if p.name), None)
    c = _record(
        s,
        "merge",
        target,
        actor,
        before,
        persons=persons,
        sources=[p.id for p in sources],
        target_name=target_name,
    )
    # cannot-links against a merged person now hold against the target too
    for oid, _pid in s.execute(
        select(CannotLink.observation_id, CannotLink.person_id).where(
            CannotLink.person_id.in_([p.id for p in sources])
        )
    ).all():
        if s.get(CannotLink, (oid, target.id)) is None:
            s.add(CannotLink(observation_id=oid, person_id=target.id, correction_id=c.id))
    return c


def split(
    s: Session, actor: str, person_id: str, observation_ids: Sequence[int], name: str | None = None
) -> tuple[Correction, Person]:
    person = _person(s, person_id)
    rows = _members(s, person, observation_ids)
    before = _snapshot(s, [o.id for o in rows])
    new = Person(id=new_id("per"), name=name)
    s.add(new)
    s.flush()
    for o in rows:
        o.person_id, o.pinned, o.assigned_by, o.distance = new.id, True, "user", None
    c = _record(s, "split", person, actor, before, created=new.id)
    for o in rows:
        s.add(CannotLink(observation_id=o.id, person_id=person.id, correction_id=c.id))
    return c, new


def reject(
    s: Session, engine: IdentityEngine, actor: str, person_id: str, observation_ids: Sequence[int]
) -> Correction:
    person = _person(s, person_id)
    rows = _members(s, person, observation_ids)
    before = _snapshot(s, [o.id for o in rows])
    c = Correction(id=new_id("cor"), kind="reject", person_id=person.id, actor=actor, payload={})
    s.add(c)
    for o in rows:
        s.add(CannotLink(observation_id=o.id, person_id=person.id, correction_id=c.id))
        o.person_id, o.pinned = None, False
    s.flush()
    for o in rows:
        engine.assign(s, o, decode_embedding(o.embedding))
    s.flush()
    c.payload = {"before": before, "after": _snapshot(s, [o.id for o in rows])}
    person.updated_at = utcnow()
    return c


def rename(s: Session, actor: str, person_id: str, name: str | None) -> Correction:
    person = _person(s, person_id)
    clean = (name or "").strip() or None
    if clean is not None and len(clean) > 256:
        raise InvalidInput("a name has at most 256 characters")
    c = _record(s, "rename", person, actor, [], old_name=person.name, new_name=clean)
    person.name = clean
    return c


def _link(s: Session, link_id: str) -> PersonLink:
    link = s.get(PersonLink, link_id)
    if link is None:
        raise NotFound(f"link {link_id} not found")
    return link


def confirm_link(s: Session, actor: str, link_id: str) -> Correction:
    link = _link(s, link_id)
    if link.state == "rejected":
        raise Conflict("this link was rejected; undo that decision first")
    voice = s.get(Person, link.voice_person_id)
    ids = list(
        s.execute(
            select(Observation.id).where(
                Observation.person_id.in_([link.voice_person_id, link.face_person_id]),
                Observation.kind == "voice",
            )
        ).scalars()
    )
    before = _snapshot(s, ids)
    state = {"state": link.state, "merged_into": voice.merged_into if voice else None}
    if link.state == "suggested":
        merge_voice(s, link)
    moved = link.evidence.get("moved", [])
    s.execute(update(Observation).where(Observation.id.in_(moved)).values(pinned=True))
    link.state, link.decided_by, link.updated_at = "confirmed", actor, utcnow()
    face = _person(s, link.face_person_id)
    return _record(s, "link_confirm", face, actor, before, link_id=link.id, link_before=state)


def reject_link(s: Session, actor: str, link_id: str) -> Correction:
    link = _link(s, link_id)
    if link.state == "rejected":
        raise Conflict("this link is already rejected")
    voice = s.get(Person, link.voice_person_id)
    if voice is None:
        raise NotFound(f"person {link.voice_person_id} not found")
    moved = [int(i) for i in link.evidence.get("moved", [])]
    before = _snapshot(s, moved)
    state = {"state": link.state, "merged_into": voice.merged_into}
    face = _person(s, link.face_person_id)
    c = Correction(id=new_id("cor"), kind="link_reject", person_id=face.id, actor=actor, payload={})
    s.add(c)
    if link.state in ("linked", "confirmed"):
        s.execute(
            update(Observation)
            .where(Observation.id.in_(moved), Observation.person_id == face.id)
            .values(person_id=voice.id, pinned=False, assigned_by="user")
        )
        voice.merged_into = None
        for oid in moved:
            s.add(CannotLink(observation_id=oid, person_id=face.id, correction_id=c.id))
    link.state, link.decided_by, link.updated_at = "rejected", actor, utcnow()
    s.flush()
    c.payload = {
        "before": before,
        "after": _snapshot(s, moved),
        "link_id": link.id,
        "link_before": state,
    }
    return c


def undo(s: Session, actor: str, correction_id: str) -> dict[str, Any]:
    """Put back what one correction changed; returns what was restored and what was not."""
    c = s.get(Correction, correction_id)
    if c is None:
        raise NotFound(f"correction {correction_id} not found")
    if c.undone_at is not None:
        raise Conflict(f"correction {correction_id} was already undone")
    p = c.payload
    after = {a["id"]: a for a in p.get("after", [])}
    current = {a["id"]: a for a in _snapshot(s, list(after))}
    restored, skipped = [], []
    for b in p.get("before", []):
        now, then = current.get(b["id"]), after.get(b["id"])
        if now is None or then is None:
            continue  # the observation is gone (its media re-analysed or erased)
        if (now["person_id"], now["pinned"]) != (then["person_id"], then["pinned"]):
            skipped.append(b["id"])
            continue
        if b["person_id"] is not None and s.get(Person, b["person_id"]) is None:
            skipped.append(b["id"])
            continue
        s.execute(
            update(Observation)
            .where(Observation.id == b["id"])
            .values(person_id=b["person_id"], pinned=b["pinned"], assigned_by=b["assigned_by"])
        )
        restored.append(b["id"])
    s.execute(delete(CannotLink).where(CannotLink.correction_id == c.id))
    for prev in p.get("persons", []):
        person = s.get(Person, prev["id"])
        if person is not None:
            person.merged_into, person.updated_at = prev["merged_into"], utcnow()
    if c.kind == "merge" and c.person_id and "target_name" in p:
        target = s.get(Person, c.person_id)
        if target is not None:
            target.name = p["target_name"]
    if c.kind == "rename" and c.person_id:
        person = s.get(Person, c.person_id)
        if person is not None:
            person.name = p.get("old_name")
    if "link_id" in p:
        link = s.get(PersonLink, p["link_id"])
        if link is not None:
            link.state = p["link_before"]["state"]
            link.updated_at = utcnow()
            voice = s.get(Person, link.voice_person_id)
            if voice is not None:
                voice.merged_into = p["link_before"]["merged_into"]
    c.undone_at, c.undone_by = utcnow(), actor
    s.flush()
    created = p.get("created")
    if created:
        left = s.execute(select(Observation.id).where(Observation.person_id == created)).first()
        if left is None:
            s.execute(delete(Person).where(Person.id == created))
    return {"correction": c.id, "restored": restored, "skipped": skipped}
