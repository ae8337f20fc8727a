"""The composition root: builds every component from settings and hands them on explicitly.

``aima serve``, ``aima worker``, the CLI commands and the tests all start here;
nothing else constructs a database, blob store or registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import ConfigError
from aima.core.logging import configure_logging
from aima.core.settings import Settings, load_settings
from aima.identity.calibration import load_stored
from aima.identity.engine import IdentityEngine
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.pipeline.runner import JobRunner
from aima.pipeline.worker import Worker, WorkerPool
from aima.security.secrets import jwt_secret
from aima.security.tokens import TokenCodec
from aima.services.ingest import IngestService
from aima.services.jobs import JobService
from aima.services.media import MediaService
from aima.services.persons import PersonService
from aima.services.search import SearchService
from aima.services.system import SystemService
from aima.services.timeline import TimelineService
from aima.services.users import UserService
from aima.store import migrate
from aima.store.blobs import BlobStore, LocalBlobStore
from aima.store.db import Database
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
    pool: WorkerPool | None = field(default=None)

    def make_worker(self, worker_id: str | None = None) -> Worker:
        return Worker(
            self.db,
            self.ledger,
            self.runner,
            jobs=self.settings.jobs,
            worker=self.settings.worker,
            worker_id=worker_id,
            after_job=self.after_job,
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

    def start_workers(self) -> None:
        if self.pool is None:
            self.pool = WorkerPool(lambda _i: self.make_worker(), self.settings.worker.concurrency)
            self.pool.start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.stop()
            self.pool = None
        self.vectors.close()
        self.db.dispose()


def make_blob_store(settings: Settings) -> BlobStore:
    if settings.blobs.backend == "local":
        return LocalBlobStore(settings.blob_path)
    from aima.store.s3blobs import S3BlobStore

    b = settings.blobs
    return S3BlobStore(
        bucket=b.s3_bucket,
        endpoint_url=b.s3_endpoint_url,
        region=b.s3_region,
        access_key=b.s3_access_key.get_secret_value() if b.s3_access_key else None,
        secret_key=b.s3_secret_key.get_secret_value() if b.s3_secret_key else None,
        prefix=b.s3_prefix,
        spool_dir=settings.data_dir / "tmp",
    )


def build_runtime(settings: Settings | None = None, *, upgrade_db: bool = True) -> Runtime:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    if upgrade_db:
        migrate.upgrade(db)
    elif not migrate.is_current(db):
        raise ConfigError("the database schema is not current; run `aima db upgrade`")
    blobs = make_blob_store(settings)
    registry = AnalyzerRegistry(settings)
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
    identity = IdentityEngine(db, vectors, settings.identity)
    return Runtime(
        settings=settings,
        db=db,
        blobs=blobs,
        registry=registry,
        ledger=ledger,
        runner=JobRunner(db, ledger, registry, blobs, settings.decode),
        users=UserService(db, codec, settings.auth),
        ingest=IngestService(
            db, blobs, settings.limits, ledger, registry, settings.jobs.default_analyzers
        ),
        jobs=JobService(db, ledger, registry),
        media=MediaService(db, blobs),
        timelines=TimelineService(db),
        vectors=vectors,
        identity=identity,
        persons=PersonService(db, identity),
        search=SearchService(db, identity, registry, settings.limits, settings.decode),
        system=SystemService(db, blobs, worker_stale_s=max(30.0, 3 * settings.jobs.heartbeat_s)),
    )
