"""The composition root: builds every component from settings and hands them on explicitly.

``aima serve``, ``aima worker``, the CLI commands and the tests all start here;
nothing else constructs a database, blob store or registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aima.analyzers.base import AnalyzerServices
from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.budgets import BudgetBook, SpendMeter
from aima.compute.costs import CostModel
from aima.compute.estimate import Estimator
from aima.compute.executors import Executor, build_executor
from aima.compute.fleet import CachedPrices, build_fleet
from aima.compute.inprocess import InProcessExecutor
from aima.core.clock import utcnow
from aima.core.errors import ConfigError
from aima.core.logging import configure_logging
from aima.core.settings import Settings, load_settings
from aima.core.tracing import configure_tracing
from aima.identity.calibration import load_stored
from aima.identity.engine import IdentityEngine
from aima.inference.text_embed import make_text_embedder
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.llm import LlmClients, build_clients
from aima.pipeline.runner import JobRunner
from aima.pipeline.worker import Worker, WorkerPool
from aima.security.audit import KEYRING
from aima.security.audit_anchor import AuditTrail
from aima.security.audit_keys import load_keyring
from aima.security.datakeys import DataKeys
from aima.security.keyring import load_kek_ring
from aima.security.ratelimit import make_counter
from aima.security.secrets import jwt_secret
from aima.security.tokens import TokenCodec
from aima.services.amqp_events import AmqpPublisher
from aima.services.budgets import BudgetService
from aima.services.cases import CaseService
from aima.services.erase_media import MediaEraser
from aima.services.erase_person import PersonEraser
from aima.services.events import EventPump
from aima.services.ingest import IngestService
from aima.services.jobs import JobService
from aima.services.media import MediaService
from aima.services.persons import PersonService
from aima.services.quotas import QuotaService
from aima.services.retention import RetentionService
from aima.services.review import ReviewService
from aima.services.search import SearchService
from aima.services.summaries import SummaryService
from aima.services.system import SystemService
from aima.services.timeline import TimelineService
from aima.services.users import UserService
from aima.services.webhooks import WebhookService
from aima.store import migrate
from aima.store.blobs import BlobStore, LocalBlobStore
from aima.store.crypto_blobs import COLUMN_KEY, EncryptedBlobStore
from aima.store.db import Database
from aima.store.s3blobs import S3BlobStore
from aima.store.sealed import attach_column_key
from aima.store.vectors import VectorStore, make_vector_store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    blobs: BlobStore
    registry: AnalyzerRegistry
    ledger: Ledger
    runner: JobRunner
    users: UserService
    ingest: IngestService
    jobs: JobService
    media: MediaService
    system: SystemService
    timelines: TimelineService
    vectors: VectorStore
    identity: IdentityEngine
    persons: PersonService
    search: SearchService
    llm: LlmClients
    review: ReviewService
    summaries: SummaryService
    budgets: BudgetService
    webhooks: WebhookService
    events: EventPump
    erasure: PersonEraser
    quotas: QuotaService
    retention: RetentionService
    cases: CaseService
    pool: WorkerPool | None = field(default=None)
    executor: Executor = field(default_factory=InProcessExecutor)

    def make_worker(self, worker_id: str | None = None) -> Worker:
        return Worker(
            self.db,
            self.ledger,
            self.runner,
            jobs=self.settings.jobs,
            worker=self.settings.worker,
            worker_id=worker_id,
            after_job=self.after_job,
            tick=self.tick,
        )

    def after_job(self, job_id: str | None, state: JobState | None) -> None:
        """Results just landed (or a worker started): bring persons and the index up to date.

        Never fails the job: identity sync is idempotent and retried after the next job,
        by ``aima persons sync``, or when a worker starts.
        """
        try:
            self.identity.sync()
        except Exception:
            log.exception("identity sync failed; it will be retried", extra={"job_id": job_id})
        try:
            self.system.anchor_audit_if_due(self.settings.audit.anchor_interval_s)
        except Exception:
            log.exception("audit anchoring failed; it will be retried", extra={"job_id": job_id})
        try:
            self.review.sync()  # restraint flags of new scenes results enter the queue
        except Exception:
            log.exception("review queue sync failed; it will be retried", extra={"job_id": job_id})
        try:  # stored summaries whose facts changed: an extractive refresh, no model call
            if job_id is not None:
                self.summaries.refresh_after_job(job_id)
        except Exception:
            log.exception("summary refresh failed; read it to rewrite", extra={"job_id": job_id})
        self.events.nudge()  # webhooks and AMQP from the outbox; never raises or waits

    def tick(self) -> None:
        """Each worker loop turn: retention rules that are due (cheap when none is)."""
        try:
            self.retention.run_due(utcnow())
        except Exception:
            log.exception("retention run failed; it is retried within a minute")

    def start_workers(self) -> None:
        if self.pool is None:
            self.pool = WorkerPool(lambda _i: self.make_worker(), self.settings.worker.concurrency)
            self.pool.start()
            self.events.start()  # retries come due without a job finishing

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
            self.pool = None
        self.events.stop()
        self.executor.close()
        self.llm.close()
        self.vectors.close()
        self.db.dispose()


def make_blob_store(settings: Settings, db: Database | None = None) -> BlobStore:
    """The configured backend; sealed by :class:`EncryptedBlobStore` when a KEK is configured.

    ``db`` holds the data keys (a private connection is opened when none is given).
    """
    raw: LocalBlobStore | S3BlobStore
    if settings.blobs.backend == "local":
        raw = LocalBlobStore(settings.blob_path)
    else:
        b = settings.blobs
        raw = S3BlobStore(
            bucket=b.s3_bucket,
            endpoint_url=b.s3_endpoint_url,
            region=b.s3_region,
            access_key=b.s3_access_key.get_secret_value() if b.s3_access_key else None,
            secret_key=b.s3_secret_key.get_secret_value() if b.s3_secret_key else None,
            prefix=b.s3_prefix,
            spool_dir=settings.data_dir / "tmp",
        )
    ring = load_kek_ring(settings)  # None: encryption off (refused where it is required)
    if ring is None:
        return raw
    keys = DataKeys(db or Database(settings.resolved_database_url), ring)
    return EncryptedBlobStore(raw, keys, spool_dir=settings.data_dir / "tmp")


def build_runtime(settings: Settings | None = None, *, upgrade_db: bool = True) -> Runtime:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(settings.tracing)  # off (a no-op) unless an OTLP endpoint is set
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    keyring = load_keyring(settings)  # the audit chain's key, held outside the database
    db.info[KEYRING] = keyring
    if upgrade_db:
        migrate.upgrade(db)
    elif not migrate.is_current(db):
        raise ConfigError("the database schema is not current; run `aima db upgrade`")
    blobs = make_blob_store(settings, db)
    if isinstance(blobs, EncryptedBlobStore):  # SealedBytes columns (embeddings) too
        attach_column_key(db.engine, blobs.data_keys.system_key(COLUMN_KEY))
    llm = build_clients(settings, db)
    review = ReviewService(db, blobs)
    registry = AnalyzerRegistry(
        settings,
        services=AnalyzerServices(llm=llm, review_decisions=lambda _name: review.decisions()),
    )
    ledger = Ledger(db, settings.jobs)
    codec = TokenCodec(
        jwt_secret(settings),
        algorithm=settings.auth.algorithm,
        audience=settings.auth.audience,
        issuer=settings.auth.issuer,
        access_ttl_s=settings.auth.access_ttl_s,
    )
    load_stored(db)  # thresholds calibrated on the user's data (aima calibrate)
    vectors = make_vector_store(settings, db)
    text_embedder = make_text_embedder(  # None: semantic search off
        settings.search.semantic, registry.models, settings.search.embed_batch
    )
    identity = IdentityEngine(db, vectors, settings.identity, text_embedder)
    executor = build_executor(settings)  # in-process, or Ray actors (connected on first use)
    summaries = SummaryService(db, TimelineService(db), llm.text)
    costs = CostModel(db)  # measured device seconds per analyzer (compute/costs.py)
    budget_book = BudgetBook(db, currency=settings.compute.currency)
    spend_meter = SpendMeter(costs, budget_book, settings.compute)
    webhooks = WebhookService(db, settings.events)
    amqp_url = settings.events.amqp_url
    amqp = (
        AmqpPublisher(
            db,
            amqp_url.get_secret_value(),
            settings.events.amqp_exchange,
            batch=settings.events.amqp_batch,
        )
        if amqp_url is not None
        else None
    )
    rt = Runtime(
        settings=settings,
        db=db,
        blobs=blobs,
        registry=registry,
        ledger=ledger,
        runner=JobRunner(db, ledger, registry, blobs, settings.decode, executor, spend=spend_meter),
        users=UserService(db, codec, settings.auth, counter=make_counter(settings.redis_url)),
        ingest=IngestService(
            db, blobs, settings.limits, ledger, registry, settings.jobs.default_analyzers
        ),
        jobs=JobService(
            db,
            ledger,
            registry,
            # live offers of the configured GPU providers (none configured: no offers, no calls)
            estimator=Estimator(
                costs, settings.compute, prices=CachedPrices(build_fleet(settings, db))
            ),
            budgets=budget_book,
        ),
        media=MediaService(db, blobs),
        timelines=TimelineService(db),
        vectors=vectors,
        identity=identity,
        persons=PersonService(db, identity, summaries),
        search=SearchService(
            db, identity, registry, settings.limits, settings.decode, executor, settings.search
        ),
        system=SystemService(
            db,
            blobs,
            worker_stale_s=max(30.0, 3 * settings.jobs.heartbeat_s),
            audit_trail=AuditTrail.from_settings(db, keyring, settings),
            data_dir=settings.data_dir,
            min_free_bytes=settings.limits.min_free_bytes,
        ),
        executor=executor,
        llm=llm,
        review=review,
        summaries=summaries,
        budgets=BudgetService(db, budget_book, costs),
        webhooks=webhooks,
        events=EventPump(webhooks, amqp, interval_s=settings.events.poll_interval_s),
        erasure=PersonEraser(db, blobs, identity, vectors),
        quotas=QuotaService(
            db,
            settings.quotas,
            make_counter(settings.redis_url),
            currency=settings.compute.currency,
        ),
        retention=RetentionService(db, blobs, MediaEraser(db, blobs, identity), settings.retention),
        cases=CaseService(db, settings.privacy),
    )
    rt.ingest.gate = rt.jobs.estimate_new  # upload-time jobs pass the same cost gate
    rt.jobs.quotas = rt.quotas  # GPU-seconds / money quotas at job creation and confirmation
    return rt
