"""Who appears with whom: one person's co-appearances with everyone else in the library.

For a person P and every other (live) person Q that has an observation in a media where P
has one: the number of such media, the seconds both are on screen at the same time (the
intersection of their face observations' spans), and the media where both speak (both have
voice observations there: "speaking to each other"). Photos have zero-length spans, so
sharing a photo counts as a shared media with 0 s together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from aima.core.errors import NotFound
from aima.identity.engine import live_person
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import Observation, Person

Span = tuple[float, float]


def _spans(o: Observation) -> list[Span]:
    raw = o.spans or [[o.start, o.end]]
    return [(float(a), float(b)) for a, b in raw]


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, merged intervals (touching ones merge)."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def overlap_s(a: list[Span], b: list[Span]) -> float:
    """Total length of the intersection of two merged interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


class PeopleGraphService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def co_appearances(self, principal: Principal, person_id: str) -> dict[str, Any]:
        principal.require(Permission.PERSONS_READ)
        with self.db.session() as s:
            person = live_person(s, person_id)
            if person is None:
                raise NotFound(f"person {person_id} not found")
            mine = list(
                s.execute(select(Observation).where(Observation.person_id == person.id)).scalars()
            )
            media_ids = {o.media_id for o in mine}
            others = (
                list(
                    s.execute(
                        select(Observation).where(
                            Observation.media_id.in_(media_ids),
                            Observation.person_id.is_not(None),
                            Observation.person_id != person.id,
                        )
                    ).scalars()
                )
                if media_ids
                else []
            )
            names = dict(
                s.execute(
                    select(Person.id, Person.name).where(
                        Person.id.in_({o.person_id for o in others})
                    )
                ).all()
            )
        my_faces: dict[str, list[Span]] = defaultdict(list)
        my_voice: set[str] = set()
        for o in mine:
            if o.kind == "face":
                my_faces[o.media_id] += _spans(o)
            elif o.kind == "voice":
                my_voice.add(o.media_id)
        # other person -> media -> their face spans / whether they speak there
        faces: dict[str, dict[str, list[Span]]] = defaultdict(lambda: defaultdict(list))
        voices: dict[str, set[str]] = defaultdict(set)
        seen: dict[str, set[str]] = defaultdict(set)
        for o in others:
            who = str(o.person_id)
            seen[who].add(o.media_id)
            if o.kind == "face":
                faces[who][o.media_id] += _spans(o)
            elif o.kind == "voice":
                voices[who].add(o.media_id)
        items: list[dict[str, Any]] = []
        for who, media in seen.items():
            together = sum(
                overlap_s(union(my_faces.get(m, [])), union(faces[who].get(m, []))) for m in media
            )
            items.append(
                {
                    "person_id": who,
                    "name": names.get(who),
                    "media": len(media),
                    "media_ids": sorted(media),
                    "together_s": round(together, 3),
                    "conversations": len(voices[who] & my_voice),
                }
            )
        items.sort(key=lambda x: (-x["media"], -x["together_s"], x["person_id"]))
        return {"person_id": person.id, "name": person.name, "items": items}
