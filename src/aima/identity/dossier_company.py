"""Dossier sections on other people: who appears with them, who speaks with them, and
the face-voice links between their face or voice and another person's."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

from aima.identity.dossier_parts import (
    Citation,
    Span,
    _intersect,
    _length,
    _r,
    _spans,
    _union,
)
from aima.identity.dossier_rows import DossierRows
from aima.store.models import (
    Observation,
)

_Exchange = tuple[Observation, Span, Observation, Span]
SPEECH_GAP_S = 2.0  # a reply starting this soon after the other's turn ends is an exchange


def appears_with(dossier: DossierRows) -> None:
    """Other persons present at the same time (face or voice), per media."""
    company: dict[str, dict[str, Any]] = {}
    for m in dossier.media:
        me = _union(sp for o in dossier.mine(m.id) for sp in _spans(o))
        others: dict[str, list[Observation]] = defaultdict(list)
        for o in dossier.obs_by_media[m.id]:
            who = dossier.owner.get(o.id)
            if who and who != dossier.person.id:
                others[who].append(o)
        for who, obs in others.items():
            overlap = _intersect(me, _union(sp for o in obs for sp in _spans(o)))
            if not overlap:
                continue
            entry = company.setdefault(who, {"media": [], "overlap_s": 0.0, "cites": []})
            entry["media"].append(m.id)
            entry["overlap_s"] += _length(overlap)
            first = overlap[0]
            o = next(o for o in obs if _intersect([first], _spans(o)))
            entry["cites"].append(dossier.cite_obs(o, first))
    ranked = sorted(
        company.items(), key=lambda kv: (-len(kv[1]["media"]), -kv[1]["overlap_s"], kv[0])
    )
    for who, entry in ranked:
        n, secs = len(entry["media"]), _r(entry["overlap_s"])
        dossier.add(
            "appears_with",
            "appears_with",
            f"Appears with {dossier.resolver.label(who)} in {n} media "
            f"({secs:g} s at the same time).",
            {
                "person_id": who,
                "name": dossier.resolver.name(who),
                "media_count": n,
                "overlap_s": secs,
                "media_ids": entry["media"],
            },
            entry["cites"][: dossier.limits.citations],
        )


def speaks_with(dossier: DossierRows) -> None:
    """Conversations: this person's voice turns and another's alternating in one media,
    each change of speaker within ``SPEECH_GAP_S``; a media counts from two such
    exchanges on (a back-and-forth, not a single reply)."""
    talks: dict[str, dict[str, Any]] = {}
    for m in dossier.media:
        turns = sorted(
            (
                (sp, o, dossier.owner.get(o.id))
                for o in dossier.obs_by_media[m.id]
                if o.kind == "voice" and dossier.owner.get(o.id)
                for sp in _spans(o)
            ),
            key=lambda t: (t[0], t[1].id),
        )
        counts: dict[str, list[_Exchange]] = defaultdict(list)
        for (sp0, o0, who0), (sp1, o1, who1) in pairwise(turns):
            if who0 == who1 or dossier.person.id not in (who0, who1):
                continue
            if sp1[0] - sp0[1] <= SPEECH_GAP_S:
                other = str(who1 if who0 == dossier.person.id else who0)
                counts[other].append((o0, sp0, o1, sp1))
        for who, exchanges in counts.items():
            if len(exchanges) < 2:
                continue
            entry = talks.setdefault(who, {"media": [], "exchanges": 0, "cites": []})
            entry["media"].append(m.id)
            entry["exchanges"] += len(exchanges)
            o0, sp0, o1, sp1 = exchanges[0]
            entry["cites"] += [dossier.cite_turn(o0, sp0), dossier.cite_turn(o1, sp1)]
    ranked = sorted(
        talks.items(), key=lambda kv: (-len(kv[1]["media"]), -kv[1]["exchanges"], kv[0])
    )
    for who, entry in ranked:
        n, k = len(entry["media"]), entry["exchanges"]
        dossier.add(
            "speaks_with",
            "speaks_with",
            f"Speaks with {dossier.resolver.label(who)} in {n} media "
            f"({k} exchanges of turns, each within {SPEECH_GAP_S:g} s).",
            {
                "person_id": who,
                "name": dossier.resolver.name(who),
                "media_count": n,
                "exchanges": k,
                "media_ids": entry["media"],
            },
            entry["cites"][: 2 * dossier.limits.citations],
        )


def voice_links(dossier: DossierRows) -> None:
    """Face person <-> voice person links, cited by where face and voice co-occur."""
    for link in dossier.links:
        face_side = dossier.resolver.live(link.face_person_id)
        voice_side = {dossier.resolver.live(link.voice_person_id)}
        if link.state in ("linked", "confirmed"):
            voice_side.add(face_side)  # linked voices already carry the face person's id
        cites: list[Citation] = []
        for m in dossier.media:
            obs = dossier.obs_by_media[m.id]
            faces = [o for o in obs if o.kind == "face" and dossier.owner.get(o.id) == face_side]
            voices = [o for o in obs if o.kind == "voice" and dossier.owner.get(o.id) in voice_side]
            pair = next(
                (
                    (f, v, sp)
                    for f in faces
                    for v in voices
                    for sp in _intersect(_spans(f), _spans(v))
                ),
                None,
            )
            if pair is not None:
                f, v, sp = pair
                cites += [dossier.cite_obs(f, sp), dossier.cite_obs(v, sp)]
        mine_is_face = face_side == dossier.person.id
        other = link.voice_person_id if mine_is_face else link.face_person_id
        if not cites:
            dossier.notes.append(
                f"Face-voice link {link.id} ({link.state}) has no co-occurring face and "
                "voice left to cite; it is not listed."
            )
            continue
        mine, theirs = ("face", "voice") if mine_is_face else ("voice", "face")
        dossier.add(
            "voice_links",
            "voice_link",
            f"Face-voice link ({link.state}, confidence {link.confidence:.2f}) between "
            f"their {mine} and the {theirs} of {dossier.resolver.label(other)}.",
            {
                "link_id": link.id,
                "state": link.state,
                "confidence": link.confidence,
                "face_person_id": link.face_person_id,
                "voice_person_id": link.voice_person_id,
                "other_person_id": other,
                "other_live_id": dossier.resolver.live(other),
                "evidence": link.evidence,
            },
            cites[: 2 * dossier.limits.citations],
        )
