"""The facts a summary is written from, their hash, and the extractive summary.

Persons: the dossier's own facts (``F<n>``), so a summary sentence cites exactly the ids a
reviewer sees in the dossier. Media: facts derived from the fused timeline, numbered
``M<n>`` (a media summary never mixes with a person's ids, and an ``M`` id in a person
summary is rejected as unknown). Media facts cite the timeline lane and time they come from.

``facts_hash`` is the sha256 of the canonical fact set (subject name, then each fact's id,
kind and statement): it changes with new media, corrections, renames, merges and erasure,
and not with what does not change the text (a new result id for the same finding).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aima.identity.citations import CitedSentence
from aima.identity.dossier_parts import time_range

#: person sections an extractive summary draws from, with how many facts each gives
EXTRACTIVE_PLAN: tuple[tuple[str, int], ...] = (
    ("appearances", 3),
    ("appears_with", 3),
    ("speaks_with", 2),
    ("emotions", 1),
    ("said", 2),
    ("flags", 3),  # explicit content and analyst-confirmed restraints
    ("text_seen", 1),
    ("voice_links", 1),
)
#: sections left out of the prompt first when it must be shortened (least informative first)
PROMPT_DROP_ORDER = ("representative_faces", "voice_samples", "text_seen", "said")
MEDIA_LIMITS = {"transcript": 12, "ocr": 8, "speakers": 8, "faces": 8, "other": 6}


@dataclass(frozen=True, slots=True)
class SummaryFact:
    """One numbered statement a summary may cite."""

    id: str
    section: str
    kind: str
    statement: str
    weight: float = 0.0  # how informative, for the extractive pick (higher first)
    cite: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"[{self.id}] {self.statement}"


@dataclass(frozen=True, slots=True)
class FactSet:
    """A subject's facts, ready to prompt with, hash and cite."""

    subject_type: str  # person | media
    subject_id: str
    subject_name: str
    facts: tuple[SummaryFact, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.facts)

    @property
    def hash(self) -> str:
        return facts_hash(self.subject_name, self.facts)

    def by_id(self) -> dict[str, SummaryFact]:
        return {f.id: f for f in self.facts}


def facts_hash(subject_name: str, facts: Iterable[SummaryFact]) -> str:
    canonical = json.dumps(
        {"subject": subject_name, "facts": [[f.id, f.kind, f.statement] for f in facts]},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- persons -----------------------------------------------------------------------------


def _person_weight(fact: dict[str, Any]) -> float:
    data = fact.get("data") or {}
    kind = fact["kind"]
    if kind == "appearance":
        return float(data.get("on_screen_s", 0.0)) + float(data.get("speaking_s", 0.0))
    if kind in ("appears_with", "speaks_with"):
        return 100.0 * float(data.get("media_count", 1)) + float(
            data.get("overlap_s", data.get("exchanges", 0.0))
        )
    if kind in ("said", "text_seen"):
        return float(len(str(data.get("text", ""))))
    if kind == "nsfw_flag":
        return float(data.get("score", 0.0))
    return max((c.get("confidence") or 0.0 for c in fact.get("citations", [])), default=0.0)


def person_facts(doc: dict[str, Any]) -> FactSet:
    """The dossier's facts as a fact set (ids and statements unchanged)."""
    section_of = {fid: name for name, ids in doc["sections"].items() for fid in ids}
    person = doc["person"]
    facts = tuple(
        SummaryFact(
            id=f["id"],
            section=section_of.get(f["id"], ""),
            kind=f["kind"],
            statement=f["statement"],
            weight=_person_weight(f),
        )
        for f in doc["facts"]
    )
    name = person["name"] or f"the unnamed person {person['id']}"
    return FactSet("person", person["id"], name, facts)


# --- media -------------------------------------------------------------------------------


def _who(item: dict[str, Any], fallback: str) -> str:
    return str(item.get("person_name") or fallback)


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


class _MediaFacts:
    def __init__(self, timeline: dict[str, Any]) -> None:
        self.timeline = timeline
        self.tracks: dict[str, list[dict[str, Any]]] = timeline.get("tracks", {})
        self.name = str(timeline.get("media", {}).get("name") or "this media")
        self.facts: list[SummaryFact] = []

    def add(self, section: str, kind: str, statement: str, weight: float, **cite: Any) -> None:
        fid = f"M{len(self.facts) + 1}"
        self.facts.append(SummaryFact(fid, section, kind, statement, weight, cite))

    def overview(self) -> None:
        media = self.timeline.get("media", {})
        summary = self.timeline.get("summary", {})
        analyzers = summary.get("analyzers") or []
        duration = media.get("duration_s")
        length = f"a {float(duration):.1f} s {media.get('kind') or 'media'}" if duration else None
        what = length or f"a {media.get('kind') or 'media'} file"
        done = f"analysed by {', '.join(analyzers)}" if analyzers else "not analysed yet"
        self.add("overview", "overview", f"{self.name} is {what}, {done}.", 1000.0, lane="media")

    def speakers(self) -> None:
        lane = sorted(self.tracks.get("speakers", []), key=lambda s: -float(s.get("total_s", 0)))
        for s in lane[: MEDIA_LIMITS["speakers"]]:
            turns = s.get("turns") or []
            who = _who(s, f"speaker {s.get('id')}")
            start = turns[0]["start"] if turns else 0.0
            end = turns[-1]["end"] if turns else 0.0
            self.add(
                "speakers",
                "speaker",
                f"{who} speaks for {float(s.get('total_s', 0)):.1f} s in {len(turns)} turn(s) "
                f"between {time_range(start, end)}.",
                500.0 + float(s.get("total_s", 0)),
                lane="speakers",
                ref=s.get("id"),
                start=start,
                end=end,
            )

    def faces(self) -> None:
        by_person: dict[str, list[dict[str, Any]]] = {}
        for item in self.tracks.get("faces", []):
            key = str(item.get("person_id") or item.get("id"))
            by_person.setdefault(key, []).append(item)
        ranked = sorted(
            by_person.values(),
            key=lambda items: -sum(float(i["end"]) - float(i["start"]) for i in items),
        )
        for items in ranked[: MEDIA_LIMITS["faces"]]:
            first = items[0]
            seconds = sum(float(i.get("seen_until", i["end"])) - float(i["start"]) for i in items)
            top = Counter(i.get("top_emotion") for i in items if i.get("top_emotion"))
            mood = f"; mostly {top.most_common(1)[0][0]}" if top else ""
            self.add(
                "faces",
                "face",
                f"{_who(first, 'An unidentified face')} is on screen from "
                f"{time_range(first['start'], items[-1].get('seen_until', items[-1]['end']))} "
                f"in {len(items)} track(s), about {seconds:.1f} s{mood}.",
                400.0 + seconds,
                lane="faces",
                ref=first.get("id"),
                start=first["start"],
                end=items[-1]["end"],
            )

    def transcript(self) -> None:
        segs = [s for s in self.tracks.get("transcript", []) if _text(s.get("text"))]
        picked = sorted(segs, key=lambda s: -len(_text(s.get("text"))))[
            : MEDIA_LIMITS["transcript"]
        ]
        for s in sorted(picked, key=lambda s: float(s["start"])):
            who = _who(s, f"speaker {s['speaker']}" if s.get("speaker") else "someone")
            self.add(
                "transcript",
                "said",
                f"At {time_range(s['start'], s['end'])} {who} says: “{_text(s['text'])[:300]}”",
                float(len(_text(s.get("text")))),
                lane="transcript",
                start=s["start"],
                end=s["end"],
            )

    def ocr(self) -> None:
        seen: dict[str, dict[str, Any]] = {}
        for line in self.tracks.get("ocr", []):
            text = _text(line.get("text"))
            if text and text.lower() not in seen:
                seen[text.lower()] = line
        ranked = sorted(seen.values(), key=lambda x: -float(x.get("confidence", 0)))
        for line in sorted(ranked[: MEDIA_LIMITS["ocr"]], key=lambda x: float(x["start"])):
            self.add(
                "ocr",
                "text_seen",
                f"On-screen text at {time_range(line['start'], line['end'])}: "
                f"“{_text(line['text'])[:200]}”",
                50.0 * float(line.get("confidence", 0)),
                lane="ocr",
                start=line["start"],
                end=line["end"],
            )

    def objects(self) -> None:
        labels: Counter[str] = Counter()
        span: dict[str, tuple[float, float]] = {}
        for o in self.tracks.get("objects", []):
            label = str(o.get("label"))
            labels[label] += int(o.get("count", 1))
            a, b = span.get(label, (float(o["start"]), float(o["end"])))
            span[label] = (min(a, float(o["start"])), max(b, float(o["end"])))
        for label, n in labels.most_common(MEDIA_LIMITS["other"]):
            a, b = span[label]
            self.add(
                "objects",
                "object",
                f"Object “{label}” detected {n} time(s) between {time_range(a, b)}.",
                float(n),
                lane="objects",
                start=a,
                end=b,
            )

    def nsfw(self) -> None:
        for s in self.tracks.get("nsfw", [])[: MEDIA_LIMITS["other"]]:
            labels = ", ".join(s.get("labels") or [])
            what = f" ({labels})" if labels else ""
            self.add(
                "flags",
                "nsfw_flag",
                f"Explicit content flagged{what} at {time_range(s['start'], s['end'])} "
                f"(score {float(s.get('score', 0)):.2f}).",
                300.0 + float(s.get("score", 0)),
                lane="nsfw",
                start=s["start"],
                end=s["end"],
            )

    def described(self) -> None:
        """Lanes with free-text descriptions (scene descriptions from a vision-language model)."""
        for lane, items in sorted(self.tracks.items()):
            if lane in ("transcript", "ocr"):
                continue
            texts = [i for i in items if isinstance(i, dict) and _text(i.get("description"))]
            for i in texts[: MEDIA_LIMITS["other"]]:
                self.add(
                    lane,
                    "description",
                    f"At {time_range(i['start'], i['end'])} ({lane}): "
                    f"{_text(i['description'])[:300]}",
                    200.0,
                    lane=lane,
                    start=i["start"],
                    end=i["end"],
                )


def media_facts(timeline: dict[str, Any]) -> FactSet:
    """Facts ``M1..Mn`` from a fused timeline, in a fixed order (stable ids)."""
    b = _MediaFacts(timeline)
    b.overview()
    b.speakers()
    b.faces()
    b.nsfw()
    b.described()
    b.objects()
    b.transcript()
    b.ocr()
    media = timeline.get("media", {})
    return FactSet("media", str(media.get("id", "")), b.name, tuple(b.facts))


# --- the prompt and the extractive summary -----------------------------------------------


def prompt_facts(facts: FactSet, max_chars: int) -> list[SummaryFact]:
    """The facts listed in the prompt: all of them when they fit in ``max_chars``, else the
    least informative sections go first, then the lowest-weight facts."""
    kept = list(facts.facts)

    def size(items: Sequence[SummaryFact]) -> int:
        return sum(len(f.line()) + 1 for f in items)

    for section in PROMPT_DROP_ORDER:
        if size(kept) <= max_chars:
            break
        kept = [f for f in kept if f.section != section]
    if size(kept) > max_chars:
        ranked = sorted(kept, key=lambda f: -f.weight)
        budget, chosen = max_chars, set()
        for f in ranked:
            if len(f.line()) + 1 <= budget:
                chosen.add(f.id)
                budget -= len(f.line()) + 1
        kept = [f for f in kept if f.id in chosen]
    return kept


def _cite_statement(fact: SummaryFact) -> CitedSentence:
    body = fact.statement.rstrip()
    end = "."
    if body.endswith((".", "!", "?")):
        body, end = body[:-1], body[-1]
    return CitedSentence(f"{body} [{fact.id}]{end}", (fact.id,))


def extractive(facts: FactSet, *, max_sentences: int = 12) -> list[CitedSentence]:
    """The most informative facts per section, each one sentence citing itself."""
    chosen: list[SummaryFact] = []
    if facts.subject_type == "person":
        for section, n in EXTRACTIVE_PLAN:
            pool = [f for f in facts.facts if f.section == section]
            chosen += sorted(pool, key=lambda f: -f.weight)[:n]
    else:
        chosen = sorted(facts.facts, key=lambda f: -f.weight)
    order = {f.id: i for i, f in enumerate(facts.facts)}
    picked = sorted(chosen[:max_sentences], key=lambda f: order[f.id])
    return [_cite_statement(f) for f in picked]
