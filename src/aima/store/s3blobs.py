"""S3-compatible blob storage (AWS S3, MinIO, Cloudflare R2, ...) behind the BlobStore protocol.

Keys are ``<prefix>ab/cd/<sha256>``, the same layout as the local backend. The
sha256 is computed before upload, so an object's key is its checksum; reads
re-hash and refuse a mismatch. Analyzers that need a real file (ffmpeg) get a
temporary local copy through ``local_path``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aima.core.errors import ConfigError, StorageError
from aima.store.blobs import CHUNK, BlobRef, check_key, check_range, sha256_file


class S3BlobStore:
    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key: str | None,
        secret_key: str | None,
        prefix: str = "blobs/",
        spool_dir: Path | None = None,
        create_bucket: bool = True,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - boto3 is a declared dependency
            raise ConfigError("the s3 blob backend needs boto3 (pip install boto3)") from exc
        self.bucket = bucket
        self.prefix = prefix
        self.spool_dir = spool_dir
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        if create_bucket and not self._bucket_exists():
            self._client.create_bucket(Bucket=bucket)

    def _bucket_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
            return True
        except ClientError:
            return False

    def _key(self, sha256: str) -> str:
        check_key(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def content_key(self, sha256: str) -> str:
        return check_key(sha256)

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store bytes verbatim under ``key`` (no checksum: the encrypted store's backend)."""
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="aima-up-") as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.flush()
            self._client.upload_file(spool.name, self.bucket, self._key(key))

    def put_file(self, path: Path) -> BlobRef:
        sha, size = sha256_file(path)
        if self.exists(sha) and self.verify(sha):
            return BlobRef(sha, size, created=False)
        self._client.upload_file(
            str(path), self.bucket, self._key(sha), ExtraArgs={"Metadata": {"sha256": sha}}
        )
        return BlobRef(sha, size, created=True)

    def put_bytes(self, data: bytes) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return BlobRef(sha, len(data), created=False)
        self._client.put_object(
            Bucket=self.bucket, Key=self._key(sha), Body=data, Metadata={"sha256": sha}
        )
        return BlobRef(sha, len(data), created=True)

    def _get(self, sha256: str, byte_range: str | None = None) -> Any:
        from botocore.exceptions import ClientError

        extra = {"Range": byte_range} if byte_range else {}
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(sha256), **extra)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise StorageError(
                    f"blob {sha256} is missing from s3://{self.bucket}/{self.prefix}"
                ) from exc
            raise StorageError(f"blob {sha256}: S3 error {code}: {exc}") from exc

    def get_bytes(self, sha256: str) -> bytes:
        data: bytes = self._get(sha256)["Body"].read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(
                f"blob {sha256} is corrupt (checksum mismatch); run `aima storage verify`"
            )
        return data

    def stream(self, sha256: str) -> Iterator[bytes]:
        body = self._get(sha256)["Body"]
        yield from body.iter_chunks(CHUNK)

    def stream_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        check_range(start, length)
        if length == 0:
            return
        body = self._get(sha256, f"bytes={start}-{start + length - 1}")["Body"]
        yield from body.iter_chunks(CHUNK)

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(sha256))
            return True
        except ClientError:
            return False

    def delete(self, sha256: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._key(sha256))

    def keys(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if len(name) == 64:
                    yield name

    def verify(self, sha256: str) -> bool:
        try:
            digest = hashlib.sha256()
            for chunk in self.stream(sha256):
                digest.update(chunk)
        except StorageError:
            return False
        return digest.hexdigest() == sha256

    @contextmanager
    def local_path(self, sha256: str) -> Iterator[Path]:
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.spool_dir) as tmp:
            path = Path(tmp) / sha256
            digest = hashlib.sha256()
            with path.open("wb") as out:
                for chunk in self.stream(sha256):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise StorageError(f"blob {sha256} is corrupt (checksum mismatch)")
            yield path

    def ping(self) -> None:
        self._client.head_bucket(Bucket=self.bucket)
