"""Relational schema. Every change here needs an Alembic migration (CI runs ``alembic check``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aima.core.clock import utcnow
from aima.store.sealed import SealedBytes
from aima.store.types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # One login session: every rotation stays in the family. Access tokens carry it (``sid``)
    # and die with it; reusing a rotated token revokes the whole family (it was stolen).
    family_id: Mapped[str | None] = mapped_column(String(40), index=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(16))  # rotated|logout|reuse|admin


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (Index("ix_media_created", "created_at", "id"),)  # the listing's order

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    format: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(1024))
    info: Mapped[dict[str, Any]]
    uploaded_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Retention: the library whose rules apply, and when the original file was deleted
    # under a "delete raw media, keep results" rule.
    library: Mapped[str] = mapped_column(String(64), default="default", index=True)
    raw_deleted_at: Mapped[datetime | None]


class MediaGrant(Base):
    """Who may see a media besides roles that see everything (the uploader gets one)."""

    __tablename__ = "media_grants"

    media_id: Mapped[str] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # This user's own view of the media: the name they uploaded it under, and how they came
    # to see it (upload | duplicate | share). A duplicate upload never reveals the first
    # uploader's name or metadata.
    display_name: Mapped[str | None] = mapped_column(String(1024))
    via: Mapped[str] = mapped_column(String(16), default="upload")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "state", "priority", "created_at"),
        Index("ix_jobs_created", "created_at", "id"),  # the listing's default order
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    analyzers: Mapped[list[str]] = mapped_column(JSONType)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    fencing_token: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_message: Mapped[str] = mapped_column(String(256), default="")
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    dead_letter: Mapped[bool] = mapped_column(Boolean, default=False)
    # Compute cost (compute/): the estimate shown before the job ran, who confirmed the
    # spend, what it actually cost, and the project whose budget pays.
    project: Mapped[str | None] = mapped_column(String(64), index=True)
    estimate: Mapped[dict[str, Any]] = mapped_column(default=dict)
    confirmed_by: Mapped[str | None] = mapped_column(String(128))
    confirmed_at: Mapped[datetime | None]
    cost_actual: Mapped[float] = mapped_column(Float, default=0.0)


class JobChunk(Base):
    """The checkpoint unit: job x analyzer x chunk index."""

    __tablename__ = "job_chunks"
    __table_args__ = (UniqueConstraint("job_id", "analyzer", "chunk_index"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    analyzer: Mapped[str] = mapped_column(String(64))
    chunk_index: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    committed_token: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnalysisResult(Base):
    """One analyzer's final result for one media, with provenance."""

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("job_id", "analyzer"),
        Index("ix_results_media_analyzer", "media_id", "analyzer", "accepted"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    analyzer: Mapped[str] = mapped_column(String(64))
    analyzer_version: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(256))
    config: Mapped[dict[str, Any]]
    config_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The timeline uses accepted results. A re-run with the same version and config
    # replaces the accepted one; a new version or config waits for review beside it.
    accepted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(String(128))


class AuditEvent(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Gap-free position in the chain (ids from a sequence may skip), and an HMAC over
    # (id, seq, hash) with a key held outside the database: re-chaining, forging,
    # renumbering or reordering needs the key. Rows from before the key existed have no mac.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    mac: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))


class WorkerHeartbeat(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="idle")
    current_job: Mapped[str | None] = mapped_column(String(40))


# --- people across the library (identity/) -------------------------------------------------


class Person(Base):
    """A stable identity. Unknown people are persons too (``name`` is None)."""

    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256), index=True)
    # A person merged into another (by a user or a face-voice link) redirects there.
    merged_into: Mapped[str | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Observation(Base):
    """One appearance of one face track or one speaker in one media, with its embedding.

    The embedding here is the truth; vector indexes are derived from it through the
    outbox. ``pinned`` observations were placed by a user (must-link): clustering
    never moves them.
    """

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("result_id", "ref"),
        Index("ix_observations_person_kind", "person_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # face | voice
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    result_id: Mapped[str] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"), index=True)
    collection: Mapped[str] = mapped_column(String(128), index=True)
    model_id: Mapped[str] = mapped_column(String(256))
    ref: Mapped[str] = mapped_column(String(64))  # "track:3", "speaker:S1"
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    count: Mapped[int] = mapped_column(Integer, default=1)
    spans: Mapped[list[list[float]]] = mapped_column(JSONType, default=list)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    usable: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    embedding: Mapped[bytes] = mapped_column(SealedBytes("observations.embedding"))
    dim: Mapped[int] = mapped_column(Integer)
    crop: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    assigned_by: Mapped[str | None] = mapped_column(String(16))  # auto|recluster|user|link
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    distance: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannotLink(Base):
    """A "this observation is not this person" constraint every clustering honours."""

    __tablename__ = "cannot_links"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    correction_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correction(Base):
    """A user's merge / split / reject / rename / link decision; ``payload`` can undo it."""

    __tablename__ = "corrections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str | None] = mapped_column(String(40), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(128))


class PersonLink(Base):
    """Face person <-> voice identity, from active-speaker co-occurrence across media."""

    __tablename__ = "person_links"
    __table_args__ = (UniqueConstraint("face_person_id", "voice_person_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    face_person_id: Mapped[str] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    voice_person_id: Mapped[str] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))  # suggested|linked|confirmed|rejected
    decided_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentitySource(Base):
    """An accepted result already turned into observations / text segments (idempotent sync)."""

    __tablename__ = "identity_sources"

    result_id: Mapped[str] = mapped_column(
        ForeignKey("results.id", ondelete="CASCADE"), primary_key=True
    )
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    analyzer: Mapped[str] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)


class TextSegment(Base):
    """Searchable text: transcript segments and OCR lines (full-text indexed per dialect)."""

    __tablename__ = "text_segments"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    result_id: Mapped[str] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # transcript | ocr | scene | object
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float)
    # Semantic search: a unit text embedding (the truth; the vector index derives from it)
    # and the collection it belongs to (one per text-embedding model).
    embedding: Mapped[bytes | None] = mapped_column(SealedBytes("text_segments.embedding"))
    collection: Mapped[str | None] = mapped_column(String(128), index=True)
    # What the language-aware full-text index reads, prepared by aima.store.fulltext.index_text:
    # SQLite: language-tagged snowball stems; PostgreSQL: the text with spelling variants
    # normalised. NULL on rows written before it existed (backfilled by the migration).
    search_text: Mapped[str | None] = mapped_column(Text)


class VectorOutbox(Base):
    """Every change to an embedding row, in commit order; index consumers replay it."""

    __tablename__ = "vector_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    collection: Mapped[str] = mapped_column(String(128))
    item_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VectorCursor(Base):
    """How far a shared index (e.g. one Milvus server) has applied the outbox."""

    __tablename__ = "vector_cursors"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    applied_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoredCalibration(Base):
    """A threshold measured on the user's own labelled faces/voices for one embedding model.

    ``aima.identity.calibration`` prefers it to the settings override and the built-in
    table; ``report`` keeps what it was measured on (pairs, TAR/FAR, histogram).
    """

    __tablename__ = "calibrations"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # face | voice
    model_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    max_distance: Mapped[float] = mapped_column(Float)
    scale: Mapped[float] = mapped_column(Float)
    target_far: Mapped[float] = mapped_column(Float)
    tar: Mapped[float] = mapped_column(Float)
    far: Mapped[float] = mapped_column(Float)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReembedMigration(Base):
    """Re-embedding the library's observations of one kind from one model to another.

    While ``state`` is not ``done`` the library (clustering, search) keeps ``from_model``;
    the switch to ``to_model`` happens in one transaction at the end.
    """

    __tablename__ = "reembed_migrations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), index=True)
    from_model: Mapped[str] = mapped_column(String(256))
    to_model: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), index=True)  # running|done|failed|cancelled
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class ReembedItem(Base):
    """One observation's new-model embedding, staged until its migration switches over."""

    __tablename__ = "reembed_items"

    migration_id: Mapped[str] = mapped_column(
        ForeignKey("reembed_migrations.id", ondelete="CASCADE"), primary_key=True
    )
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), primary_key=True
    )
    # None: could not re-embed
    embedding: Mapped[bytes | None] = mapped_column(SealedBytes("reembed_items.embedding"))
    dim: Mapped[int] = mapped_column(Integer, default=0)


# --- language and vision-language models (llm/) -------------------------------------------


class LlmCall(Base):
    """One request to an OpenAI-compatible endpoint: usage, latency, cost, outcome.

    Kept per call and summed per job (``job_id``) and per subject; never holds the prompt
    or the answer (those may name people), only the prompt's id and version.
    """

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(16))  # vlm | text
    model: Mapped[str] = mapped_column(String(256))
    prompt_id: Mapped[str] = mapped_column(String(64))
    prompt_version: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(40), index=True)
    media_id: Mapped[str | None] = mapped_column(String(40), index=True)
    subject: Mapped[str | None] = mapped_column(String(64))  # "person:<id>", "media:<id>"
    status: Mapped[str] = mapped_column(String(16))  # ok | repaired | invalid | error
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    cost: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ReviewItem(Base):
    """A finding a person must confirm before it counts (restraints): unreviewed until an
    Analyst confirms or dismisses it; only confirmed items reach dossiers."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("result_id", "ref"),
        Index("ix_review_items_state_kind", "state", "kind"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # restraint
    label: Mapped[str] = mapped_column(String(64))  # handcuffs, cable ties, rope, gag, ...
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    result_id: Mapped[str] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(64))  # stable within the result: "kf3:r0"
    t: Mapped[float] = mapped_column(Float, default=0.0)
    box: Mapped[list[float] | None] = mapped_column(JSONType)
    evidence: Mapped[str | None] = mapped_column(String(64))  # blob key of the evidence frame
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="unreviewed")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Summary(Base):
    """A generated summary of a person's dossier or a media's timeline, with what made it.

    ``facts_hash`` is the hash of the fact set it was written from: when the facts change
    (new media, corrections, erasure) the summary is stale and is regenerated.
    """

    __tablename__ = "summaries"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))  # person | media
    subject_id: Mapped[str] = mapped_column(String(40), index=True)
    method: Mapped[str] = mapped_column(String(16))  # llm | extractive
    text: Mapped[str] = mapped_column(Text)
    sentences: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    model: Mapped[str | None] = mapped_column(String(256))
    prompt_version: Mapped[str | None] = mapped_column(String(32))
    facts_hash: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- compute: cost model, budgets, rented workers (compute/) -------------------------------


class AnalyzerCost(Base):
    """Measured cost of one analyzer version on one device class, learned from finished chunks.

    Sums, so an estimate is ``seconds / units`` (units: media minutes, or images).
    """

    __tablename__ = "analyzer_costs"

    analyzer: Mapped[str] = mapped_column(String(64), primary_key=True)
    analyzer_version: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_class: Mapped[str] = mapped_column(String(64), primary_key=True)  # cpu | cuda:<name>
    unit: Mapped[str] = mapped_column(String(16), primary_key=True)  # media_minute | image
    units: Mapped[float] = mapped_column(Float, default=0.0)
    cpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Budget(Base):
    """A spending cap for a user or a project: warn at ``soft_limit``, refuse past ``hard_limit``."""

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("scope", "subject", "period"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # user | project
    subject: Mapped[str] = mapped_column(String(64))  # user id or project name
    period: Mapped[str] = mapped_column(String(16), default="month")  # month | total
    soft_limit: Mapped[float] = mapped_column(Float)
    hard_limit: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComputeWorker(Base):
    """A worker machine launched on a GPU provider, from launch to termination."""

    __tablename__ = "compute_workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), index=True)
    offer_id: Mapped[str] = mapped_column(String(128))
    instance_id: Mapped[str | None] = mapped_column(String(128))
    gpu_type: Mapped[str] = mapped_column(String(64))
    gpu_count: Mapped[int] = mapped_column(Integer, default=1)
    region: Mapped[str | None] = mapped_column(String(64))
    price_per_hour: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)  # launching|running|idle|terminated
    reason: Mapped[str | None] = mapped_column(Text)
    launched_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_busy_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    spend: Mapped[float] = mapped_column(Float, default=0.0)


# --- events and webhooks (services/events) -------------------------------------------------


class EventOutbox(Base):
    """A domain event written in the same transaction as the state change it reports, so
    none is lost or invented on a crash; publishers (webhooks, AMQP) replay it by id."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # job.finished, flag.raised, ...
    subject: Mapped[str | None] = mapped_column(String(64))  # "job:<id>", "person:<id>"
    owner_id: Mapped[str | None] = mapped_column(String(40), index=True)  # user it concerns
    project: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventCursor(Base):
    """How far one publisher (``amqp``, ``webhooks``) has handed the outbox on."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    applied_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Webhook(Base):
    """A user's (or a project's) subscription: events of these kinds POSTed, HMAC-signed."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))  # HMAC-SHA256 signing secret
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to one webhook: attempts, answers, and when to try again (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("event_outbox.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The data-protection tables share this metadata (imported last: they subclass Base).
from aima.store import models_trust as models_trust  # noqa: E402
