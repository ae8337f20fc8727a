"""The person dossier: everything the library knows about one person, every fact cited.

A dossier is a list of :class:`Fact` s, each one plain sentence plus the data behind
it and at least one :class:`Citation` (media, time range, analyzer, result row,
confidence). Sections (appearances, faces, voice, emotions, what they said, text
seen near them, flags, company, face-voice links) list fact ids, so a later LLM
summary can cite exactly the same ``F<n>`` ids a reviewer sees here. Ids are stable
within one dossier: sections are built in a fixed order, each sorted
deterministically (media by upload time then id, items by time).

Nothing is inferred beyond what the rows say: a missing analyzer becomes a note
("not analysed"), never an empty = negative finding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from itertools import pairwise
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from aima.core.clock import utcnow
from aima.identity.dossier_parts import (
    _ANALYZERS,
    _OBS_ANALYZER,
    OCR_WINDOW_S,
    SCHEMA,
    SECTIONS,
    Citation,
    DossierLimits,
    Fact,
    Span,
    _intersect,
    _join_emotions,
    _length,
    _live_person,
    _merged_ids,
    _r,
    _Resolver,
    _segment_data,
    _spans,
    _speaker_id,
    _text,
    _track_id,
    _union,
    time_range,
    timestamp,
)
from aima.results import (
    AnalyzerResult,
    EmotionResult,
    FacesResult,
    NsfwResult,
    SpeakersResult,
    load_result,
)
from aima.results.vision import EmotionDetection, FaceDetection, FaceTrack
from aima.store.models import (
    AnalysisResult,
    Media,
    Observation,
    Person,
    PersonLink,
    ReviewItem,
    TextSegment,
)

R = TypeVar("R", bound=AnalyzerResult)
RESTRAINT_NEAR_S = 2.0  # a confirmed restraint this close to their presence is theirs to cite
_Exchange = tuple[Observation, Span, Observation, Span]
SPEECH_GAP_S = 2.0  # a reply starting this soon after the other's turn ends is an exchange


class _Builder:
    """Loads one person's rows once; each section method then appends its facts in order."""

    def __init__(self, session: Session, person: Person, limits: DossierLimits) -> None:
        self.s = session
        self.person = person
        self.limits = limits
        self.merged = _merged_ids(session, person.id)
        self.ids = {person.id, *self.merged}
        self.facts: list[Fact] = []
        self.sections: dict[str, list[str]] = {name: [] for name in SECTIONS}
        self.notes: list[str] = []
        self._load()

    def _load(self) -> None:
        s = self.s
        media_ids = set(
            s.execute(
                select(Observation.media_id).where(Observation.person_id.in_(self.ids)).distinct()
            ).scalars()
        )
        self.media: list[Media] = list(
            s.execute(
                select(Media).where(Media.id.in_(media_ids)).order_by(Media.created_at, Media.id)
            ).scalars()
        )
        self.media_by_id = {m.id: m for m in self.media}
        # every observation in these media: ours, the company's, the other side of a link
        all_obs = list(
            s.execute(
                select(Observation)
                .options(defer(Observation.embedding))
                .where(Observation.media_id.in_(media_ids))
                .order_by(Observation.id)
            ).scalars()
        )
        self.resolver = _Resolver(s)
        self.links = list(
            s.execute(
                select(PersonLink)
                .where(
                    or_(
                        PersonLink.face_person_id.in_(self.ids),
                        PersonLink.voice_person_id.in_(self.ids),
                    )
                )
                .order_by(PersonLink.id)
            ).scalars()
        )
        self.resolver.load(
            {o.person_id for o in all_obs if o.person_id}
            | {p for link in self.links for p in (link.face_person_id, link.voice_person_id)}
        )
        self.obs_by_media: dict[str, list[Observation]] = defaultdict(list)
        for o in all_obs:
            self.obs_by_media[o.media_id].append(o)
        self.owner = {o.id: self.resolver.live(o.person_id) for o in all_obs if o.person_id}
        self.order = {m.id: i for i, m in enumerate(self.media)}
        self._mine: dict[str, list[Observation]] = defaultdict(list)
        for o in all_obs:
            if self.owner.get(o.id) == self.person.id:
                self._mine[o.media_id].append(o)

        # accepted results, newest per (media, analyzer), each media's loaded once
        self.results: dict[str, dict[str, AnalysisResult]] = defaultdict(dict)
        rows = s.execute(
            select(AnalysisResult)
            .where(
                AnalysisResult.media_id.in_(media_ids),
                AnalysisResult.accepted.is_(True),
                AnalysisResult.analyzer.in_(_ANALYZERS),
            )
            .order_by(AnalysisResult.created_at, AnalysisResult.id)
        ).scalars()
        self.by_id: dict[str, AnalysisResult] = {}
        self._typed: dict[str, AnalyzerResult] = {}
        for r in rows:
            self.results[r.media_id][r.analyzer] = r
            self.by_id[r.id] = r
        # their observations keep pointing at the result they came from, accepted or not
        missing = {o.result_id for obs in self._mine.values() for o in obs} - set(self.by_id)
        if missing:
            for r in s.execute(
                select(AnalysisResult).where(AnalysisResult.id.in_(missing))
            ).scalars():
                self.by_id[r.id] = r
        self.segments: dict[str, list[TextSegment]] = defaultdict(list)
        for seg in s.execute(
            select(TextSegment)
            .where(TextSegment.media_id.in_(media_ids))
            .order_by(TextSegment.start, TextSegment.id)
        ).scalars():
            self.segments[seg.media_id].append(seg)

    # helpers ------------------------------------------------------------------------------

    def mine(self, media_id: str, kind: str | None = None) -> list[Observation]:
        return [o for o in self._mine.get(media_id, []) if kind is None or o.kind == kind]

    def cite(
        self,
        media_id: str,
        start: float,
        end: float,
        analyzer: str,
        result_id: str,
        confidence: float | None,
        observation_id: int | None = None,
    ) -> Citation:
        return Citation(
            media_id=media_id,
            media_name=self.media_by_id[media_id].original_name,
            start=_r(start),
            end=_r(end),
            analyzer=analyzer,
            result_id=result_id,
            confidence=None if confidence is None else round(float(confidence), 4),
            observation_id=observation_id,
        )

    def cite_obs(self, o: Observation, span: Span | None = None) -> Citation:
        start, end = span or (o.start, o.end)
        analyzer = _OBS_ANALYZER.get(o.kind, o.kind)
        return self.cite(o.media_id, start, end, analyzer, o.result_id, o.confidence, o.id)

    def cite_segment(self, seg: TextSegment, analyzer: str) -> Citation:
        return self.cite(seg.media_id, seg.start, seg.end, analyzer, seg.result_id, seg.confidence)

    def typed(self, row: AnalysisResult, kind: type[R]) -> R | None:
        """A stored result read through its model (once per dossier)."""
        if row.id not in self._typed:
            self._typed[row.id] = load_result(row.analyzer, row.data)
        result = self._typed[row.id]
        return result if isinstance(result, kind) else None

    def cite_turn(self, o: Observation, span: Span) -> Citation:
        """A voice observation over ``span``, with the confidence of the turn covering it most."""
        r, sid = self.by_id.get(o.result_id), _speaker_id(o)
        conf, best = o.confidence, 0.0
        speakers = self.typed(r, SpeakersResult) if r is not None else None
        for turn in speakers.turns if speakers is not None else []:
            hit = _intersect([span], [(turn.start, turn.end)])
            if turn.speaker == sid and hit and _length(hit) >= best:
                conf, best = turn.confidence, _length(hit)
        return self.cite(o.media_id, span[0], span[1], "speakers", o.result_id, conf, o.id)

    def add(
        self, section: str, kind: str, statement: str, data: dict[str, Any], cites: list[Citation]
    ) -> None:
        """Append a fact; one without a citation with a confidence is a bug, not output."""
        if not any(c.confidence is not None for c in cites):
            raise AssertionError(f"fact {kind!r} has no citation with a confidence")
        fact = Fact(f"F{len(self.facts) + 1}", kind, statement, data, cites)
        self.facts.append(fact)
        self.sections[section].append(fact.id)

    def name(self, media_id: str) -> str:
        return self.media_by_id[media_id].original_name

    # sections -----------------------------------------------------------------------------

    def appearances(self) -> dict[str, Any]:
        totals = {"on_screen_s": 0.0, "speaking_s": 0.0}
        first: dict[str, Any] | None = None
        last: dict[str, Any] | None = None
        for m in self.media:
            faces, voices = self.mine(m.id, "face"), self.mine(m.id, "voice")
            seen = _union(sp for o in faces for sp in _spans(o))
            heard = _union(sp for o in voices for sp in _spans(o))
            present = _union([*seen, *heard])
            if not present:
                continue
            on_screen, speaking = _r(_length(seen)), _r(_length(heard))
            totals["on_screen_s"] += on_screen
            totals["speaking_s"] += speaking
            t0, t1 = present[0][0], present[-1][1]
            if first is None:
                first = {"media_id": m.id, "media_name": m.original_name, "t": _r(t0)}
            last = {"media_id": m.id, "media_name": m.original_name, "t": _r(t1)}
            where = "" if m.kind == "image" else f" from {timestamp(t0)} to {timestamp(t1)}"
            statement = (
                f"Appears in {m.original_name}{where}: {on_screen:g} s on screen, "
                f"{speaking:g} s speaking."
            )
            data = {
                "media_id": m.id,
                "media_name": m.original_name,
                "media_kind": m.kind,
                "first_seen": _r(t0),
                "last_seen": _r(t1),
                "on_screen_s": on_screen,
                "speaking_s": speaking,
                "on_screen_spans": [[_r(a), _r(b)] for a, b in seen],
                "speaking_spans": [[_r(a), _r(b)] for a, b in heard],
                "face_tracks": len(faces),
                "speakers": sorted({_speaker_id(o) or o.ref for o in voices}),
            }
            self.add(
                "appearances",
                "appearance",
                statement,
                data,
                [self.cite_obs(o) for o in [*faces, *voices]],
            )
        return {
            "media_count": len(self.sections["appearances"]),
            "first_seen": first,
            "last_seen": last,
            "on_screen_s": _r(totals["on_screen_s"]),
            "speaking_s": _r(totals["speaking_s"]),
            "face_observations": sum(len(self.mine(m.id, "face")) for m in self.media),
            "voice_observations": sum(len(self.mine(m.id, "voice")) for m in self.media),
        }

    def _track(self, o: Observation) -> tuple[FaceTrack, list[FaceDetection]] | None:
        """The faces-result track behind a face observation, with that result's faces."""
        r, k = self.by_id.get(o.result_id), _track_id(o)
        faces = self.typed(r, FacesResult) if r is not None else None
        if faces is None or k is None:
            return None
        for track in faces.tracks:
            if track.id == k:
                return track, faces.faces
        return None

    def representative_faces(self) -> None:
        """Best crops, one per media first (variety), then the next best overall."""
        faces = [o for m in self.media for o in self.mine(m.id, "face") if o.crop]
        ranked = sorted(faces, key=lambda o: (not o.usable, -o.confidence, -o.count, o.id))
        picked: list[Observation] = []
        for o in ranked:
            if o.media_id not in {p.media_id for p in picked}:
                picked.append(o)
        picked += [o for o in ranked if o not in picked]
        for o in picked[: self.limits.faces]:
            t, conf = o.start, o.confidence
            found = self._track(o)
            if found is not None:
                track, detections = found
                if 0 <= track.best < len(detections):
                    t = detections[track.best].t
                    conf = detections[track.best].confidence
            self.add(
                "representative_faces",
                "face_crop",
                f"Face crop from {self.name(o.media_id)} at {timestamp(t)} "
                f"(detection confidence {conf:.2f}).",
                {"crop": o.crop, "media_id": o.media_id, "t": _r(t), "usable": o.usable},
                [self.cite(o.media_id, t, t, "faces", o.result_id, conf, o.id)],
            )

    def voice_samples(self) -> None:
        """The longest turns of this person's voice, across media."""
        turns = [(sp, o) for m in self.media for o in self.mine(m.id, "voice") for sp in _spans(o)]
        turns.sort(key=lambda x: (x[0][0] - x[0][1], self.order[x[1].media_id], x[0][0]))
        for (a, b), o in turns[: self.limits.voice_samples]:
            self.add(
                "voice_samples",
                "voice_sample",
                f"Voice sample in {self.name(o.media_id)} {time_range(a, b)} ({b - a:.1f} s).",
                {"media_id": o.media_id, "start": _r(a), "end": _r(b), "duration_s": _r(b - a)},
                [self.cite_turn(o, (a, b))],
            )

    def emotions(self) -> None:
        """Emotion detections joined to this person's face tracks, pooled per detection."""
        sums: dict[str, float] = defaultdict(float)
        n = 0
        cites: list[Citation] = []
        missing: list[str] = []
        for m in self.media:
            faces = self.mine(m.id, "face")
            if not faces:
                continue
            emo_row = self.results[m.id].get("emotion")
            emotion = self.typed(emo_row, EmotionResult) if emo_row is not None else None
            if emo_row is None or emotion is None:
                missing.append(m.original_name)
                continue
            joined: dict[str, dict[int, list[EmotionDetection]]] = {}
            for o in faces:
                found = self._track(o)
                if found is None:
                    continue
                track, detections = found
                if o.result_id not in joined:
                    joined[o.result_id] = _join_emotions(emotion, detections)
                by_face = joined[o.result_id]
                matched = [e for i in track.detections for e in by_face.get(i, [])]
                matched.sort(key=lambda e: e.t)
                if not matched:
                    continue
                for e in matched:
                    n += 1
                    for label, p in e.emotions.items():
                        sums[label] += p
                times = [e.t for e in matched]
                conf = sum(e.confidence for e in matched) / len(matched)
                cites.append(
                    self.cite(m.id, min(times), max(times), "emotion", emo_row.id, conf, o.id)
                )
        if missing:
            self.notes.append(f"Emotion not analysed for: {', '.join(missing)}.")
        if not n:
            return
        distribution = {k: round(v / n, 4) for k, v in sorted(sums.items())}
        top = max(distribution, key=lambda k: (distribution[k], k))
        media = len({c.media_id for c in cites})
        self.add(
            "emotions",
            "emotion_distribution",
            f"Across {n} face detections in {media} media the dominant expression is {top} "
            f"(mean probability {distribution[top]:.2f}).",
            {"detections": n, "distribution": distribution, "top": top},
            cites,
        )

    def said(self) -> None:
        """Transcript segments attributed to one of this person's speakers in that media."""
        rows: list[tuple[TextSegment, Observation]] = []
        for m in self.media:
            by_sid = {_speaker_id(o): o for o in self.mine(m.id, "voice")}
            rows += [
                (seg, by_sid[seg.speaker])
                for seg in self.segments[m.id]
                if seg.source == "transcript" and seg.speaker is not None and seg.speaker in by_sid
            ]
        if len(rows) > self.limits.said:
            self.notes.append(f"Showing {self.limits.said} of {len(rows)} transcript segments.")
        for seg, o in rows[: self.limits.said]:
            whole = (seg.start, seg.end)
            turn = max(_intersect([whole], _spans(o)) or [whole], key=lambda sp: sp[1] - sp[0])
            self.add(
                "said",
                "said",
                f"Said in {self.name(seg.media_id)} at {timestamp(seg.start)}: “{_text(seg)}”",
                _segment_data(seg),
                [self.cite_segment(seg, "transcribe"), self.cite_turn(o, turn)],
            )

    def text_seen(self) -> None:
        """OCR lines on screen within ``OCR_WINDOW_S`` of one of this person's face spans."""
        rows: list[tuple[TextSegment, Observation, Span]] = []
        for m in self.media:
            faces = self.mine(m.id, "face")
            for seg in self.segments[m.id]:
                near = (seg.start - OCR_WINDOW_S, seg.end + OCR_WINDOW_S)
                hit = next(((o, sp) for o in faces for sp in _intersect([near], _spans(o))), None)
                if seg.source == "ocr" and hit is not None:
                    rows.append((seg, *hit))
        if len(rows) > self.limits.text_seen:
            self.notes.append(f"Showing {self.limits.text_seen} of {len(rows)} OCR lines.")
        for seg, o, sp in rows[: self.limits.text_seen]:
            self.add(
                "text_seen",
                "text_seen",
                f"On-screen text near them in {self.name(seg.media_id)} at "
                f"{timestamp(seg.start)}: “{_text(seg)}”",
                _segment_data(seg),
                [self.cite_segment(seg, "ocr"), self.cite_obs(o, sp)],
            )

    def flags(self) -> None:
        missing: list[str] = []
        for m in self.media:
            faces = self.mine(m.id, "face")
            if not faces:
                continue
            row = self.results[m.id].get("nsfw")
            nsfw = self.typed(row, NsfwResult) if row is not None else None
            if row is None or nsfw is None:
                missing.append(m.original_name)
                continue
            for span in nsfw.spans:
                a, b = span.start, span.end
                hit = next(((o, sp) for o in faces for sp in _intersect([(a, b)], _spans(o))), None)
                if hit is None:
                    continue
                labels = list(span.labels)
                score = span.score
                what = f" ({', '.join(labels)})" if labels else ""
                self.add(
                    "flags",
                    "nsfw_flag",
                    f"Explicit content flagged{what} in {m.original_name} {time_range(a, b)} "
                    f"while they are on screen (score {score:.2f}).",
                    {
                        "media_id": m.id,
                        "start": _r(a),
                        "end": _r(b),
                        "score": score,
                        "labels": labels,
                    },
                    [self.cite(m.id, a, b, "nsfw", row.id, score), self.cite_obs(hit[0], hit[1])],
                )
        if missing:
            self.notes.append(f"Explicit content not analysed for: {', '.join(missing)}.")

    def restraints(self) -> None:
        """Restraints an analyst **confirmed** (review queue) in media where this person is
        on screen within ``RESTRAINT_NEAR_S`` of the flagged keyframe. Unreviewed and
        dismissed flags never appear here."""
        media_ids = [m.id for m in self.media]
        items = self.s.execute(
            select(ReviewItem)
            .where(
                ReviewItem.media_id.in_(media_ids),
                ReviewItem.kind == "restraint",
                ReviewItem.state == "confirmed",
            )
            .order_by(ReviewItem.t, ReviewItem.id)
        ).scalars()
        for item in sorted(items, key=lambda i: (self.order[i.media_id], i.t, i.id)):
            near = [(item.t - RESTRAINT_NEAR_S, item.t + RESTRAINT_NEAR_S)]
            hit = next(
                ((o, sp) for o in self.mine(item.media_id) for sp in _intersect(near, _spans(o))),
                None,
            )
            if hit is None:
                continue
            m = self.media_by_id[item.media_id]
            self.add(
                "flags",
                "restraint",
                f"Restraint ({item.label}) confirmed by review in {m.original_name} at "
                f"{timestamp(item.t)} while they are on screen.",
                {
                    "media_id": m.id,
                    "t": _r(item.t),
                    "label": item.label,
                    "review_item_id": item.id,
                    "decided_by": item.decided_by,
                    "note": item.note,
                    "evidence": item.evidence,
                    "box": item.box,
                },
                [
                    self.cite(m.id, item.t, item.t, "scenes", item.result_id, item.confidence),
                    self.cite_obs(hit[0], hit[1]),
                ],
            )
        self.notes.append(
            "Restraints are listed only once an analyst confirmed them in the review queue; "
            "unreviewed flags and media without the scenes analyzer are not negative findings."
        )

    def appears_with(self) -> None:
        """Other persons present at the same time (face or voice), per media."""
        company: dict[str, dict[str, Any]] = {}
        for m in self.media:
            me = _union(sp for o in self.mine(m.id) for sp in _spans(o))
            others: dict[str, list[Observation]] = defaultdict(list)
            for o in self.obs_by_media[m.id]:
                who = self.owner.get(o.id)
                if who and who != self.person.id:
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
                entry["cites"].append(self.cite_obs(o, first))
        ranked = sorted(
            company.items(), key=lambda kv: (-len(kv[1]["media"]), -kv[1]["overlap_s"], kv[0])
        )
        for who, entry in ranked:
            n, secs = len(entry["media"]), _r(entry["overlap_s"])
            self.add(
                "appears_with",
                "appears_with",
                f"Appears with {self.resolver.label(who)} in {n} media "
                f"({secs:g} s at the same time).",
                {
                    "person_id": who,
                    "name": self.resolver.name(who),
                    "media_count": n,
                    "overlap_s": secs,
                    "media_ids": entry["media"],
                },
                entry["cites"][: self.limits.citations],
            )

    def speaks_with(self) -> None:
        """Conversations: this person's voice turns and another's alternating in one media,
        each change of speaker within ``SPEECH_GAP_S``; a media counts from two such
        exchanges on (a back-and-forth, not a single reply)."""
        talks: dict[str, dict[str, Any]] = {}
        for m in self.media:
            turns = sorted(
                (
                    (sp, o, self.owner.get(o.id))
                    for o in self.obs_by_media[m.id]
                    if o.kind == "voice" and self.owner.get(o.id)
                    for sp in _spans(o)
                ),
                key=lambda t: (t[0], t[1].id),
            )
            counts: dict[str, list[_Exchange]] = defaultdict(list)
            for (sp0, o0, who0), (sp1, o1, who1) in pairwise(turns):
                if who0 == who1 or self.person.id not in (who0, who1):
                    continue
                if sp1[0] - sp0[1] <= SPEECH_GAP_S:
                    other = str(who1 if who0 == self.person.id else who0)
                    counts[other].append((o0, sp0, o1, sp1))
            for who, exchanges in counts.items():
                if len(exchanges) < 2:
                    continue
                entry = talks.setdefault(who, {"media": [], "exchanges": 0, "cites": []})
                entry["media"].append(m.id)
                entry["exchanges"] += len(exchanges)
                o0, sp0, o1, sp1 = exchanges[0]
                entry["cites"] += [self.cite_turn(o0, sp0), self.cite_turn(o1, sp1)]
        ranked = sorted(
            talks.items(), key=lambda kv: (-len(kv[1]["media"]), -kv[1]["exchanges"], kv[0])
        )
        for who, entry in ranked:
            n, k = len(entry["media"]), entry["exchanges"]
            self.add(
                "speaks_with",
                "speaks_with",
                f"Speaks with {self.resolver.label(who)} in {n} media "
                f"({k} exchanges of turns, each within {SPEECH_GAP_S:g} s).",
                {
                    "person_id": who,
                    "name": self.resolver.name(who),
                    "media_count": n,
                    "exchanges": k,
                    "media_ids": entry["media"],
                },
                entry["cites"][: 2 * self.limits.citations],
            )

    def sources(self) -> list[dict[str, Any]]:
        """Each media with the result rows the facts cite in it."""
        cited: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for f in self.facts:
            for c in f.citations:
                cited[c.media_id].add((c.analyzer, c.result_id))
        return [
            {
                "media_id": m.id,
                "media_name": m.original_name,
                "kind": m.kind,
                "results": [{"analyzer": a, "result_id": r} for a, r in sorted(cited[m.id])],
            }
            for m in self.media
        ]

    def voice_links(self) -> None:
        """Face person <-> voice person links, cited by where face and voice co-occur."""
        for link in self.links:
            face_side = self.resolver.live(link.face_person_id)
            voice_side = {self.resolver.live(link.voice_person_id)}
            if link.state in ("linked", "confirmed"):
                voice_side.add(face_side)  # linked voices already carry the face person's id
            cites: list[Citation] = []
            for m in self.media:
                obs = self.obs_by_media[m.id]
                faces = [o for o in obs if o.kind == "face" and self.owner.get(o.id) == face_side]
                voices = [
                    o for o in obs if o.kind == "voice" and self.owner.get(o.id) in voice_side
                ]
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
                    cites += [self.cite_obs(f, sp), self.cite_obs(v, sp)]
            mine_is_face = face_side == self.person.id
            other = link.voice_person_id if mine_is_face else link.face_person_id
            if not cites:
                self.notes.append(
                    f"Face-voice link {link.id} ({link.state}) has no co-occurring face and "
                    "voice left to cite; it is not listed."
                )
                continue
            mine, theirs = ("face", "voice") if mine_is_face else ("voice", "face")
            self.add(
                "voice_links",
                "voice_link",
                f"Face-voice link ({link.state}, confidence {link.confidence:.2f}) between "
                f"their {mine} and the {theirs} of {self.resolver.label(other)}.",
                {
                    "link_id": link.id,
                    "state": link.state,
                    "confidence": link.confidence,
                    "face_person_id": link.face_person_id,
                    "voice_person_id": link.voice_person_id,
                    "other_person_id": other,
                    "other_live_id": self.resolver.live(other),
                    "evidence": link.evidence,
                },
                cites[: 2 * self.limits.citations],
            )


def build_dossier(
    session: Session,
    person_id: str,
    *,
    now: datetime | None = None,
    limits: DossierLimits | None = None,
) -> dict[str, Any]:
    """Everything known about a person (merged ids followed), as JSON-ready facts with citations.

    Raises :class:`NotFound` for an unknown id.
    """
    person = _live_person(session, person_id)
    b = _Builder(session, person, limits or DossierLimits())
    summary = b.appearances()
    b.representative_faces()
    b.voice_samples()
    b.emotions()
    b.said()
    b.text_seen()
    b.flags()
    b.restraints()
    b.appears_with()
    b.speaks_with()
    b.voice_links()
    return {
        "schema": SCHEMA,
        "generated_at": (now or utcnow()).isoformat(),
        "person": {"id": person.id, "name": person.name, "merged_ids": b.merged},
        "summary": summary,
        "sections": b.sections,
        "facts": [asdict(f) for f in b.facts],
        "notes": b.notes,
        "sources": b.sources(),
    }
