"""Typed analyzer results: validated on construction, persisted as such, read back as such.

Every analyzer declares one result model (a subclass of :class:`AnalyzerResult`) with
``analyzer`` as a literal discriminator and a ``schema_version``. The runner validates
what an analyzer's ``finalize()`` returns into that model before it is committed, so
no unvalidated result reaches the database; fusion, identity, dossiers, the API and
(later) LLM prompts and remote executors read results only through these types, never
through an analyzer's dict keys.

Rows written before a schema change are read through :meth:`AnalyzerResult.load`,
which runs the model's ``upgrade`` adapter from the stored version to the current
one (rows from before typed results carry no version: version 0).

Each result contributes what fusion draws for it through one hook,
:meth:`AnalyzerResult.timeline`, so adding an analyzer never edits fusion or the
dossier: the hook returns named tracks and summary figures, and may look at other
analyzers' results through the :class:`TimelineContext` (e.g. the transcript
attributes words to the speakers' turns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from aima.core.errors import AimaError

R = TypeVar("R", bound="AnalyzerResult")


class InvalidResult(AimaError):
    """An analyzer produced (or the database holds) a result its model rejects."""

    status = 500
    code = "invalid_result"


class Item(BaseModel):
    """A part of a result (a detection, a track, a segment): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Span(Item):
    """Something on the media's time axis, in seconds from the start."""

    start: float
    end: float


@dataclass(slots=True)
class Contribution:
    """What one result adds to the fused timeline: tracks by name, summary figures."""

    tracks: dict[str, list[Any]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TimelineContext:
    """What a result's timeline hook may read: the media and the other accepted results."""

    duration_s: float | None
    keyframes: list[float]
    results: Mapping[str, AnalyzerResult]

    def get(self, kind: type[R]) -> R | None:
        for result in self.results.values():
            if isinstance(result, kind):
                return result
        return None

    def extend_to_next_keyframe(self, start: float, end: float) -> tuple[float, float]:
        """A thing last seen at keyframe ``end`` is on screen until the next keyframe.

        Keyframes are kept at shot changes and whenever the picture changed within the
        maximum interval; frames in between were near-duplicates of the last kept one,
        so the next keyframe is the first moment the content is known to differ.
        """
        if not self.keyframes:
            return start, end
        later = [t for t in self.keyframes if t > end + 1e-6]
        until = later[0] if later else (self.duration_s or end)
        return start, round(max(until, end), 3)


class AnalyzerResult(BaseModel):
    """Base of every analyzer's result model."""

    model_config = ConfigDict(extra="forbid")

    #: bumped whenever the stored shape changes; ``upgrade`` maps older rows forward
    SCHEMA_VERSION: ClassVar[int] = 1
    _by_analyzer: ClassVar[dict[str, type[AnalyzerResult]]] = {}

    analyzer: str
    schema_version: int = 1

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["analyzer"].default
        if isinstance(default, str) and default:
            AnalyzerResult._by_analyzer[default] = cls

    # ------------------------------------------------------------------ persistence

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Map a stored result of ``version`` to the current shape (override per model)."""
        return data

    @classmethod
    def load(cls: type[R], data: Mapping[str, Any]) -> R:
        """Read a stored result, upgrading rows written by older schema versions."""
        raw = dict(data)
        version = int(raw.pop("schema_version", 0))
        raw.pop("analyzer", None)
        if version < cls.SCHEMA_VERSION:
            raw = cls.upgrade(raw, version)
        try:
            return cls.model_validate({**raw, "schema_version": cls.SCHEMA_VERSION})
        except ValidationError as exc:
            raise InvalidResult(
                f"stored {cls.__name__} (schema {version}) does not validate: "
                f"{_short(exc)}; re-run the analyzer on this media"
            ) from exc

    @classmethod
    def build(cls: type[R], data: Any) -> R:
        """Validate what an analyzer returned (a model or a plain mapping)."""
        if isinstance(data, cls):
            return data
        if isinstance(data, BaseModel):
            data = data.model_dump()
        try:
            return cls.model_validate(
                {**dict(data), "analyzer": cls.model_fields["analyzer"].default}
            )
        except ValidationError as exc:
            raise InvalidResult(
                f"analyzer output is not a valid {cls.__name__}: {_short(exc)}"
            ) from exc

    def dump(self) -> dict[str, Any]:
        """What is stored in the result row (JSON types only)."""
        out = self.model_dump(mode="json")
        out["schema_version"] = self.SCHEMA_VERSION
        return out

    # ------------------------------------------------------------------ fusion hook

    def timeline(self, ctx: TimelineContext) -> Contribution:
        """Tracks and summary figures this result adds to the media's timeline."""
        return Contribution()

    def keyframe_times(self) -> list[float]:
        """Times of the keyframes this result analysed (frame analyzers override)."""
        return []


class GenericResult(AnalyzerResult):
    """The result of a plug-in analyzer that declares no model: kept, not interpreted."""

    model_config = ConfigDict(extra="allow")

    def dump(self) -> dict[str, Any]:
        """Stored exactly as the plug-in returned it (it has no schema to version)."""
        return self.model_dump(mode="json", exclude={"analyzer", "schema_version"})


def result_type(analyzer: str) -> type[AnalyzerResult]:
    """The result model registered for an analyzer name (``GenericResult`` if none)."""
    return AnalyzerResult._by_analyzer.get(analyzer, GenericResult)


def registered() -> dict[str, type[AnalyzerResult]]:
    return dict(AnalyzerResult._by_analyzer)


def load_result(analyzer: str, data: Mapping[str, Any]) -> AnalyzerResult:
    kind = result_type(analyzer)
    if kind is GenericResult:
        return GenericResult.model_validate({**dict(data), "analyzer": analyzer})
    return kind.load(data)


def _short(exc: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:3]]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
