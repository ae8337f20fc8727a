"""One pydantic-settings object for every entry point (prefix ``AIMA_``, nested with ``__``).

``AIMA_DATABASE_URL=postgresql+psycopg://...`` or ``AIMA_LIMITS__MAX_BYTES=...``
change behaviour without touching code. Unknown keys fail loudly: pydantic rejects
unknown nested keys, but pydantic-settings silently ignores an unknown *top-level*
``AIMA_`` variable (``AIMA_DATABSE_URL`` would leave SQLite in use), so
``load_settings`` first checks every ``AIMA_*`` variable against the fields and names
the nearest valid one.

The default data directory is one per user (``platformdirs.user_data_dir("aima")``),
not ``./aima-data``: a library that depends on the current directory makes
``aima persons list`` in another folder silently open a new, empty one.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aima.core.errors import ConfigError

DEFAULT_ANALYZERS = (
    "thumbnails",
    "faces",
    "emotion",
    "bodies",
    "nsfw",
    "ocr",
    "vad",
    "transcribe",
    "speakers",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MediaLimits(_Section):
    """Limits applied to every untrusted file before anything is stored."""

    max_bytes: int = Field(default=4 * 1024**3, gt=0, description="largest accepted file")
    max_pixels: int = Field(default=100_000_000, gt=0, description="largest image/frame area")
    max_duration_s: float = Field(default=6 * 3600, gt=0, description="longest audio/video")
    max_streams: int = Field(default=16, gt=0, description="most streams in one container")
    probe_timeout_s: float = Field(default=60, gt=0, description="ffprobe/ffmpeg time limit")
    decode_memory_bytes: int = Field(
        default=1024**3,
        gt=0,
        description="decoded image bytes in memory at once while checking uploads (a budget "
        "shared by all concurrent uploads of one process)",
    )
    min_free_bytes: int = Field(
        default=256 * 1024**2,
        ge=0,
        description="/readyz reports not ready when the data dir's disk has less free space",
    )


class BlobSettings(_Section):
    backend: Literal["local", "s3"] = "local"
    path: Path | None = Field(default=None, description="local backend root; <data_dir>/blobs")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "aima"
    s3_prefix: str = "blobs/"
    s3_region: str = "us-east-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None


class JobSettings(_Section):
    lease_s: float = Field(
        default=60, gt=0, description="a claim expires this long after its last heartbeat"
    )
    heartbeat_s: float = Field(default=10, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="claims before a job is dead-lettered")
    backoff_base_s: float = Field(default=5, ge=0)
    backoff_max_s: float = Field(default=600, ge=0)
    chunk_s: float = Field(default=60, gt=0, description="media seconds per checkpoint chunk")
    default_analyzers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ANALYZERS),
        description="analyzers queued for new media when none are named",
    )


class DecodeSettings(_Section):
    """How each media is decoded once per chunk for every analyzer."""

    max_interval_s: float = Field(default=2.0, gt=0, description="at least one keyframe this often")
    max_side: int = Field(
        default=1280, ge=64, le=8192, description="longest side of decoded frames"
    )
    shot_threshold: float = Field(
        default=0.35, gt=0, le=1, description="frame difference that starts a new shot"
    )
    duplicate_threshold: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="interval frames this similar to the last kept are skipped",
    )
    audio_rate: int = Field(default=16000, ge=8000, le=48000)
    audio_overlap_s: float = Field(
        default=2.0, ge=0, le=30, description="audio context beyond each chunk border"
    )
    hwaccel: Literal["none", "auto"] = Field(
        default="auto", description="hardware video decoding when the platform offers it"
    )


class WorkerSettings(_Section):
    embedded: bool = Field(default=True, description="run a worker inside `aima serve`")
    concurrency: int = Field(default=1, ge=1, le=64)
    poll_interval_s: float = Field(default=1.0, gt=0)


class AuthSettings(_Section):
    jwt_secret: SecretStr | None = Field(
        default=None, description="generated into <data_dir>/secrets.json when unset (development)"
    )
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    audience: str = "aima"
    issuer: str = "aima"
    access_ttl_s: int = Field(default=900, gt=0)
    refresh_ttl_s: int = Field(default=14 * 24 * 3600, gt=0)
    login_max_failures: int = Field(
        default=5, ge=1, description="failed logins per account before it is locked"
    )
    login_max_failures_per_source: int = Field(
        default=30, ge=1, description="failed logins per client address before it is blocked"
    )
    login_window_s: float = Field(
        default=900,
        gt=0,
        description="failures count within this window; the lock lasts to its end",
    )
    refresh_reuse_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="a rotated refresh token presented again later than this revokes its session",
    )


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    max_upload_files: int = Field(default=100, gt=0)
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser (CORS is off when empty)",
    )
    trust_forwarded_proto: bool = Field(
        default=False, description="behind a TLS proxy: trust X-Forwarded-Proto for HSTS"
    )
    read_threads: int = Field(
        default=4,
        ge=1,
        le=64,
        description="threads for the quick reads of every request (the caller's account, "
        "listings); more contend for the interpreter lock (see docs/performance.md)",
    )
    metrics_public: bool = Field(
        default=True,
        description="false: /metrics needs a token with system:read (scrape with a bearer token)",
    )


class VectorSettings(_Section):
    """The search index derived from the embeddings stored in the database."""

    backend: Literal["faiss", "milvus"] = Field(
        default="faiss", description="faiss: in-process; milvus: Milvus server or Milvus Lite file"
    )
    milvus_uri: str | None = Field(
        default=None,
        description="http://host:19530 for a server, or a file path for Milvus Lite; "
        "<data_dir>/index/milvus.db if unset",
    )
    milvus_token: SecretStr | None = None
    hnsw_threshold: int = Field(
        default=1_000_000,
        ge=1,
        description="FAISS: exact search up to this many vectors, HNSW beyond",
    )
    hnsw_m: int = Field(default=32, ge=4, le=128)
    hnsw_ef_search: int = Field(default=128, ge=8, le=4096)
    snapshot: bool = Field(
        default=True, description="FAISS: save the index under <data_dir>/index to load fast"
    )


class IdentitySettings(_Section):
    """People across the library: thresholds per model live in ``aima.identity.calibration``."""

    enabled: bool = Field(default=True, description="turn face/voice results into persons")
    face_min_size_px: int = Field(
        default=32, ge=0, description="smaller faces may not found a person"
    )
    face_min_blur: float = Field(default=15.0, ge=0, description="blurrier faces may not found one")
    face_min_frontal: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="more profile faces may not found one (three-quarter views score 0.17-0.30)",
    )
    voice_min_speech_s: float = Field(
        default=2.0, ge=0, description="shorter speakers may not found a voice identity"
    )
    face_max_distance: float | None = Field(
        default=None, gt=0, description="override the model's calibrated face match distance"
    )
    voice_max_distance: float | None = Field(
        default=None, gt=0, description="override the model's calibrated voice match distance"
    )
    neighbours: int = Field(default=16, ge=1, le=256, description="k of the k-NN queries")
    link_min_media: int = Field(
        default=2, ge=1, description="media where face and voice co-occur before auto-linking"
    )
    link_min_confidence: float = Field(default=0.6, ge=0, le=1)
    search_min_score: float = Field(
        default=0.5, ge=0, le=1, description="default lowest calibrated score a search returns"
    )


class EndpointSettings(_Section):
    """One OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp, TGI, hosted).

    No ``base_url``: the analyzers and summaries that need it report "not configured".
    """

    base_url: str | None = Field(
        default=None,
        description="e.g. http://127.0.0.1:8080/v1 (the path before /chat/completions)",
    )
    model: str = Field(default="default", description="the model name the server expects")
    api_key: SecretStr | None = Field(default=None, description="sent as a Bearer token")
    timeout_s: float = Field(default=120.0, gt=0, description="whole-request time limit")
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20, description="on 429, 5xx and lost connections")
    backoff_s: float = Field(default=0.5, ge=0, description="first retry delay, doubled each time")
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_concurrency: int = Field(default=2, ge=1, le=256, description="requests in flight at once")
    circuit_failures: int = Field(
        default=5, ge=1, description="consecutive failures that open the circuit breaker"
    )
    circuit_reset_s: float = Field(default=30.0, gt=0, description="open circuit: wait this long")
    structured_output: Literal["auto", "json_schema", "json_object", "none"] = Field(
        default="auto",
        description="how to ask for JSON: auto tries json_schema, then json_object, then prompt only",
    )
    max_tokens: int = Field(default=512, ge=16, le=32768)
    temperature: float = Field(default=0.0, ge=0, le=2)
    price_prompt_per_1k: float | None = Field(
        default=None, ge=0, description="money per 1,000 prompt tokens (records cost when set)"
    )
    price_completion_per_1k: float | None = Field(default=None, ge=0)
    context_tokens: int = Field(default=4096, ge=512, description="the model's context window")


class LlmSettings(_Section):
    """Vision-language model (scenes) and language model (summaries), each its own endpoint."""

    vlm: EndpointSettings = Field(default_factory=EndpointSettings)
    text: EndpointSettings = Field(default_factory=EndpointSettings)


class SearchSettings(_Section):
    """Text search: full-text with per-language stemming, plus semantic (embedding) search."""

    semantic: bool = Field(
        default=True, description="embed transcript, OCR, scene and object text for --semantic"
    )
    embed_batch: int = Field(default=64, ge=1, le=4096)
    rrf_k: int = Field(default=60, ge=1, description="reciprocal rank fusion constant (hybrid)")


PROVIDER_NAMES = ("runpod", "vastai", "lambda", "paperspace", "genesis", "aws", "gcp", "azure")


class ProviderSettings(_Section):
    """One GPU rental provider (``compute.providers.<name>``); see docs/compute-providers.md."""

    enabled: bool = True
    base_url: str | None = Field(default=None, description="the provider's real API when unset")
    api_key: SecretStr | None = Field(default=None, description="API key / token / access key id")
    api_secret: SecretStr | None = Field(
        default=None, description="second credential where one is needed (cloud secret key)"
    )
    region: str | None = Field(default=None, description="default region where one is needed")
    project: str | None = Field(default=None, description="GCP project / Azure subscription")
    options: dict[str, str] = Field(
        default_factory=dict, description="provider-specific extras (see docs)"
    )
    timeout_s: float = Field(default=30.0, gt=0, description="per-request time limit")
    max_retries: int = Field(default=3, ge=0, le=20, description="on 429, 5xx and lost connections")
    max_price_per_hour: float | None = Field(
        default=None, gt=0, description="ignore offers dearer than this"
    )


class FleetSettings(_Section):
    """How rented GPU workers are chosen, launched, watched and stopped."""

    image: str = Field(default="ghcr.io/aima/worker:cuda", description="worker container image")
    launch_timeout_s: float = Field(
        default=600.0, gt=0, description="a machine not running by then is terminated"
    )
    idle_terminate_s: float = Field(
        default=600.0, gt=0, description="an idle worker is terminated after this long"
    )
    max_workers: int = Field(default=4, ge=0, description="rented workers at most")
    circuit_failures: int = Field(
        default=3, ge=1, description="consecutive provider failures that open its circuit"
    )
    circuit_reset_s: float = Field(default=300.0, gt=0, description="open circuit: skip this long")
    scaling: Literal["predictive", "reactive"] = "predictive"
    boot_s: float = Field(
        default=180.0, gt=0, description="typical boot time: how far ahead predictive scaling looks"
    )
    jobs_per_worker_hour: float = Field(
        default=6.0, gt=0, description="prior for the work one GPU worker does per hour"
    )


class ComputeSettings(_Section):
    """Where analyzer batches run and what they may cost (``aima.compute``)."""

    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict, description=f"rented GPUs by provider: {', '.join(PROVIDER_NAMES)}"
    )
    fleet: FleetSettings = Field(default_factory=FleetSettings)

    executor: Literal["inprocess", "ray"] = Field(
        default="inprocess", description="inprocess: this worker; ray: actors on a Ray cluster"
    )
    ray_address: str | None = Field(
        default=None, description="ray://host:10001 or host:6379; a local Ray when unset"
    )
    ray_gpus: dict[str, float] = Field(
        default_factory=dict, description="GPUs (fractions allowed) per analyzer on Ray"
    )
    confirm_above: float = Field(
        default=0.0, ge=0, description="jobs estimated above this money wait for confirmation"
    )
    currency: str = "USD"
    device_class: str = Field(
        default="cpu", max_length=64, description="what this worker computes on: cpu | cuda:<gpu>"
    )
    cpu_price_per_hour: float = Field(
        default=0.0, ge=0, description="money per CPU-hour on this worker (0: local, free)"
    )
    gpu_price_per_hour: float = Field(
        default=0.0, ge=0, description="money per GPU-hour on this worker (0: local, free)"
    )
    billing_increment_s: float = Field(
        default=0.0, ge=0, description="device time is billed in whole increments (0: exact)"
    )

    @model_validator(mode="after")
    def _known_providers(self) -> ComputeSettings:
        unknown = sorted(set(self.providers) - set(PROVIDER_NAMES))
        if unknown:
            raise ValueError(
                f"unknown GPU provider(s) {unknown} in compute.providers; "
                f"use one of {', '.join(PROVIDER_NAMES)}"
            )
        return self


class BackupSettings(_Section):
    dir: Path | None = Field(
        default=None,
        description="where `aima backup` and POST /api/v1/backups write (outside data_dir)",
    )
    passphrase: SecretStr | None = Field(
        default=None, description="encrypts the audit keyring inside each snapshot"
    )


class AuditSettings(_Section):
    """The audit chain's key and anchors live outside the database (an insider with database
    access can neither re-chain events nor hide a truncated tail)."""

    key_file: Path | None = Field(
        default=None,
        description="HMAC keyring for the audit chain; <user config dir>/aima/audit.key if unset "
        "(never inside data_dir)",
    )
    key: SecretStr | None = Field(
        default=None, description="the chain key itself (64 hex characters), instead of key_file"
    )
    anchor_uri: str | None = Field(
        default=None,
        description="where signed chain heads go: a file path (JSON lines) or s3://bucket/prefix "
        "(object lock); <key dir>/anchors/<database>.jsonl if unset",
    )
    anchor_interval_s: float = Field(
        default=3600, ge=0, description="anchor after a job when the last anchor is older (0: off)"
    )
    anchor_retention_days: int = Field(
        default=3650, ge=1, description="S3 object-lock retention of each anchor"
    )


class EventsSettings(_Section):
    """Domain events (outbox) handed on to webhooks and, when configured, an AMQP exchange."""

    amqp_url: SecretStr | None = Field(
        default=None, description="amqp://user:pass@host:5672/vhost; events are published there"
    )
    amqp_exchange: str = Field(
        default="aima.events", min_length=1, description="durable topic exchange; key = kind"
    )
    amqp_batch: int = Field(default=500, ge=1, le=10_000, description="events per confirm round")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_backoff_base_s: float = Field(default=10.0, gt=0, description="first retry delay")
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0, description="longest retry delay")
    webhook_allow_private: bool = Field(
        default=False,
        description="deliver to loopback, private and link-local addresses (checked after DNS "
        "resolution, at delivery time); off by default against SSRF",
    )
    poll_interval_s: float = Field(
        default=5.0, gt=0, description="embedded pump: how often due deliveries are retried"
    )


class EncryptionSettings(_Section):
    """Envelope encryption at rest: a data key per media (and per person for derived data),
    wrapped by a key-encryption key (KEK) that lives outside the data directory."""

    kek_file: Path | None = Field(
        default=None,
        description="KEK keyring file (JSON, 0600), outside data_dir; encryption is on when set",
    )
    kek: SecretStr | None = Field(
        default=None, description="the KEK itself (64 hex characters), instead of kek_file"
    )
    required: bool = Field(
        default=False,
        description="refuse to start without a KEK (always true when AIMA_ENV=production)",
    )


class PrivacySettings(_Section):
    """Purpose binding (cases) and the deployment's jurisdiction policy."""

    cases_required: bool = Field(
        default=True,
        description="face/voice search, seen-before, dossier export, subject export and erasure "
        "need an open case the caller is a member of",
    )
    jurisdiction: str = Field(
        default="", max_length=64, description="shown in the UI/CLI, e.g. 'EU AI Act, workplace'"
    )
    forbidden_analyzers: list[str] = Field(
        default_factory=list,
        description="analyzers this deployment's law forbids (recorded as disabled: 'policy')",
    )


class RetentionSettings(_Section):
    interval_s: float = Field(
        default=3600, ge=0, description="how often the worker applies retention rules (0: off)"
    )


class QuotaSettings(_Section):
    """Per-user defaults; an Admin can override them per user. 0 means unlimited."""

    uploads_per_day: int = Field(default=0, ge=0)
    bytes_per_day: int = Field(default=0, ge=0)
    gpu_seconds_per_month: float = Field(default=0, ge=0)
    money_per_month: float = Field(default=0, ge=0)
    requests_per_minute: int = Field(
        default=600, ge=0, description="per user (or per source address when anonymous)"
    )


class TracingSettings(_Section):
    """OpenTelemetry traces of API requests and job chunks; nothing is traced unless set."""

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); spans go to "
        "<endpoint>/v1/traces",
    )
    service_name: str = Field(default="aima", min_length=1, max_length=64)
    sample_ratio: float = Field(default=1.0, ge=0, le=1, description="share of traces kept")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIMA_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("aima")),
        description="the library: database, blobs, index, secrets; one per user by default",
    )
    models_dir: Path | None = Field(
        default=None, description="optional/stronger model weights; <data_dir>/models if unset"
    )
    database_url: str | None = Field(
        default=None, description="sqlite file under data_dir if unset"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line with correlation ids"
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0: rate limits and login throttling shared by processes",
    )
    limits: MediaLimits = Field(default_factory=MediaLimits)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    vectors: VectorSettings = Field(default_factory=VectorSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    plugins: list[str] = Field(
        default_factory=list, description="extra modules that register analyzers (import paths)"
    )
    analyzers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-analyzer config, validated by each analyzer"
    )
    disabled_analyzers: list[str] = Field(
        default_factory=list, description="analyzers switched off by policy (recorded as disabled)"
    )
    allow_sensitive_analyzers: bool = Field(
        default=True,
        description="false switches off every biometric analyzer (faces, emotion, speakers)",
    )

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        secret = self.auth.jwt_secret
        if self.env == "production" and (secret is None or len(secret.get_secret_value()) < 32):
            raise ValueError(
                "AIMA_AUTH__JWT_SECRET must be set to at least 32 random characters "
                "when AIMA_ENV=production"
            )
        if self.env == "production" and self.audit.key is None and self.audit.key_file is None:
            raise ValueError(
                "AIMA_AUDIT__KEY_FILE (or AIMA_AUDIT__KEY) must be set when AIMA_ENV=production: "
                "the audit chain key must live outside the data directory"
            )
        if (
            self.env == "production"
            and self.encryption.kek is None
            and (self.encryption.kek_file is None)
        ):
            raise ValueError(
                "AIMA_ENCRYPTION__KEK_FILE (or AIMA_ENCRYPTION__KEK) must be set when "
                "AIMA_ENV=production: media and biometric data are encrypted at rest"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'aima.db').resolve()}"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index"

    @property
    def blob_path(self) -> Path:
        return self.blobs.path or self.data_dir / "blobs"


ENV_PREFIX = "AIMA_"
NESTED = "__"

# AIMA_ variables the project reads that are not settings (grep the repo for ``AIMA_``).
NON_SETTINGS_ENV = frozenset(
    {
        "AIMA_THREADS",  # aima.inference.sessions: intra-op threads per ONNX/TFLite session
        "AIMA_VENV",  # scripts/setup.sh, scripts/test.sh: where the virtualenv lives
        "AIMA_TEST_POSTGRES_URL",  # tests/conftest.py: the PostgreSQL server for tests
        "AIMA_REQUIRE_POSTGRES",  # tests/conftest.py, scripts/test.sh: never skip PostgreSQL
        "AIMA_TEST_AMQP_URL",  # tests/services/test_amqp_events.py: the RabbitMQ for tests
    }
)


def _nested_names(prefix: str, section: type[BaseModel]) -> set[str]:
    """Every variable below a section, nested sections included (AIMA_LLM__VLM__BASE_URL)."""
    names: set[str] = set()
    for sub, field in section.model_fields.items():
        name = f"{prefix}{NESTED}{sub.upper()}"
        names.add(name)
        inner = field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            names |= _nested_names(name, inner)
    return names


def _valid_env_names() -> tuple[set[str], set[str]]:
    """Exact variable names, and prefixes below which any name is valid (free-form dicts)."""
    exact = set(NON_SETTINGS_ENV)
    open_prefixes: set[str] = set()
    for name, field in Settings.model_fields.items():
        top = f"{ENV_PREFIX}{name.upper()}"
        exact.add(top)
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            exact.update(_nested_names(top, section))
        elif name == "analyzers":  # per-analyzer config: each analyzer validates its own
            open_prefixes.add(f"{top}{NESTED}")
    for provider in PROVIDER_NAMES:  # compute.providers is a dict keyed by provider name
        top = f"{ENV_PREFIX}COMPUTE{NESTED}PROVIDERS{NESTED}{provider.upper()}"
        exact.add(top)
        exact.update(_nested_names(top, ProviderSettings))
        open_prefixes.add(f"{top}{NESTED}OPTIONS{NESTED}")
    return exact, open_prefixes


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Fail on any ``AIMA_*`` variable that is neither a setting nor a known project variable.

    Names compare case-insensitively, as pydantic-settings reads them. The error names
    the nearest valid variable (difflib), so ``AIMA_DATABSE_URL`` says ``AIMA_DATABASE_URL``.
    """
    environ = os.environ if environ is None else environ
    exact, open_prefixes = _valid_env_names()
    problems = []
    for raw in sorted(environ):
        name = raw.upper()
        if not name.startswith(ENV_PREFIX) or name in exact:
            continue
        if any(name.startswith(prefix) for prefix in open_prefixes):
            continue
        near = difflib.get_close_matches(name, sorted(exact), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}?" if near else "see README, 'Scaling out: settings'"
        problems.append(f"{raw} ({hint})")
    if problems:
        raise ConfigError(
            "unknown AIMA_ environment variable(s): "
            + "; ".join(problems)
            + ". Remove or rename them; non-setting variables allowed: "
            + ", ".join(sorted(NON_SETTINGS_ENV))
        )


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; ``overrides`` win (tests, CLI flags).

    Raises ``ConfigError`` for an unknown ``AIMA_*`` variable or an invalid value.
    """
    check_environment()
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
