"""GET /api/v1/settings: the effective settings for administrators, every secret redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from aima.api.routes.settings_view import REDACTED, flatten
from aima.core.settings import Settings
from tests.api.helpers import PASSWORD, Api
from tests.conftest import TEST_SECRET

URL = "/api/v1/settings"


def _items(body: dict[str, Any]) -> dict[str, Any]:
    return {i["key"]: i for i in body["items"]}


def test_admin_sees_the_effective_settings_with_secrets_redacted(api: Api) -> None:
    admin = api.user("admin")
    r = api.client.get(URL, headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["env"] == "test"
    items = _items(body)
    assert items["auth.jwt_secret"] == {
        "key": "auth.jwt_secret",
        "value": REDACTED,
        "redacted": True,
    }
    assert items["jobs.chunk_s"]["value"] == api.runtime.settings.jobs.chunk_s
    assert items["jobs.default_analyzers"]["value"] == ["thumbnails"]
    assert items["data_dir"]["value"] == str(api.runtime.settings.data_dir)
    assert items["blobs.s3_secret_key"]["value"] is None  # unset: nothing to hide
    # the database URL is the resolved one; a PostgreSQL password never leaves the server
    db = items["database_url"]["value"]
    assert db.split("://")[0] == api.runtime.settings.resolved_database_url.split("://")[0]
    assert TEST_SECRET not in r.text and PASSWORD not in r.text
    password = api.runtime.settings.resolved_database_url.partition("://")[2]
    if "@" in password and ":" in password.split("@")[0]:
        assert password.split("@")[0].split(":")[1] not in r.text
        assert f":{REDACTED}@" in db
    keys = [i["key"] for i in body["items"]]
    assert keys == sorted(keys)


def test_only_administrators_may_read_the_settings(api: Api) -> None:
    for role in ("analyst", "uploader", "viewer", "auditor"):
        r = api.client.get(URL, headers=api.user(role).headers)
        assert r.status_code == 403, (role, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    assert api.client.get(URL).status_code == 401


def test_every_kind_of_secret_is_redacted(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url="postgresql://aima:hunter2@db.internal:5432/aima",
        auth={"jwt_secret": "j" * 40},
        blobs={"s3_access_key": "AKIAEXAMPLE", "s3_secret_key": "s3-secret-value"},
        vectors={"milvus_token": "milvus-token-value", "milvus_uri": "http://u:pw1@milvus:19530"},
        analyzers={"ocr": {"api_key": "ocr-key", "lang": "en"}, "x": {"auth": {"password": "p"}}},
        plugins=["my.plugin"],
    )
    dumped = settings.model_dump(mode="python")
    dumped["extra"] = {"nested": [{"token": "tok-in-list"}, "plain"], "bearer": SecretStr("sec")}
    items = {i.key: i for i in flatten(dumped)}
    text = repr([i.model_dump() for i in items.values()])
    for secret in (
        "j" * 40,
        "AKIAEXAMPLE",
        "s3-secret-value",
        "milvus-token-value",
        "hunter2",
        "pw1",
        "ocr-key",
        "tok-in-list",
        "'sec'",
    ):
        assert secret not in text, secret
    for key in (
        "auth.jwt_secret",
        "blobs.s3_access_key",
        "blobs.s3_secret_key",
        "vectors.milvus_token",
        "analyzers.ocr.api_key",
        "analyzers.x.auth.password",
        "extra.nested.0.token",
        "extra.bearer",
    ):
        assert items[key].value == REDACTED and items[key].redacted, key
    assert items["database_url"].value == f"postgresql://aima:{REDACTED}@db.internal:5432/aima"
    assert items["vectors.milvus_uri"].value == f"http://u:{REDACTED}@milvus:19530"
    assert items["analyzers.ocr.lang"].value == "en" and not items["analyzers.ocr.lang"].redacted
    assert items["extra.nested.1"].value == "plain"
    assert items["plugins"].value == ["my.plugin"]
