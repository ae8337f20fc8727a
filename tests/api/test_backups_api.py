"""Backups through the API: Admin only, into the configured directory only."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from aima.api.app import create_app
from aima.runtime import Runtime
from tests.api.helpers import Api


def test_the_api_backs_up_to_the_configured_directory_only(
    make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_runtime(backup={"dir": tmp_path / "api-backups"})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        assert (
            client.post("/api/v1/backups", headers=api.user("analyst").headers).status_code == 403
        )
        admin = api.user("admin")
        r = client.post("/api/v1/backups", headers=admin.headers)
        assert r.status_code == 201, r.text
        listed = client.get("/api/v1/backups", headers=admin.headers).json()
        assert [b["snapshot"] for b in listed] == [r.json()["snapshot"]]
        manifest = json.loads(
            (
                tmp_path / "api-backups" / "snapshots" / listed[0]["snapshot"] / "manifest.json"
            ).read_text()
        )
        assert manifest["counts"]["audit_events"] >= 1
