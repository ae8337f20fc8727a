"""The one HTTP path every adapter uses: JSON in/out, retries, and error mapping.

Providers disagree on almost everything but fail in the same few ways: rate
limits (429 + ``Retry-After``), transient 5xx and dropped connections (retry
with backoff, then :class:`ProviderUnavailable`), and bad credentials (401/403,
never retried: :class:`ProviderAuthError`). Any other 4xx comes back as a
:class:`ProviderRequestError` carrying the status and decoded body so the
adapter can turn its provider's "out of stock" wording into :class:`NoCapacity`.

The sleep function is injectable so tests exercise Retry-After without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import SecretStr

from aima.compute.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ProviderRequestError(ProviderError):
    """A non-retryable 4xx other than 401/403; ``status_code`` and ``body`` let adapters map it."""

    def __init__(self, provider: str, message: str, *, status_code: int, body: Any) -> None:
        super().__init__(provider, message, details={"status": status_code})
        self.status_code = status_code
        self.body = body


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before calling a provider unavailable."""

    attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 60.0


class JsonHttp:
    """A thin JSON client bound to one provider's base URL and auth headers."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        bearer: SecretStr | None = None,
        params: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        if bearer is not None:  # the usual scheme: Authorization: Bearer <key>
            self._headers["Authorization"] = f"Bearer {bearer.get_secret_value()}"
        self._params = dict(params or {})
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s)
        self._timeout = timeout_s
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any = None) -> Any:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request with retries; return the decoded JSON body (``None`` when empty)."""
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        query = {**self._params, **(params or {})}
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                resp = self._client.request(
                    method,
                    url,
                    params=query or None,
                    json=json,
                    headers=self._headers,
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                wait = self._backoff(attempt)
            else:
                if resp.status_code in (401, 403):
                    raise ProviderAuthError(
                        self.provider,
                        f"{method} {path} was refused with {resp.status_code}; check the API "
                        f"key in settings (compute.providers.{self.provider}.api_key)",
                        details={"status": resp.status_code},
                    )
                if resp.status_code in RETRY_STATUSES:
                    last = f"HTTP {resp.status_code} {_snippet(resp)}"
                    wait = self._backoff(attempt)
                    if resp.status_code == 429:
                        wait = max(wait, self._retry_after(resp) or 0.0)
                elif resp.status_code >= 400:
                    body = _decode(resp)
                    raise ProviderRequestError(
                        self.provider,
                        f"{method} {path} failed with {resp.status_code}: {_snippet(resp)}",
                        status_code=resp.status_code,
                        body=body,
                    )
                else:
                    return _decode(resp)
            if attempt < self.retry.attempts:
                log.warning(
                    "provider request retried",
                    extra={"provider": self.provider, "path": path, "why": last, "wait_s": wait},
                )
                self._sleep(wait)
        raise ProviderUnavailable(
            self.provider,
            f"{method} {path} failed {self.retry.attempts} times (last: {last}); the provider "
            "is down or rate-limiting us — try again later or use another provider",
        )

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry.max_backoff_s, self.retry.backoff_s * 2 ** (attempt - 1)))

    def _retry_after(self, resp: httpx.Response) -> float | None:
        raw = resp.headers.get("Retry-After")
        if not raw:
            return None
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            seconds = when.timestamp() - time.time()
        return max(0.0, min(seconds, self.retry.max_retry_after_s))


def _decode(resp: httpx.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.text


def _snippet(resp: httpx.Response) -> str:
    text = resp.text.strip().replace("\n", " ")
    return text[:200]
