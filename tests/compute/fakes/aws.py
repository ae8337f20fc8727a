"""EC2 Query API on 127.0.0.1: form-encoded POST, SigV4-checked, XML answers.

boto3's EC2 client talks to it unchanged (``endpoint_url``), so its real request
signing, parameter serialisation (``InstanceType.1``, ``InstanceMarketOptions.
MarketType``) and XML parsing are what the adapter runs through. The signature
is recomputed here from the known secret, so a wrong secret fails like on AWS
(``SignatureDoesNotMatch``, 403) and an unknown key with ``AuthFailure`` (401).

Switches: ``capacity[type] = False`` (``InsufficientInstanceCapacity``),
``boot_polls`` (DescribeInstances reads an instance stays ``pending``),
``interrupt(iid, notice_only=...)`` (spot notice, then termination with
``Server.SpotInstanceTermination``), ``inject`` (``RequestLimitExceeded``, 500).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tests.compute.fakes._cloud import CloudFake, Request, Response

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
GPU_TYPES: dict[str, tuple[str, str, int, int]] = {
    # type: (gpu name, manufacturer, count, MiB per GPU) as DescribeInstanceTypes reports them
    "g4dn.xlarge": ("T4", "NVIDIA", 1, 16384),
    "g5.xlarge": ("A10G", "NVIDIA", 1, 24576),
    "g5.12xlarge": ("A10G", "NVIDIA", 4, 24576),
    "p4d.24xlarge": ("A100", "NVIDIA", 8, 40960),
    "m5.large": ("", "", 0, 0),
}
PRICES = {
    ("g4dn.xlarge", "us-east-1a"): ["0.2100", "0.1893"],
    ("g4dn.xlarge", "us-east-1b"): ["0.2002"],
    ("g5.xlarge", "us-east-1a"): ["0.4512"],
    ("g5.12xlarge", "us-east-1b"): ["2.1034"],
    ("p4d.24xlarge", "us-east-1a"): ["9.8312"],
    ("m5.large", "us-east-1a"): ["0.0391"],
}


def error(status: int, code: str, message: str) -> Response:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error></Errors>"
        "<RequestID>b25f4b9a-0000-4000-8000-000000000000</RequestID></Response>"
    )
    return Response(status, body.encode(), {"Content-Type": "text/xml;charset=UTF-8"})


class Ec2Fake(CloudFake):
    def __init__(self, access_key: str = "AKIAFAKE", secret_key: str = "fake-secret") -> None:
        super().__init__()
        self.access_key = access_key
        self.secret_key = secret_key
        self.capacity: dict[str, bool] = {t: True for t in GPU_TYPES}
        self.instances: dict[str, dict[str, Any]] = {}
        self.boot_polls = 1
        self.params_log: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    # -- plumbing ----------------------------------------------------------------------

    def route(self, req: Request) -> Response:
        if req.method != "POST" or req.path != "/":
            return error(400, "InvalidAction", f"{req.method} {req.path}")
        denied = self._check_signature(req)
        if denied is not None:
            return denied
        params = {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        self.params_log.append(params)
        action = params.get("Action", "")
        handler = getattr(self, f"_{action}", None)
        if handler is None:
            return error(400, "InvalidAction", f"The action {action} is not valid")
        inner: str | Response = handler(params)
        if isinstance(inner, Response):
            return inner
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{NS}">'
            f"<requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>{inner}</{action}Response>"
        )
        return Response(200, xml.encode(), {"Content-Type": "text/xml;charset=UTF-8"})

    def _check_signature(self, req: Request) -> Response | None:
        auth = req.headers.get("authorization", "")
        m = re.match(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/ec2/aws4_request, "
            r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$",
            auth,
        )
        if m is None:
            return error(
                401, "AuthFailure", "AWS was not able to validate the provided access credentials"
            )
        key, date, region, signed, signature = m.groups()
        if key != self.access_key:
            return error(
                401, "AuthFailure", "AWS was not able to validate the provided access credentials"
            )
        names = signed.split(";")
        canonical_headers = "".join(
            f"{n}:{' '.join(req.headers.get(n, '').split())}\n" for n in names
        )
        canonical = "\n".join(
            ["POST", "/", "", canonical_headers, signed, hashlib.sha256(req.body).hexdigest()]
        )
        amz_date = req.headers.get("x-amz-date", "")
        scope = f"{date}/{region}/ec2/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        k = f"AWS4{self.secret_key}".encode()
        for part in (date, region, "ec2", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None

    # -- actions -----------------------------------------------------------------------

    def _DescribeSpotPriceHistory(self, p: dict[str, str]) -> str:
        wanted = _members(p, "InstanceType")
        items = []
        for (type_id, az), prices in PRICES.items():
            if wanted and type_id not in wanted:
                continue
            for n, price in enumerate(prices):  # oldest first; the adapter keeps the newest
                items.append(
                    f"<item><instanceType>{type_id}</instanceType>"
                    "<productDescription>Linux/UNIX</productDescription>"
                    f"<spotPrice>{price}</spotPrice>"
                    f"<timestamp>2026-12-01T0{n}:00:00.000Z</timestamp>"
                    f"<availabilityZone>{az}</availabilityZone></item>"
                )
        # two pages, so NextToken handling is exercised
        half = len(items) // 2
        if p.get("NextToken") == "page2":
            return f"<spotPriceHistorySet>{''.join(items[half:])}</spotPriceHistorySet><nextToken/>"
        return (
            f"<spotPriceHistorySet>{''.join(items[:half])}</spotPriceHistorySet>"
            "<nextToken>page2</nextToken>"
        )

    def _DescribeInstanceTypes(self, p: dict[str, str]) -> str:
        items = []
        for type_id in _members(p, "InstanceType"):
            name, maker, count, mib = GPU_TYPES[type_id]
            gpu = (
                f"<gpuInfo><gpus><item><name>{name}</name><manufacturer>{maker}</manufacturer>"
                f"<count>{count}</count><memoryInfo><sizeInMiB>{mib}</sizeInMiB></memoryInfo>"
                f"</item></gpus><totalGpuMemoryInMiB>{mib * count}</totalGpuMemoryInMiB></gpuInfo>"
                if count
                else ""
            )
            items.append(f"<item><instanceType>{type_id}</instanceType>{gpu}</item>")
        return f"<instanceTypeSet>{''.join(items)}</instanceTypeSet>"

    def _RunInstances(self, p: dict[str, str]) -> str | Response:
        type_id = p.get("InstanceType", "")
        if p.get("InstanceMarketOptions.MarketType") != "spot":
            return error(400, "InvalidParameterValue", "this fake only sells spot")
        if not self.capacity.get(type_id, False):
            return error(
                400,
                "InsufficientInstanceCapacity",
                f"There is no Spot capacity available that matches your request for {type_id}.",
            )
        iid = f"i-0{next(self._ids):016x}"
        inst = {
            "id": iid,
            "type": type_id,
            "az": p.get("Placement.AvailabilityZone", "us-east-1a"),
            "state": "pending",
            "reason": "",
            "polls": 0,
            "sir": f"sir-{iid[2:10]}",
            "sir_code": "fulfilled",
            "user_data": base64.b64decode(p.get("UserData", "")).decode(),
            "max_price": p.get("InstanceMarketOptions.SpotOptions.MaxPrice"),
            "tags": {
                p[k]: p[k.replace(".Key", ".Value")]
                for k in p
                if k.startswith("TagSpecification.1.Tag.") and k.endswith(".Key")
            },
        }
        self.instances[iid] = inst
        return (
            "<reservationId>r-0123456789abcdef0</reservationId><ownerId>111122223333</ownerId>"
            f"<groupSet/><instancesSet>{_instance_xml(inst)}</instancesSet>"
        )

    def _DescribeInstances(self, p: dict[str, str]) -> str | Response:
        items = []
        for iid in _members(p, "InstanceId"):
            inst = self.instances.get(iid)
            if inst is None:
                return error(
                    400, "InvalidInstanceID.NotFound", f"The instance ID '{iid}' does not exist"
                )
            if inst["state"] == "pending":
                inst["polls"] += 1
                if inst["polls"] > self.boot_polls:
                    inst["state"] = "running"
            items.append(_instance_xml(inst))
        return (
            "<reservationSet><item><reservationId>r-0123456789abcdef0</reservationId>"
            f"<ownerId>111122223333</ownerId><instancesSet>{''.join(items)}</instancesSet>"
            "</item></reservationSet>"
        )

    def _DescribeSpotInstanceRequests(self, p: dict[str, str]) -> str:
        items = []
        for sir_id in _members(p, "SpotInstanceRequestId"):
            for inst in self.instances.values():
                if inst["sir"] == sir_id:
                    items.append(
                        f"<item><spotInstanceRequestId>{sir_id}</spotInstanceRequestId>"
                        f"<state>active</state><status><code>{inst['sir_code']}</code>"
                        "<message>...</message></status>"
                        f"<instanceId>{inst['id']}</instanceId></item>"
                    )
        return f"<spotInstanceRequestSet>{''.join(items)}</spotInstanceRequestSet>"

    def _TerminateInstances(self, p: dict[str, str]) -> str | Response:
        items = []
        for iid in _members(p, "InstanceId"):
            inst = self.instances.get(iid)
            if inst is None:
                return error(
                    400, "InvalidInstanceID.NotFound", f"The instance ID '{iid}' does not exist"
                )
            before = inst["state"]
            if before != "terminated":
                inst["state"] = "shutting-down"
                inst["reason"] = "Client.UserInitiatedShutdown"
            items.append(
                f"<item><instanceId>{iid}</instanceId><currentState><code>32</code>"
                f"<name>{inst['state']}</name></currentState><previousState><code>16</code>"
                f"<name>{before}</name></previousState></item>"
            )
        return f"<instancesSet>{''.join(items)}</instancesSet>"

    # -- switches ----------------------------------------------------------------------

    def interrupt(self, iid: str, *, notice_only: bool = False) -> None:
        """Spot interruption: the two-minute notice, then termination by EC2."""
        inst = self.instances[iid]
        inst["sir_code"] = "marked-for-termination"
        if not notice_only:
            inst["state"] = "terminated"
            inst["sir_code"] = "instance-terminated-no-capacity"
            inst["reason"] = "Server.SpotInstanceTermination"


_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48}


def _instance_xml(inst: dict[str, Any]) -> str:
    reason = (
        f"<stateReason><code>{inst['reason']}</code><message>{inst['reason']}</message>"
        "</stateReason>"
        if inst["reason"]
        else ""
    )
    return (
        f"<item><instanceId>{inst['id']}</instanceId><imageId>ami-0abcdef1234567890</imageId>"
        f"<instanceState><code>{_CODES[inst['state']]}</code><name>{inst['state']}</name>"
        f"</instanceState><instanceType>{inst['type']}</instanceType>"
        f"<placement><availabilityZone>{inst['az']}</availabilityZone></placement>"
        f"<instanceLifecycle>spot</instanceLifecycle>"
        f"<spotInstanceRequestId>{inst['sir']}</spotInstanceRequestId>{reason}</item>"
    )


def _members(p: dict[str, str], prefix: str) -> list[str]:
    keys = sorted(
        (k for k in p if re.fullmatch(rf"{prefix}\.\d+", k)), key=lambda k: int(k.split(".")[-1])
    )
    return [p[k] for k in keys]
