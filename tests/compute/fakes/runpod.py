"""RunPod's GraphQL API on 127.0.0.1: the published schema's subset AIMA uses, executed for real.

Queries are parsed and validated by ``graphql-core`` against the SDL below, so a
misspelt field or a wrong argument type in the adapter fails here exactly as
it would at ``api.runpod.io``. Auth is the ``Authorization: Bearer`` key (the
``api_key`` query parameter is accepted too, as RunPod does); a bad key gets
HTTP 401. Out-of-stock launches answer 200 with RunPod's ``errors[]`` message.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError, build_schema, graphql_sync

from tests.compute.fakes._cloud import CloudFake, Request, Response
from tests.compute.fakes._gpu import Marketplace

SDL = """
type Query {
  gpuTypes(input: GpuTypeFilter): [GpuType]
  pod(input: PodFilter!): Pod
}
type Mutation {
  podFindAndDeployOnDemand(input: PodFindAndDeployOnDemandInput!): Pod
  podRentInterruptable(input: PodRentInterruptableInput!): Pod
  podTerminate(input: PodTerminateInput!): Boolean
}
input GpuTypeFilter { id: String }
input PodFilter { podId: String! }
input PodTerminateInput { podId: String! }
input EnvironmentVariableInput { key: String! value: String! }
input LowestPriceInput {
  gpuCount: Int!
  dataCenterId: String
  secureCloud: Boolean
}
input PodFindAndDeployOnDemandInput {
  cloudType: CloudTypeEnum
  gpuCount: Int
  gpuTypeId: String
  name: String
  imageName: String
  containerDiskInGb: Int
  volumeInGb: Int
  dockerArgs: String
  env: [EnvironmentVariableInput]
  dataCenterId: String
}
input PodRentInterruptableInput {
  bidPerGpu: Float!
  cloudType: CloudTypeEnum
  gpuCount: Int
  gpuTypeId: String
  name: String
  imageName: String
  containerDiskInGb: Int
  volumeInGb: Int
  dockerArgs: String
  env: [EnvironmentVariableInput]
  dataCenterId: String
}
enum CloudTypeEnum { ALL SECURE COMMUNITY }
type GpuType {
  id: String!
  displayName: String
  memoryInGb: Int
  secureCloud: Boolean
  communityCloud: Boolean
  lowestPrice(input: LowestPriceInput): LowestPrice
}
type LowestPrice {
  minimumBidPrice: Float
  uninterruptablePrice: Float
  stockStatus: String
}
type PodRuntime { uptimeInSeconds: Int }
type Pod {
  id: String!
  name: String
  podType: String
  desiredStatus: String
  costPerHr: Float
  lastStatusChange: String
  imageName: String
  runtime: PodRuntime
}
"""

NO_CAPACITY = (
    "There are no longer any instances available with the requested specifications. "
    "Please refresh and try again."
)

# id → (displayName, memoryInGb, on-demand $/h per GPU, minimum bid $/h per GPU, stockStatus)
DEFAULT_GPUS: dict[str, tuple[str, int, float, float, str | None]] = {
    "NVIDIA GeForce RTX 4090": ("RTX 4090", 24, 0.69, 0.35, "High"),
    "NVIDIA RTX A6000": ("RTX A6000", 48, 0.79, 0.45, "Medium"),
    "NVIDIA A100 80GB PCIe": ("A100 80GB PCIe", 80, 1.89, 1.10, "Low"),
    "NVIDIA H100 80GB HBM3": ("H100 80GB HBM3", 80, 3.29, 2.10, None),
}


class RunPodFake(CloudFake):
    def __init__(self, api_key: str = "rp-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.gpus = dict(DEFAULT_GPUS)
        self.market = Marketplace()
        self.schema = build_schema(SDL)
        self.last_errors: list[str] = []

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def route(self, req: Request) -> Response:
        if req.method != "POST" or req.path != "/graphql":
            return Response.json(404, {"error": "not found"})
        if (
            req.headers.get("authorization") != f"Bearer {self.api_key}"
            and req.q("api_key") != self.api_key
        ):
            return Response.json(401, {"error": "Unauthorized"})
        body = req.json()
        result = graphql_sync(
            self.schema,
            body["query"],
            root_value=_Root(self),
            variable_values=body.get("variables"),
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message, "path": e.path} for e in result.errors]
            self.last_errors = [e.message for e in result.errors]
        return Response(200, json.dumps(out).encode(), {"Content-Type": "application/json"})

    def pod(self, pid: str) -> dict[str, Any] | None:
        m = self.market.machines.get(pid)
        if m is None or m.state == "terminated":
            return None
        state = m.poll()
        desired = {"preempted": "EXITED"}.get(state, "RUNNING")
        return {
            "id": m.id,
            "name": m.launch.get("name"),
            "podType": "INTERRUPTABLE" if m.spot else "RESERVED",
            "desiredStatus": desired,
            "costPerHr": m.price,
            "lastStatusChange": "Exited by RunPod: spot outbid" if desired == "EXITED" else "",
            "imageName": m.launch.get("imageName"),
            "runtime": {"uptimeInSeconds": 12} if state == "running" else None,
        }


class _Root:
    """Root resolvers: graphql-core calls attributes named after the root fields."""

    def __init__(self, fake: RunPodFake) -> None:
        self.fake = fake

    def gpuTypes(self, info: Any, input: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [
            {
                "id": gid,
                "displayName": name,
                "memoryInGb": mem,
                "secureCloud": True,
                "communityCloud": True,
                "lowestPrice": _LowestPrice(ondemand, bid, stock),
            }
            for gid, (name, mem, ondemand, bid, stock) in self.fake.gpus.items()
            if not input or not input.get("id") or input["id"] == gid
        ]

    def pod(self, info: Any, input: dict[str, Any]) -> dict[str, Any] | None:
        return self.fake.pod(input["podId"])

    def podFindAndDeployOnDemand(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._deploy(input, spot=False)

    def podRentInterruptable(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._deploy(input, spot=True)

    def podTerminate(self, info: Any, input: dict[str, Any]) -> None:
        m = self.fake.market.machines.get(input["podId"])
        if m is not None:
            m.state = "terminated"
        return None

    def _deploy(self, inp: dict[str, Any], *, spot: bool) -> dict[str, Any]:
        gid = inp.get("gpuTypeId") or ""
        key = f"{gid}|{'spot' if spot else 'ondemand'}"
        gpu = self.fake.gpus.get(gid)
        if gpu is None or gpu[4] is None or key in self.fake.market.no_capacity:
            raise GraphQLError(NO_CAPACITY)
        per_gpu = float(inp["bidPerGpu"]) if spot else gpu[2]
        m = self.fake.market.start(key, per_gpu * int(inp.get("gpuCount") or 1), spot, inp)
        return {
            "id": m.id,
            "podType": "INTERRUPTABLE" if spot else "RESERVED",
            "desiredStatus": "RUNNING",
            "costPerHr": m.price,
            "lastStatusChange": "",
            "runtime": None,
        }


class _LowestPrice:
    """``lowestPrice(input:)`` is a field with arguments, so it resolves through a method."""

    def __init__(self, ondemand: float, bid: float, stock: str | None) -> None:
        self.ondemand, self.bid, self.stock = ondemand, bid, stock

    def __call__(self, info: Any, input: dict[str, Any] | None = None) -> dict[str, Any]:
        count = int((input or {}).get("gpuCount") or 1)
        if self.stock is None:
            return {"minimumBidPrice": None, "uninterruptablePrice": None, "stockStatus": None}
        return {
            "minimumBidPrice": self.bid,
            "uninterruptablePrice": self.ondemand,
            "stockStatus": self.stock if count <= 8 else None,
        }
