"""Signed chain heads kept outside the database (``aima audit anchor``).

An anchor records the chain head (seq, hash, number of events) at a moment, signed with the
Ed25519 key derived from the audit keyring, and goes to a sink the database cannot reach:

* a file (one JSON line per anchor, appended and fsynced; default next to the key file,
  named after the database so two libraries never mix their anchors), or
* an S3 bucket with object lock: each anchor is its own object written in COMPLIANCE mode
  with a retention date, so not even the bucket owner can delete or overwrite it early.

``verify`` checks every anchor's signature and then that the chain still holds every
anchored head; an anchor with a bad signature is itself reported as tampering.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aima.core.clock import utcnow
from aima.core.errors import ConfigError
from aima.core.settings import Settings
from aima.security import audit
from aima.security.audit import ChainReport, Head
from aima.security.audit_keys import AuditKeyring, key_path


class AnchorError(ConfigError):
    """An anchor that cannot be read or whose signature does not verify."""


def database_fingerprint(database_url: str) -> str:
    """Which library an anchor belongs to (the URL without any password)."""
    parsed = urlparse(database_url)
    netloc = parsed.hostname or ""
    if parsed.port:
        netloc += f":{parsed.port}"
    clean = f"{parsed.scheme}://{parsed.username or ''}@{netloc}{parsed.path}"
    return hashlib.sha256(clean.encode()).hexdigest()[:16]


def _payload(record: dict[str, Any]) -> bytes:
    body = {k: record[k] for k in ("database", "seq", "hash", "events", "ts", "key_id")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_anchor(keyring: AuditKeyring, head: Head, database: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "database": database,
        "seq": head.seq,
        "hash": head.hash,
        "events": head.events,
        "ts": utcnow().isoformat(),
        "key_id": keyring.current,
        "public_key": keyring.public_key_hex(),
    }
    record["signature"] = keyring.signing_key().sign(_payload(record)).hex()
    return record


def check_anchor(record: dict[str, Any], keyring: AuditKeyring) -> Head:
    """The head an anchor vouches for; AnchorError when it was not signed by our key."""
    try:
        expected = keyring.public_key_hex()
        if record.get("public_key") != expected:
            raise AnchorError(
                f"anchor for event #{record.get('seq')} was signed by another key "
                f"({str(record.get('public_key'))[:16]}…), not this library's audit key"
            )
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(expected)).verify(
            bytes.fromhex(str(record["signature"])), _payload(record)
        )
        return Head(int(record["seq"]), str(record["hash"]), int(record["events"]))
    except InvalidSignature as exc:
        raise AnchorError(
            f"anchor for event #{record.get('seq')} has an invalid signature (edited anchor)"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AnchorError(f"malformed anchor record: {exc}") from exc


class AnchorSink(Protocol):
    location: str

    def write(self, record: dict[str, Any]) -> None: ...

    def read_all(self) -> list[dict[str, Any]]: ...


class FileAnchorSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def write(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise AnchorError(f"{self.path} line {n} is not valid JSON: {exc}") from exc
        return out


class S3AnchorSink:
    """One object per anchor under ``prefix``, written with COMPLIANCE object lock."""

    def __init__(self, client: Any, bucket: str, prefix: str, retention_days: int) -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.retention = timedelta(days=retention_days)
        self.location = f"s3://{bucket}/{self.prefix}"

    def write(self, record: dict[str, Any]) -> None:
        key = f"{self.prefix}{record['database']}/{int(record['seq']):012d}-{record['ts']}.json"
        until: datetime = utcnow() + self.retention
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(record, sort_keys=True).encode(),
            ContentType="application/json",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=until,
        )

    def read_all(self) -> list[dict[str, Any]]:
        out = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                try:
                    out.append(json.loads(body))
                except ValueError as exc:
                    raise AnchorError(f"{obj['Key']} is not valid JSON: {exc}") from exc
        return out


def make_sink(settings: Settings) -> AnchorSink:
    uri = settings.audit.anchor_uri
    database = database_fingerprint(settings.resolved_database_url)
    if uri is None:
        return FileAnchorSink(key_path(settings).parent / "anchors" / f"{database}.jsonl")
    if uri.startswith("s3://"):
        import boto3

        parsed = urlparse(uri)
        b = settings.blobs
        client = boto3.client(
            "s3",
            endpoint_url=b.s3_endpoint_url,
            region_name=b.s3_region,
            aws_access_key_id=b.s3_access_key.get_secret_value() if b.s3_access_key else None,
            aws_secret_access_key=b.s3_secret_key.get_secret_value() if b.s3_secret_key else None,
        )
        return S3AnchorSink(
            client, parsed.netloc, parsed.path, settings.audit.anchor_retention_days
        )
    path = Path(uri.removeprefix("file://"))
    try:
        path.resolve().relative_to(settings.data_dir.resolve())
    except ValueError:
        return FileAnchorSink(path)
    raise ConfigError(
        f"AIMA_AUDIT__ANCHOR_URI {path} is inside the data directory: anchors must live "
        "where a database insider cannot rewrite them"
    )


class AuditTrail:
    """The chain, its key and its anchors together: what verify and anchor need."""

    def __init__(self, db: Any, keyring: AuditKeyring, sink: AnchorSink, database: str) -> None:
        self.db, self.keyring, self.sink, self.database = db, keyring, sink, database

    @classmethod
    def from_settings(cls, db: Any, keyring: AuditKeyring, settings: Settings) -> AuditTrail:
        database = database_fingerprint(settings.resolved_database_url)
        return cls(db, keyring, make_sink(settings), database)

    def anchors(self) -> list[dict[str, Any]]:
        return [r for r in self.sink.read_all() if r.get("database") == self.database]

    def verify(self) -> ChainReport:
        """Anchors' signatures first (a forged anchor is tampering too), then the chain."""
        heads: list[Head] = []
        for record in self.anchors():
            try:
                heads.append(check_anchor(record, self.keyring))
            except AnchorError as exc:
                with self.db.session() as s:
                    events = audit.head(s)
                return ChainReport(events.events if events else 0, ok=False, problem=str(exc))
        with self.db.session() as s:
            return audit.verify_chain(s, self.keyring, heads)

    def anchor(self) -> dict[str, Any] | None:
        """Export the current head, signed (None when the chain is empty)."""
        with self.db.session() as s:
            current = audit.head(s)
        if current is None:
            return None
        record = make_anchor(self.keyring, current, self.database)
        self.sink.write(record)
        return record

    def anchor_if_due(self, interval_s: float) -> dict[str, Any] | None:
        """Anchor when the head moved and the newest anchor is older than ``interval_s``."""
        if interval_s <= 0:
            return None
        records = self.anchors()
        newest = max(records, key=lambda r: int(r.get("seq", 0)), default=None)
        with self.db.session() as s:
            current = audit.head(s)
        if current is None or (newest is not None and int(newest["seq"]) >= current.seq):
            return None
        if newest is not None:
            age = (utcnow() - datetime.fromisoformat(str(newest["ts"]))).total_seconds()
            if age < interval_s:
                return None
        return self.anchor()
