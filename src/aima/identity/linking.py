"""One person for face and voice: active-speaker co-occurrence across media.

For a voice identity V (a person with voice observations and no face of its own) and
a face person F, *coverage* is the share of V's speaking time during which a face
track of F is on screen, summed over every media with a picture where V speaks
(audio-only media cannot show a face, so they are no evidence either way). A face
track is on screen for its real presence (first keyframe to the keyframe after its
last, see ``observations``), not only at the instants it was detected: with
near-duplicate keyframes skipped, a static shot has one keyframe, and detection
instants alone covered almost none of the speech over it. The evidence grows
with the number of media where they co-occur: ``confidence = coverage * (1 - 0.5**m)``
(one media caps it at half the coverage: two people on screen while one talks is
common; the same pairing again in other media is what identifies the speaker).

V is linked to its best F automatically when ``m >= link_min_media``, ``confidence >=
link_min_confidence`` and the runner-up F is clearly behind (``MARGIN``); the voice
person is then merged into F (reversible: rejecting the link moves the voice back and
adds cannot-links). Weaker pairings are kept as ``suggested`` links for a user to
confirm or reject; rejected pairs are never suggested again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.ids import new_id
from aima.core.settings import IdentitySettings
from aima.store.models import Media, Observation, Person, PersonLink

MARGIN = 0.15  # runner-up must be this much less confident for an automatic link
SUGGEST_MIN = 0.25  # weaker pairings are not worth showing


def overlap(a: list[list[float]], b: list[list[float]]) -> float:
    """Seconds during which two sets of [start, end] spans overlap."""
    total = 0.0
    for s1, e1 in a:
        for s2, e2 in b:
            total += max(0.0, min(e1, e2) - max(s1, s2))
    return total


def evidence(s: Session) -> dict[str, Any]:
    """Per voice person: speaking seconds, and per face person the overlap and media."""
    rows = s.execute(
        select(
            Observation.id,
            Observation.kind,
            Observation.media_id,
            Observation.person_id,
            Observation.spans,
            Observation.duration_s,
        ).where(
            Observation.person_id.is_not(None),
            # only media where someone speaks can hold evidence
            Observation.media_id.in_(
                select(Observation.media_id).where(Observation.kind == "voice")
            ),
        )
    ).all()
    faces: dict[str, list[tuple[str, list[list[float]]]]] = defaultdict(list)
    voices: dict[str, list[tuple[str, int, list[list[float]], float]]] = defaultdict(list)
    # a person with a face anywhere (photos included) is not a voice-only identity
    persons_with_face = {
        pid
        for pid in s.execute(
            select(Observation.person_id).where(Observation.kind == "face").distinct()
        ).scalars()
        if pid is not None
    }
    for oid, kind, media_id, pid, spans, dur in rows:
        if pid is None:  # filtered by the query; keeps the types honest
            continue
        if kind == "face":
            faces[media_id].append((pid, spans))
        else:
            voices[media_id].append((pid, oid, spans, dur))
    # Only media with a picture can show who speaks: audio-only speech is no evidence
    # against a face (it would cap a voice heard on the radio too at a low coverage).
    pictured = set(
        s.execute(
            select(Media.id).where(Media.id.in_(list(voices)), Media.kind != "audio")
        ).scalars()
    )
    speaking: dict[str, float] = defaultdict(float)
    pairs: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    observations: dict[str, list[int]] = defaultdict(list)
    for media_id, vs in voices.items():
        for vp, oid, vspans, dur in vs:
            if vp in persons_with_face:
                continue  # already a face person (linked before, or corrected by a user)
            observations[vp].append(oid)
            if media_id not in pictured:
                continue
            speaking[vp] += dur
            for fp, fspans in faces.get(media_id, []):
                ov = overlap(vspans, fspans)
                if ov > 0:
                    pairs[(fp, vp)][media_id] = pairs[(fp, vp)].get(media_id, 0.0) + ov
    return {"speaking": speaking, "pairs": pairs, "observations": observations}


def update_links(s: Session, settings: IdentitySettings, *, actor: str) -> dict[str, int]:
    """Recompute link candidates; auto-link the clear ones. Returns counts by outcome."""
    ev = evidence(s)
    existing = {
        (lk.face_person_id, lk.voice_person_id): lk
        for lk in s.execute(select(PersonLink)).scalars()
    }
    decided_voices = {v for (_, v), lk in existing.items() if lk.state in ("linked", "confirmed")}
    by_voice: dict[str, list[tuple[float, float, int, str, dict[str, float]]]] = defaultdict(list)
    for (fp, vp), media in ev["pairs"].items():
        if fp == vp or vp in decided_voices:
            continue
        if (fp, vp) in existing and existing[(fp, vp)].state == "rejected":
            continue
        total = ev["speaking"].get(vp) or 0.0
        if total <= 0:
            continue
        coverage = min(1.0, sum(media.values()) / total)
        m = len(media)
        confidence = coverage * (1.0 - 0.5**m)
        by_voice[vp].append((confidence, coverage, m, fp, media))
    counts = {"linked": 0, "suggested": 0}
    for vp, cands in by_voice.items():
        cands.sort(key=lambda c: -c[0])
        conf, coverage, m, fp, media = cands[0]
        runner_up = cands[1][0] if len(cands) > 1 else 0.0
        if conf < SUGGEST_MIN:
            continue
        auto = (
            m >= settings.link_min_media
            and conf >= settings.link_min_confidence
            and conf - runner_up >= MARGIN
        )
        info = {
            "coverage": round(coverage, 4),
            "media": {k: round(v, 3) for k, v in sorted(media.items())},
            "runner_up": round(runner_up, 4),
            "observations": sorted(ev["observations"].get(vp, [])),
        }
        link = existing.get((fp, vp))
        if link is None:
            link = PersonLink(
                id=new_id("lnk"), face_person_id=fp, voice_person_id=vp, confidence=0.0, state=""
            )
            s.add(link)
        link.confidence = round(conf, 4)
        link.evidence = info
        link.updated_at = utcnow()
        if auto:
            link.state, link.decided_by = "linked", actor
            merge_voice(s, link)
            counts["linked"] += 1
        else:
            link.state = "suggested"
            counts["suggested"] += 1
    s.flush()
    return counts


def merge_voice(s: Session, link: PersonLink) -> list[int]:
    """Move the voice person's observations into the face person (one person, both)."""
    moved = list(
        s.execute(
            select(Observation.id).where(
                Observation.person_id == link.voice_person_id, Observation.kind == "voice"
            )
        ).scalars()
    )
    if moved:
        s.execute(
            update(Observation)
            .where(Observation.id.in_(moved))
            .values(person_id=link.face_person_id, assigned_by="link")
        )
    s.execute(
        update(Person)
        .where(Person.id == link.voice_person_id)
        .values(merged_into=link.face_person_id, updated_at=utcnow())
    )
    link.evidence = {**link.evidence, "moved": moved}
    return moved
