"""The dossier's building blocks: facts and citations, span arithmetic, name resolution.

Kept apart from the builder (:mod:`aima.identity.dossier`) so the builder reads as the
list of sections it produces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.analyzers._tracking import iou
from aima.core.errors import NotFound
from aima.identity.names import short_label
from aima.results import EmotionResult
from aima.results.vision import EmotionDetection, FaceDetection
from aima.store.models import Observation, Person, TextSegment

SCHEMA = "aima.dossier/1"
SECTIONS = (
    "appearances",
    "representative_faces",
    "voice_samples",
    "emotions",
    "said",
    "text_seen",
    "flags",
    "appears_with",
    "speaks_with",
    "voice_links",
)
# Analyzers whose accepted result the dossier reads directly (others come via rows).
_ANALYZERS = ("faces", "emotion", "speakers", "nsfw")
_OBS_ANALYZER = {"face": "faces", "voice": "speakers"}  # where each observation kind comes from
OCR_WINDOW_S = 1.0  # OCR text this close to an on-screen span counts as "seen near them"
T_EPS = 1e-3  # keyframe times of two analyzers of one job agree to this

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a fact comes from: one result row of one media, over a time range."""

    media_id: str
    media_name: str
    start: float
    end: float
    analyzer: str
    result_id: str
    confidence: float | None
    observation_id: int | None = None


@dataclass(slots=True)
class Fact:
    """One statement about the person with the evidence for it."""

    id: str
    kind: str
    statement: str
    data: dict[str, Any]
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DossierLimits:
    """How much of each long list a dossier shows (the rest is counted in ``notes``)."""

    faces: int = 4
    voice_samples: int = 3
    said: int = 50
    text_seen: int = 50
    citations: int = 5


# --- small interval helpers -----------------------------------------------------------------


def _spans(obs: Observation) -> list[Span]:
    raw = obs.spans or [[obs.start, obs.end]]
    return [(float(a), float(b)) for a, b in raw]


def _union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, merged intervals (touching ones merge; zero-length ones are kept)."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _length(spans: Iterable[Span]) -> float:
    return sum(b - a for a, b in spans)


def _intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """Closed-interval intersections, so two people in one photo (all spans [0, 0]) meet."""
    return [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if x0 <= y1 and y0 <= x1]


def _r(x: float) -> float:
    return round(x, 3)


def timestamp(t: float) -> str:
    """``HH:MM:SS.s`` (tenths), as citations print times."""
    tenths = round(t * 10)
    return f"{tenths // 36000:02d}:{tenths // 600 % 60:02d}:{tenths % 600 / 10:04.1f}"


def time_range(start: float, end: float) -> str:
    return timestamp(start) if abs(end - start) < 0.05 else f"{timestamp(start)}–{timestamp(end)}"


def _track_id(obs: Observation) -> int | None:
    kind, _, key = obs.ref.partition(":")
    return int(key) if kind == "track" and key.lstrip("-").isdigit() else None


def _speaker_id(obs: Observation) -> str | None:
    kind, _, key = obs.ref.partition(":")
    return key if kind == "speaker" else None


# --- loading ----------------------------------------------------------------------------------


def _live_person(session: Session, person_id: str) -> Person:
    """The person an id stands for now, following merges (cycles stop where they repeat)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(
            f"person {person_id!r} does not exist; list persons to find its id",
            details={"person_id": person_id},
        )
    seen = {person.id}
    while person.merged_into and person.merged_into not in seen:
        target = session.get(Person, person.merged_into)
        if target is None:
            break
        seen.add(target.id)
        person = target
    return person


def _merged_ids(session: Session, live_id: str) -> list[str]:
    """Every person merged (directly or through a chain) into ``live_id``."""
    found: set[str] = set()
    frontier = {live_id}
    while frontier:
        rows = session.execute(select(Person.id).where(Person.merged_into.in_(frontier))).scalars()
        frontier = {r for r in rows if r not in found and r != live_id}
        found |= frontier
    return sorted(found)


class _Resolver:
    """Maps any person id to its live person (one query per merge depth, cached)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.persons: dict[str, Person] = {}

    def load(self, ids: Iterable[str]) -> None:
        tried: set[str] = set()
        todo = {i for i in ids if i not in self.persons}
        while todo:
            tried |= todo
            for p in self.session.execute(select(Person).where(Person.id.in_(todo))).scalars():
                self.persons[p.id] = p
            todo = {
                p.merged_into
                for p in self.persons.values()
                if p.merged_into and p.merged_into not in self.persons
            } - tried

    def live(self, person_id: str) -> str:
        seen = {person_id}
        current = self.persons.get(person_id)
        while current is not None and current.merged_into and current.merged_into not in seen:
            seen.add(current.merged_into)
            nxt = self.persons.get(current.merged_into)
            if nxt is None:
                break
            current = nxt
        return current.id if current is not None else person_id

    def name(self, person_id: str) -> str | None:
        p = self.persons.get(person_id)
        return p.name if p is not None else None

    def label(self, person_id: str) -> str:
        return self.name(person_id) or short_label(person_id)


# --- the builder ------------------------------------------------------------------------------


def _text(seg: TextSegment) -> str:
    return " ".join(seg.text.split())


def _segment_data(seg: TextSegment) -> dict[str, Any]:
    return {
        "media_id": seg.media_id,
        "text": _text(seg),
        "speaker": seg.speaker,
        "language": seg.language,
        "start": _r(seg.start),
        "end": _r(seg.end),
    }


def _join_emotions(
    emotion: EmotionResult, faces: list[FaceDetection]
) -> dict[int, list[EmotionDetection]]:
    """Emotion detections per faces-result index: same keyframe (``T_EPS``), then the best
    overlapping box (IoU > 0.5), else the same ``face_index`` on that keyframe."""
    by_ms: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(faces):
        by_ms[round(f.t * 1000)].append(i)
    joined: dict[int, list[EmotionDetection]] = defaultdict(list)
    for e in emotion.detections:
        ms = round(e.t * 1000)
        same_t = [
            i
            for k in (ms - 1, ms, ms + 1)
            for i in by_ms.get(k, [])
            if abs(faces[i].t - e.t) < T_EPS
        ]
        scored = [(iou(e.box, faces[i].box), -i) for i in same_t if e.box and faces[i].box]
        best_iou, neg_i = max(scored, default=(0.0, 0))
        if best_iou > 0.5:
            joined[-neg_i].append(e)
            continue
        hit = next((i for i in same_t if faces[i].face_index == e.face_index), None)
        if hit is not None:
            joined[hit].append(e)
    return joined
