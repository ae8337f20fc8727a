"""Result models of the audio analyzers: vad, transcribe, speakers.

The transcript lane is drawn by ``transcribe`` and attributes each word to the
speaker whose turn covers it (nearest turn within 0.5 s otherwise); a segment's
speaker is its words' majority.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Literal

from pydantic import ConfigDict, Field

from aima.results.base import AnalyzerResult, Contribution, Item, Span, TimelineContext

NEAREST_TURN_S = 0.5


# ---------------------------------------------------------------------------- vad


class SpeechSegment(Span):
    confidence: float = Field(ge=0, le=1)


class VadResult(AnalyzerResult):
    analyzer: Literal["vad"] = "vad"
    segments: list[SpeechSegment] = Field(default_factory=list)
    speech_s: float = 0.0

    def timeline(self, ctx: TimelineContext) -> Contribution:
        return Contribution(
            tracks={"speech": list(self.segments)}, summary={"speech_s": round(self.speech_s, 3)}
        )


# ---------------------------------------------------------------------------- speakers


class Speaker(Item):
    model_config = ConfigDict(extra="allow")

    id: str
    embedding: list[float] = Field(default_factory=list)
    total_s: float = 0.0
    windows: int = 0


class Turn(Span):
    model_config = ConfigDict(extra="allow")

    speaker: str
    confidence: float = Field(default=0.0, ge=0, le=1)


class TurnLaneItem(Span):
    confidence: float | None


class SpeakerLaneItem(Item):
    id: str
    person_id: str | None = None
    person_name: str | None = None
    person_named: bool = False
    total_s: float
    turns: list[TurnLaneItem]


class SpeakersResult(AnalyzerResult):
    analyzer: Literal["speakers"] = "speakers"
    model_config = ConfigDict(extra="allow")

    speakers: list[Speaker] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    model: str = "unknown"

    def speaker_at(self, start: float, end: float) -> str | None:
        """The speaker whose turn overlaps [start, end] most, else the nearest within 0.5 s."""
        best, best_overlap = None, 0.0
        for turn in self.turns:
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > best_overlap:
                best, best_overlap = turn.speaker, overlap
        if best is not None:
            return best
        mid = (start + end) / 2

        def gap(turn: Turn) -> float:
            return min(abs(mid - turn.start), abs(mid - turn.end))

        nearest = min(self.turns, key=gap, default=None)
        if nearest is not None and gap(nearest) <= NEAREST_TURN_S:
            return nearest.speaker
        return None

    def timeline(self, ctx: TimelineContext) -> Contribution:
        by_speaker: dict[str, list[TurnLaneItem]] = defaultdict(list)
        for turn in self.turns:
            by_speaker[turn.speaker].append(
                TurnLaneItem(start=turn.start, end=turn.end, confidence=turn.confidence)
            )
        lane = [
            SpeakerLaneItem(id=s.id, total_s=s.total_s, turns=by_speaker.get(s.id, []))
            for s in self.speakers
        ]
        return Contribution(tracks={"speakers": lane}, summary={"speakers": len(lane)})


# ---------------------------------------------------------------------------- transcribe


class Word(Item):
    model_config = ConfigDict(extra="allow")

    start: float
    end: float
    word: str
    confidence: float | None = Field(default=None, ge=0, le=1)
    probability: float | None = Field(default=None, ge=0, le=1)


class Segment(Span):
    model_config = ConfigDict(extra="allow")

    text: str = ""
    confidence: float | None = Field(default=None, ge=0, le=1)
    words: list[Word] = Field(default_factory=list)


class SpokenWord(Word):
    speaker: str | None
    person_id: str | None = None
    person_name: str | None = None
    person_named: bool = False


class TranscriptLaneItem(Span):
    speaker: str | None
    person_id: str | None = Field(default=None, description="the person this speaker is")
    person_name: str | None = Field(default=None, description="that person's current name")
    person_named: bool = Field(default=False, description="false: an unnamed person's label")
    text: str
    confidence: float | None
    words: list[SpokenWord]


class TranscribeResult(AnalyzerResult):
    analyzer: Literal["transcribe"] = "transcribe"
    model_config = ConfigDict(extra="allow")

    segments: list[Segment] = Field(default_factory=list)
    text: str = ""
    language: str | None = None
    language_probability: float | None = Field(default=None, ge=0, le=1)
    engine: str = "unknown"
    model_id: str | None = None
    note: str | None = Field(
        default=None, description="set when a weak fallback engine produced this transcript"
    )
    fallback: bool = False

    def lane(self, speakers: SpeakersResult | None) -> list[TranscriptLaneItem]:
        out = []
        for seg in self.segments:
            words: list[SpokenWord] = []
            votes: Counter[str] = Counter()
            for word in seg.words:
                who = speakers.speaker_at(word.start, word.end) if speakers else None
                words.append(SpokenWord(**word.model_dump(), speaker=who))
                if who:
                    votes[who] += 1
            speaker = (
                votes.most_common(1)[0][0]
                if votes
                else (speakers.speaker_at(seg.start, seg.end) if speakers else None)
            )
            out.append(
                TranscriptLaneItem(
                    start=seg.start,
                    end=seg.end,
                    speaker=speaker,
                    text=seg.text,
                    confidence=seg.confidence,
                    words=words,
                )
            )
        return out

    def timeline(self, ctx: TimelineContext) -> Contribution:
        said = self.lane(ctx.get(SpeakersResult))
        notes = []
        if self.fallback or self.note:
            notes.append(
                "transcript by the weak offline fallback engine "
                f"({self.engine}): {self.note or 'expect many wrong words'}"
            )
        return Contribution(
            tracks={"transcript": said},
            summary={
                "transcript_segments": len(said),
                "words": sum(len(s.words) for s in said),
                "language": self.language,
                "transcript_engine": self.engine,
            },
            notes=notes,
        )
