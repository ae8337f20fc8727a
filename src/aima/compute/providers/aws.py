"""AWS EC2 spot instances through boto3's EC2 client (Query API, SigV4, XML).

boto3 is already a dependency (the S3 blob store) and lets the endpoint be set,
so the real signing, serialisation and XML parsing run in tests against a local
fake. boto3's own retries are switched off: throttling (``RequestLimitExceeded``),
5xx and lost connections are retried here with the same :class:`RetryPolicy`
(and injectable sleep) the HTTP adapters use, so every provider backs off alike.

Offers are the current spot price per instance type and availability zone
(``DescribeSpotPriceHistory`` from now), with GPU model, count and memory read
from ``DescribeInstanceTypes`` (``GpuInfo``) rather than a hand-kept table.
Preemption shows as ``StateReason`` ``Server.SpotInstanceTermination``; the
two-minute notice as the spot request's status ``marked-for-termination``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from botocore.parsers import ResponseParserError
from pydantic import SecretStr

from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    matches,
    normalize_gpu_name,
)
from aima.compute.providers.http import RetryPolicy
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError
from aima.core.settings import ProviderSettings

log = logging.getLogger(__name__)

DEFAULT_REGIONS = ("us-east-1",)
DEFAULT_INSTANCE_TYPES = (
    "g4dn.xlarge",
    "g5.xlarge",
    "g6.xlarge",
    "p3.2xlarge",
    "g5.12xlarge",
    "p4d.24xlarge",
    "p5.48xlarge",
)
CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "InstanceLimitExceeded",
        "InsufficientCapacity",
        "Unsupported",
    }
)
THROTTLE_CODES = frozenset(
    {"RequestLimitExceeded", "Throttling", "ThrottlingException", "ServiceUnavailable"}
)
AUTH_CODES = frozenset(
    {
        "AuthFailure",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "OptInRequired",
        "Blocked",
    }
)
SPOT_INTERRUPTED = "Server.SpotInstanceTermination"
_NOTICE_CODES = frozenset({"marked-for-termination", "marked-for-stop", "marked-for-hibernation"})
_MODELS_WITH_MEMORY = frozenset({"A100", "H100", "H200", "B200"})


class AwsSpotProvider:
    """EC2 spot GPU instances in one or more regions."""

    name = "aws"

    def __init__(
        self,
        *,
        access_key_id: SecretStr,
        secret_access_key: SecretStr,
        regions: Sequence[str] = DEFAULT_REGIONS,
        instance_types: Sequence[str] = DEFAULT_INSTANCE_TYPES,
        image_id: str | None = None,
        subnet_id: str | None = None,
        security_group_ids: Sequence[str] = (),
        key_name: str | None = None,
        endpoint_url: str | None = None,
        max_price_per_hour: float | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        client: object | None = None,
    ) -> None:
        # ``client`` is accepted so build_providers(..., client=...) works for every
        # provider; boto3 brings its own HTTP stack and ignores it.
        del client
        self.regions = tuple(regions)
        self.instance_types = tuple(instance_types)
        self.image_id = image_id
        self.subnet_id = subnet_id
        self.security_group_ids = tuple(security_group_ids)
        self.key_name = key_name
        self.max_price_per_hour = max_price_per_hour
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._credentials = (access_key_id, secret_access_key)
        self._endpoint_url = endpoint_url
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
        )
        self._clients: dict[str, Any] = {}
        self._gpu_info: dict[tuple[str, str], tuple[str, int, float] | None] = {}

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> AwsSpotProvider:
        if s.api_key is None or s.api_secret is None:
            raise ConfigError(
                "aws: set compute.providers.aws.api_key (access key id) and api_secret "
                "(secret access key) for an IAM user allowed to run EC2 instances"
            )
        opts = s.options
        regions = _csv(opts.get("regions")) or ((s.region,) if s.region else DEFAULT_REGIONS)
        return cls(
            access_key_id=s.api_key,
            secret_access_key=s.api_secret,
            regions=regions,
            instance_types=_csv(opts.get("instance_types")) or DEFAULT_INSTANCE_TYPES,
            image_id=opts.get("image_id"),
            subnet_id=opts.get("subnet_id"),
            security_group_ids=_csv(opts.get("security_group_ids")),
            key_name=opts.get("key_name"),
            endpoint_url=s.base_url,
            max_price_per_hour=s.max_price_per_hour,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    # -- the four verbs ----------------------------------------------------------------

    def offers(self, req: GpuRequirement) -> list[Offer]:
        found: list[Offer] = []
        for region in self.regions:
            if req.regions and not any(region.startswith(w.lower()) for w in req.regions):
                continue
            latest: dict[tuple[str, str], tuple[datetime, float]] = {}
            token = ""
            while True:
                params: dict[str, Any] = {
                    "InstanceTypes": list(self.instance_types),
                    "ProductDescriptions": ["Linux/UNIX"],
                    "StartTime": datetime.now(UTC),
                }
                if token:
                    params["NextToken"] = token
                page = self._call(region, "describe_spot_price_history", **params)
                for rec in page.get("SpotPriceHistory", []):
                    key = (rec["InstanceType"], rec["AvailabilityZone"])
                    seen = latest.get(key)
                    if seen is None or rec["Timestamp"] > seen[0]:
                        latest[key] = (rec["Timestamp"], float(rec["SpotPrice"]))
                token = page.get("NextToken") or ""
                if not token:
                    break
            gpus = self._gpus(region, sorted({t for t, _ in latest}))
            for (type_id, az), (_, price) in latest.items():
                gpu = gpus.get(type_id)
                if gpu is None:
                    continue
                if self.max_price_per_hour is not None and price > self.max_price_per_hour:
                    continue
                offer = Offer(
                    provider=self.name,
                    offer_id=f"{region}/{az}/{type_id}",
                    gpu_type=gpu[0],
                    gpu_count=gpu[1],
                    gpu_memory_gb=gpu[2],
                    price_per_hour=price,
                    region=az,
                    spot=True,
                    available=True,
                )
                if matches(offer, req):
                    found.append(offer)
        return sorted(found, key=lambda o: (o.price_per_hour, o.offer_id))

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        try:
            region, az, type_id = offer.offer_id.split("/")
        except ValueError:
            raise ProviderError(
                self.name, f"offer id {offer.offer_id!r} is not region/zone/type"
            ) from None
        if not self.image_id:
            raise ConfigError(
                "aws: no machine image; set compute.providers.aws.options.image_id to an AMI "
                "with the NVIDIA driver and Docker (e.g. a Deep Learning Base AMI)"
            )
        spot: dict[str, Any] = {
            "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate",
        }
        if self.max_price_per_hour is not None:
            spot["MaxPrice"] = f"{self.max_price_per_hour:.4f}"
        params: dict[str, Any] = {
            "ImageId": self.image_id,
            "InstanceType": type_id,
            "MinCount": 1,
            "MaxCount": 1,
            "Placement": {"AvailabilityZone": az},
            "UserData": startup_script(boot, name=name),
            "InstanceMarketOptions": {"MarketType": "spot", "SpotOptions": spot},
            "InstanceInitiatedShutdownBehavior": "terminate",
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "Name", "Value": name}, {"Key": "aima:worker", "Value": name}],
                }
            ],
        }
        if self.subnet_id:
            params["SubnetId"] = self.subnet_id
        if self.security_group_ids:
            params["SecurityGroupIds"] = list(self.security_group_ids)
        if self.key_name:
            params["KeyName"] = self.key_name
        body = self._call(region, "run_instances", **params)
        inst = body["Instances"][0]
        return Instance(
            provider=self.name,
            instance_id=f"{region}/{inst['InstanceId']}",
            offer_id=offer.offer_id,
            state=_state(inst),
            price_per_hour=offer.price_per_hour,
            detail=f"ec2 state {inst.get('State', {}).get('Name', '?')}",
        )

    def status(self, instance_id: str) -> Instance:
        region, iid = self._split_id(instance_id)
        try:
            body = self._call(region, "describe_instances", InstanceIds=[iid])
        except ProviderError as exc:
            if exc.details.get("aws_code") == "InvalidInstanceID.NotFound":
                return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
            raise
        found = [i for r in body.get("Reservations", []) for i in r.get("Instances", [])]
        if not found:
            return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
        inst = found[0]
        state = _state(inst)
        reason = inst.get("StateReason", {}).get("Code", "")
        detail = f"ec2 state {inst['State']['Name']}" + (f" ({reason})" if reason else "")
        if state == "running" and inst.get("SpotInstanceRequestId"):
            notice = self._spot_notice(region, inst["SpotInstanceRequestId"])
            if notice:
                state, detail = "preempting", f"spot request {notice}"
        az = inst.get("Placement", {}).get("AvailabilityZone", "")
        return Instance(
            provider=self.name,
            instance_id=instance_id,
            offer_id=f"{region}/{az}/{inst.get('InstanceType', '')}",
            state=state,
            price_per_hour=0.0,
            detail=detail,
        )

    def terminate(self, instance_id: str) -> None:
        region, iid = self._split_id(instance_id)
        try:
            self._call(region, "terminate_instances", InstanceIds=[iid])
        except ProviderError as exc:
            if exc.details.get("aws_code") != "InvalidInstanceID.NotFound":
                raise

    # -- helpers -----------------------------------------------------------------------

    def _split_id(self, instance_id: str) -> tuple[str, str]:
        region, sep, iid = instance_id.partition("/")
        if not sep or not iid.startswith("i-"):
            raise ProviderError(self.name, f"instance id {instance_id!r} is not region/i-...")
        return region, iid

    def _spot_notice(self, region: str, request_id: str) -> str:
        body = self._call(
            region, "describe_spot_instance_requests", SpotInstanceRequestIds=[request_id]
        )
        for sir in body.get("SpotInstanceRequests", []):
            code = str(sir.get("Status", {}).get("Code", ""))
            if code in _NOTICE_CODES:
                return code
        return ""

    def _gpus(self, region: str, types: list[str]) -> dict[str, tuple[str, int, float]]:
        missing = [t for t in types if (region, t) not in self._gpu_info]
        if missing:
            body = self._call(region, "describe_instance_types", InstanceTypes=missing)
            for it in body.get("InstanceTypes", []):
                self._gpu_info[(region, it["InstanceType"])] = _gpu_of(it)
            for t in missing:
                self._gpu_info.setdefault((region, t), None)
        return {t: g for t in types if (g := self._gpu_info.get((region, t))) is not None}

    def _client(self, region: str) -> Any:
        if region not in self._clients:
            key, secret = self._credentials
            self._clients[region] = _boto_session().client(
                "ec2",
                region_name=region,
                endpoint_url=self._endpoint_url,
                config=self._config,
                aws_access_key_id=key.get_secret_value(),
                aws_secret_access_key=secret.get_secret_value(),
            )
        return self._clients[region]

    def _call(self, region: str, op: str, **params: Any) -> dict[str, Any]:
        """One EC2 call with AIMA's retry policy and error mapping."""
        method = getattr(self._client(region), op)
        last = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                result: dict[str, Any] = method(**params)
                return result
            except ClientError as exc:
                err = exc.response.get("Error", {})
                code = str(err.get("Code", ""))
                message = str(err.get("Message", ""))
                http = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                if code in AUTH_CODES or http in (401, 403):
                    raise ProviderAuthError(
                        self.name,
                        f"{op} in {region} was refused ({code}: {message}); check the access "
                        "key, secret and IAM permissions (compute.providers.aws)",
                        details={"aws_code": code},
                    ) from exc
                if code in CAPACITY_CODES:
                    raise NoCapacity(
                        self.name,
                        f"{op} in {region}: {code}: {message}; try the next offer",
                        details={"aws_code": code},
                    ) from exc
                if code not in THROTTLE_CODES and http < 500:
                    raise ProviderError(
                        self.name,
                        f"{op} in {region} failed: {code}: {message}",
                        details={"aws_code": code},
                    ) from exc
                last = f"{code or http}: {message}"
            except (ConnectionError, HTTPClientError, BotoCoreError, ResponseParserError) as exc:
                # lost connections, timeouts, and a proxy's non-XML error page
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.retry.attempts:
                wait = min(self.retry.max_backoff_s, self.retry.backoff_s * 2 ** (attempt - 1))
                log.warning(
                    "provider request retried",
                    extra={"provider": self.name, "op": op, "why": last, "wait_s": wait},
                )
                self._sleep(wait)
        raise ProviderUnavailable(
            self.name,
            f"{op} in {region} failed {self.retry.attempts} times (last: {last}); EC2 is "
            "throttling or unavailable — try again later or use another provider",
        )


@functools.cache
def _boto_session() -> boto3.session.Session:
    """One boto3 session per process: it caches the EC2 service model (slow to load).

    It holds no credentials; every client gets the provider's own keys explicitly,
    so nothing is read from the environment or ~/.aws.
    """
    return boto3.session.Session()


def _state(inst: dict[str, Any]) -> str:
    name = str(inst.get("State", {}).get("Name", ""))
    reason = str(inst.get("StateReason", {}).get("Code", ""))
    if name == "pending":
        return "booting"
    if name == "running":
        return "running"
    if name in ("shutting-down", "terminated", "stopping", "stopped"):
        return "preempted" if reason == SPOT_INTERRUPTED else "terminated"
    return "pending"


def _gpu_of(info: dict[str, Any]) -> tuple[str, int, float] | None:
    gpus = info.get("GpuInfo", {}).get("Gpus", [])
    if not gpus:
        return None
    gpu = gpus[0]
    memory_gb = round(float(gpu.get("MemoryInfo", {}).get("SizeInMiB", 0)) / 1024, 1)
    raw = str(gpu.get("Name", "?"))
    if raw.upper() in _MODELS_WITH_MEMORY:
        raw = f"{raw} {round(memory_gb)}GB"
    count = sum(int(g.get("Count", 0)) for g in gpus)
    return normalize_gpu_name(raw), count, memory_gb


def _csv(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())
