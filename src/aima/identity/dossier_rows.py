"""One person's rows, loaded once, and the helpers every dossier section uses.

The sections (:mod:`aima.identity.dossier_presence`, :mod:`~aima.identity.dossier_content`,
:mod:`~aima.identity.dossier_company`) read these rows and append their facts through
:meth:`DossierRows.add`, which numbers them ``F1``, ``F2``, ... in the order they come.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from aima.identity.dossier_parts import (
    _ANALYZERS,
    _OBS_ANALYZER,
    SECTIONS,
    Citation,
    DossierLimits,
    Fact,
    Span,
    _intersect,
    _length,
    _merged_ids,
    _r,
    _Resolver,
    _speaker_id,
    _track_id,
)
from aima.results import (
    AnalyzerResult,
    FacesResult,
    SpeakersResult,
    load_result,
)
from aima.results.vision import FaceDetection, FaceTrack
from aima.store.models import (
    AnalysisResult,
    Media,
    Observation,
    Person,
    PersonLink,
    TextSegment,
)

R = TypeVar("R", bound=AnalyzerResult)


class DossierRows:
    """Loads one person's rows once; each section function then appends its facts in order."""

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

    def track(self, o: Observation) -> tuple[FaceTrack, list[FaceDetection]] | None:
        """The faces-result track behind a face observation, with that result's faces."""
        r, k = self.by_id.get(o.result_id), _track_id(o)
        faces = self.typed(r, FacesResult) if r is not None else None
        if faces is None or k is None:
            return None
        for track in faces.tracks:
            if track.id == k:
                return track, faces.faces
        return None

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
