"""One small hierarchy of domain errors, each carrying its HTTP status.

Model and service code raises these; the API maps them to JSON in one handler
and the CLI prints ``message``. A message says what happened, to what, and what
to do about it.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

#: PostgreSQL's SQLSTATE for "could not extend file ... No space left on device"
_PG_DISK_FULL = "53100"


class AimaError(Exception):
    """Base of every error AIMA raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    #: seconds after which retrying may succeed (sent as ``Retry-After`` by the API)
    retry_after_s: float | None = None

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(AimaError):
    status = 400
    code = "bad_request"


class InvalidInput(AimaError):
    status = 422
    code = "invalid_input"


class Unauthorized(AimaError):
    status = 401
    code = "unauthorized"


class Forbidden(AimaError):
    status = 403
    code = "forbidden"


class NotFound(AimaError):
    status = 404
    code = "not_found"


class Conflict(AimaError):
    status = 409
    code = "conflict"


class Gone(AimaError):
    """The object exists but its content was deleted on purpose (e.g. by a retention rule)."""

    status = 410
    code = "gone"


class PayloadTooLarge(AimaError):
    status = 413
    code = "payload_too_large"


class MediaRejected(AimaError):
    """An uploaded file is not acceptable media (wrong type, corrupt, over a limit)."""

    status = 415
    code = "media_rejected"


class ConfigError(AimaError):
    """Settings or plug-ins are inconsistent; raised at start-up."""

    status = 500
    code = "config_error"


class LeaseLost(AimaError):
    """A worker tried to commit under a lease it no longer holds (fencing token moved on)."""

    status = 409
    code = "lease_lost"


class AnalyzerError(AimaError):
    """An analyzer failed on a media. ``retryable`` errors are retried with backoff."""

    status = 500
    code = "analyzer_error"

    def __init__(
        self, message: str, *, retryable: bool = False, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable


class StorageError(AimaError):
    """A blob is missing or does not match its checksum."""

    status = 500
    code = "storage_error"


class DiskFull(AimaError):
    """A write found no space left (ENOSPC/EDQUOT): nothing was stored; retry once space is
    freed. The worker puts a job that hits it back in the queue without counting an attempt."""

    status = 507
    code = "insufficient_storage"
    retry_after_s = 60.0


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error in its cause/context chain, is a full disk or quota: an
    ``OSError`` (ENOSPC/EDQUOT), SQLite's "database or disk is full" (its database file or
    write-ahead log could not grow) or PostgreSQL's ``disk_full`` (SQLSTATE 53100). The
    database errors are recognised by their codes, so this module imports no driver."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the chain, once each
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return True
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:  # psycopg 3
            return True
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        if isinstance(orig, BaseException) and id(orig) not in seen:
            current = orig
            continue
        current = current.__cause__ or current.__context__
    return False


class TooManyRequests(AimaError):
    """A rate limit or a login lockout: try again after ``retry_after_s``."""

    status = 429
    code = "too_many_requests"


class ServiceUnavailable(AimaError):
    status = 503
    code = "unavailable"
