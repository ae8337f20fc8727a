"""Vast.ai through its REST API (``https://console.vast.ai/api/v0``).

Why not the ``vastai`` SDK: it is a CLI wrapped as a library (it shells its own
argument parser, prints tables, reads the key from ``~/.vast_api_key``) and
pins ``requests``-era dependencies; four documented endpoints cover what the
fleet needs and keep one HTTP path (retries, error mapping) for every provider.

Wire format (from Vast's API reference): ``POST /bundles/`` with a JSON filter
(``{"gpu_ram": {"gte": MB}, "order": [["dph_total", "asc"]], ...}``) lists
offers; ``PUT /asks/{id}/`` rents one (``price`` makes it an interruptible bid)
and answers ``{"success": true, "new_contract": <instance id>}``;
``GET /instances/{id}/`` answers ``{"instances": {...}}``;
``DELETE /instances/{id}/`` destroys. ``gpu_ram`` is in MB, ``reliability2`` 0..1.
An offer rented by someone else between search and launch answers 4xx with
``error: no_such_ask`` or a "not available" message: that is :class:`NoCapacity`.
An interruptible instance that was outbid stops while we still want it running:
that is ``preempted``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from pydantic import SecretStr

from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    ProviderError,
    matches,
    normalize_gpu_name,
    require_key,
)
from aima.compute.providers.http import JsonHttp, ProviderRequestError, RetryPolicy
from aima.core.settings import ProviderSettings

DEFAULT_URL = "https://console.vast.ai/api/v0"

_GONE_ERRORS = ("no_such_ask", "ask_not_available", "no_such_instance")
_GONE_HINTS = ("not available", "no longer available", "already rented", "no such ask")


class VastAiProvider:
    """Vast.ai marketplace: every machine listing is its own offer (on-demand and bid)."""

    name = "vastai"

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str = DEFAULT_URL,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        disk_gb: int = 40,
        limit: int = 64,
        **http_kwargs: Any,
    ) -> None:
        self.disk_gb = disk_gb
        self.limit = limit
        self._http = JsonHttp(
            self.name,
            base_url,
            bearer=api_key,
            client=client,
            timeout_s=timeout_s,
            retry=retry,
            **http_kwargs,
        )

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> VastAiProvider:
        return cls(
            require_key(s, "vastai", "Account → API Keys on console.vast.ai"),
            base_url=s.base_url or DEFAULT_URL,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            disk_gb=int(s.options.get("disk_gb", "40")),
            **kw,
        )

    def offers(self, req: GpuRequirement) -> list[Offer]:
        query: dict[str, Any] = {
            "rentable": {"eq": True},
            "rented": {"eq": False},
            "num_gpus": {"gte": req.gpu_count},
            "order": [["dph_total", "asc"]],
            "type": "on-demand",
            "limit": self.limit,
        }
        if req.min_gpu_memory_gb:
            # hosts report usable MB (a 24 GB card shows 24564), so ask loosely and let
            # matches() judge the rounded GB
            query["gpu_ram"] = {"gte": int(req.min_gpu_memory_gb * 1000)}
        if req.min_reliability:
            query["reliability2"] = {"gte": req.min_reliability}
        body = self._http.post("bundles/", json=query)
        rows = body.get("offers") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise ProviderError(self.name, "offer search answered without an 'offers' list")
        out: list[Offer] = []
        for row in rows:
            memory_gb = round(float(row.get("gpu_ram") or 0) / 1024, 1)
            base = Offer(
                provider=self.name,
                offer_id=f"{row['id']}|ondemand",
                gpu_type=normalize_gpu_name(str(row.get("gpu_name", "?")), memory_gb),
                gpu_count=int(row.get("num_gpus") or 1),
                gpu_memory_gb=memory_gb,
                price_per_hour=float(row["dph_total"]),
                region=_region(row.get("geolocation")),
                spot=False,
                available=bool(row.get("rentable", True)) and not row.get("rented", False),
                reliability=_float_or_none(row.get("reliability2")),
            )
            out.append(base)
            if row.get("min_bid"):
                out.append(
                    replace(
                        base,
                        offer_id=f"{row['id']}|spot",
                        price_per_hour=float(row["min_bid"]),
                        spot=True,
                    )
                )
        return [o for o in out if matches(o, req)]

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        ask_id, _, kind = offer.offer_id.rpartition("|")
        if not ask_id.isdigit() or kind not in ("ondemand", "spot"):
            raise ProviderError(self.name, f"offer id {offer.offer_id!r} is not a Vast.ai offer")
        payload: dict[str, Any] = {
            "client_id": "me",
            "image": boot.image,
            "env": dict(boot.env),
            "disk": self.disk_gb,
            "label": name,
            "runtype": "args",
            "args": list(boot.command),
        }
        if kind == "spot":
            payload["price"] = offer.price_per_hour
        try:
            body = self._http.put(f"asks/{ask_id}/", json=payload)
        except ProviderRequestError as exc:
            if _is_gone(exc.body) or exc.status_code == 404:
                raise NoCapacity(self.name, f"offer {ask_id} is gone: {exc.message}") from exc
            raise
        if not isinstance(body, dict) or not body.get("success") or "new_contract" not in body:
            if isinstance(body, dict) and _is_gone(body):
                raise NoCapacity(self.name, f"offer {ask_id} is gone: {body.get('msg', '')}")
            raise ProviderError(self.name, f"rent of offer {ask_id} failed: {str(body)[:200]}")
        return Instance(
            self.name,
            str(body["new_contract"]),
            offer.offer_id,
            "pending",
            offer.price_per_hour,
        )

    def status(self, instance_id: str) -> Instance:
        try:
            body = self._http.get(f"instances/{instance_id}/")
        except ProviderRequestError as exc:
            if exc.status_code == 404:
                return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
            raise
        row = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(row, dict) or not row:
            return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
        actual = str(row.get("actual_status") or "").lower()
        intended = str(row.get("intended_status") or "running").lower()
        msg = str(row.get("status_msg") or "")
        if actual == "running":
            state = "running"
        elif actual in ("", "created", "loading", "scheduling"):
            state = "booting" if actual == "loading" else "pending"
        elif actual in ("exited", "stopped", "offline", "inactive"):
            outbid = bool(row.get("is_bid")) and intended == "running"
            state = "preempted" if outbid or "outbid" in msg.lower() else "terminated"
        else:
            state = "failed"
        return Instance(
            self.name,
            instance_id,
            "",
            state,
            float(row.get("dph_total") or 0.0),
            msg,
        )

    def terminate(self, instance_id: str) -> None:
        try:
            self._http.delete(f"instances/{instance_id}/")
        except ProviderRequestError as exc:
            if exc.status_code == 404 or _is_gone(exc.body):
                return
            raise


def _is_gone(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    error = str(body.get("error") or "").lower()
    msg = str(body.get("msg") or body.get("message") or "").lower()
    return error in _GONE_ERRORS or any(h in msg for h in _GONE_HINTS)


def _region(geo: Any) -> str | None:
    """``"Texas, US"`` → ``"US-Texas"`` so a region filter of ``"US"`` matches by prefix."""
    if not geo:
        return None
    parts = [p.strip() for p in str(geo).split(",") if p.strip()]
    if len(parts) >= 2:
        return f"{parts[-1]}-{parts[0]}"
    return parts[0] if parts else None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
