"""Uploads (per-file outcomes, duplicates, hostile files, limits) and the jobs API end to end."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from aima.analyzers.thumbnails import Thumbnails
from aima.api.app import create_app
from aima.runtime import Runtime
from aima.store.models import AuditEvent, Job, Media, MediaGrant
from tests.api.conftest import needs_ffmpeg
from tests.api.helpers import Api, TestClient, files_under


def _stored_nothing(api: Api) -> None:
    settings = api.runtime.settings
    assert api.count(Media) == 0
    assert api.count(MediaGrant) == 0
    assert api.count(Job) == 0
    assert files_under(settings.blob_path) == set(), "a rejected upload left a blob behind"
    assert files_under(settings.data_dir / "tmp") == set(), "a rejected upload left a temp file"


@needs_ffmpeg
def test_one_request_many_files_each_with_its_own_outcome(
    api: Api, samples: dict[str, bytes]
) -> None:
    who = api.user("uploader")
    r = api.upload(
        who,
        [
            ("photo.jpg", samples["jpeg"]),
            ("clip.mp4", samples["mp4"]),
            ("notes.jpg", samples["text"]),
        ],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 0, 1)
    photo, clip, notes = body["files"]
    assert (photo["name"], photo["status"], photo["kind"]) == ("photo.jpg", "created", "image")
    assert (clip["name"], clip["status"], clip["kind"]) == ("clip.mp4", "created", "video")
    assert photo["sha256"] == hashlib.sha256(samples["jpeg"]).hexdigest()
    assert photo["size"] == len(samples["jpeg"])
    assert photo["media_id"] != clip["media_id"] and photo["job_id"] and clip["job_id"]
    assert (notes["status"], notes["media_id"], notes["error"]["code"]) == (
        "rejected",
        None,
        "media_rejected",
    )
    assert (
        notes["error"]["message"].startswith("notes.jpg: ")
        and "text file" in notes["error"]["message"]
    )
    assert "JPEG" in notes["error"]["message"]  # says what would have been accepted

    # the same bytes again: a duplicate of the same media, no second row or job
    r = api.upload(who, [("renamed.jpg", samples["jpeg"])])
    assert r.status_code == 200
    (dup,) = r.json()["files"]
    assert (dup["status"], dup["media_id"], dup["job_id"]) == ("duplicate", photo["media_id"], None)
    assert (api.count(Media), api.count(Job)) == (2, 2)

    # every file rejected: 415 with each file's reason
    r = api.upload(who, [("a.jpg", samples["text"]), ("b.png", b"")])
    assert r.status_code == 415
    assert [(f["name"], f["status"]) for f in r.json()["files"]] == [
        ("a.jpg", "rejected"),
        ("b.png", "rejected"),
    ]
    assert api.count(Media) == 2


@needs_ffmpeg
def test_hostile_uploads_are_refused_clearly_and_leave_nothing(
    api: Api, samples: dict[str, bytes]
) -> None:
    who = api.user("uploader")
    hostile = [
        ("empty.jpg", b"", "empty.jpg", "empty file"),
        ("cut.mp4", samples["truncated_mp4"], "cut.mp4", "truncated"),
        ("letter.jpg", samples["text"], "letter.jpg", "text file"),
        ("huge.png", samples["png_bomb"], "huge.png", "pixels"),
        ("stream.mp4", samples["playlist"], "stream.mp4", "playlist"),
        ("joined.mp4", samples["concat"], "joined.mp4", "concat"),
        ("../../etc/passwd.jpg", b"root:x:0:0:root:/root:/bin/bash\n", "passwd.jpg", "text file"),
    ]
    for sent_name, data, shown_name, reason in hostile:
        r = api.upload(who, [(sent_name, data)])
        assert r.status_code == 415, f"{sent_name}: {r.status_code} {r.text}"
        (outcome,) = r.json()["files"]
        assert (outcome["name"], outcome["status"]) == (shown_name, "rejected")
        assert outcome["error"]["code"] == "media_rejected"
        message = outcome["error"]["message"]
        assert message.startswith(f"{shown_name}: ") and reason in message, (
            f"{sent_name}: unclear: {message}"
        )
    _stored_nothing(api)
    with api.runtime.db.session() as s:
        rejected = (
            s.execute(select(AuditEvent).where(AuditEvent.outcome == "rejected")).scalars().all()
        )
    assert sorted(e.details["name"] for e in rejected) == sorted(h[2] for h in hostile)


def test_path_in_the_file_name_is_only_a_name(
    api: Api, samples: dict[str, bytes], tmp_path: Path
) -> None:
    who = api.user("uploader")
    before = files_under(tmp_path)
    r = api.upload(who, [("../../etc/passwd.jpg", samples["jpeg"])])
    assert r.status_code == 201, r.text
    (outcome,) = r.json()["files"]
    media = api.client.get(f"/api/v1/media/{outcome['media_id']}", headers=who.headers).json()
    assert media["original_name"] == "passwd.jpg"
    new = files_under(tmp_path) - before
    blobs = api.runtime.settings.blob_path
    outside = {p for p in new if not p.is_relative_to(blobs) and not p.name.startswith("aima.db")}
    assert outside == set(), f"files written outside the blob store: {outside}"
    assert [p.name for p in new if p.is_relative_to(blobs)] == [outcome["sha256"]]
    assert not any(p.name == "passwd.jpg" for p in tmp_path.rglob("*"))


def test_size_limit_gives_413_per_file(
    make_runtime: Callable[..., Runtime], samples: dict[str, bytes]
) -> None:
    limit = 4096
    assert len(samples["small_jpeg"]) < limit < len(samples["jpeg"])
    runtime = make_runtime(limits={"max_bytes": limit})
    with TestClient(create_app(runtime, start_workers=False)) as client:
        api = Api(runtime, client)
        who = api.user("uploader")
        r = api.upload(who, [("big.jpg", samples["jpeg"])])
        assert r.status_code == 413, r.text
        (outcome,) = r.json()["files"]
        assert outcome["error"]["code"] == "payload_too_large"
        assert (
            "big.jpg" in outcome["error"]["message"] and str(limit) in outcome["error"]["message"]
        )
        _stored_nothing(api)

        r = api.upload(who, [("big.jpg", samples["jpeg"]), ("small.jpg", samples["small_jpeg"])])
        assert r.status_code == 201
        assert [f["status"] for f in r.json()["files"]] == ["rejected", "created"]
        assert api.count(Media) == 1


def test_bad_job_requests_get_clear_422s(api: Api, samples: dict[str, bytes]) -> None:
    who = api.user("analyst")
    r = api.client.post(
        "/api/v1/jobs",
        content=b'{"media_id": ',
        headers={**who.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and "JSON" in error["message"]

    for body, where in (
        ({}, "media_id"),
        ({"media_id": "m", "priority": 10**6}, "priority"),
        ({"media_id": "m", "typo": 1}, "typo"),
    ):
        r = api.client.post("/api/v1/jobs", json=body, headers=who.headers)
        assert r.status_code == 422, body
        assert (
            r.json()["error"]["code"] == "invalid_request" and where in r.json()["error"]["message"]
        )

    media_id = api.upload(who, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    r = api.client.post(
        "/api/v1/jobs", json={"media_id": media_id, "analyzers": ["nope"]}, headers=who.headers
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert "nope" in error["message"] and "thumbnails" in error["message"]
    assert error["details"]["available"] == sorted(api.runtime.registry.names())
    assert api.count(Job) == 0

    # the same check on upload happens before anything is stored
    r = api.upload(who, [("b.jpg", samples["jpeg2"])], analyzers="nope")
    assert r.status_code == 422 and "thumbnails" in r.json()["error"]["message"]
    assert api.count(Media) == 1


def _job(api: Api, who: Any, job_id: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/jobs/{job_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_job_lifecycle_through_the_api(api: Api, samples: dict[str, bytes]) -> None:
    who = api.user("analyst")
    media_id = api.upload(who, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    assert api.count(Job) == 0

    # idempotent submit: the header key returns the same job
    keyed = {**who.headers, "Idempotency-Key": "k-123"}
    first = api.client.post("/api/v1/jobs", json={"media_id": media_id}, headers=keyed)
    again = api.client.post("/api/v1/jobs", json={"media_id": media_id}, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    job_id = first.json()["id"]
    assert again.json()["id"] == job_id and first.json()["analyzers"] == ["thumbnails"]
    other = api.client.post(
        "/api/v1/jobs", json={"media_id": media_id, "priority": 3}, headers=who.headers
    )
    assert other.status_code == 201
    other_id = other.json()["id"]
    assert api.count(Job) == 2

    # re-prioritise, cancel and retry a queued job
    r = api.client.patch(f"/api/v1/jobs/{other_id}", json={"priority": -5}, headers=who.headers)
    assert (r.status_code, r.json()["priority"]) == (200, -5)
    r = api.client.post(f"/api/v1/jobs/{other_id}/cancel", headers=who.headers)
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    r = api.client.post(f"/api/v1/jobs/{other_id}/retry", headers=who.headers)
    assert (r.status_code, r.json()["state"]) == (200, "queued")
    api.client.post(f"/api/v1/jobs/{other_id}/cancel", headers=who.headers)

    def ids(**params: str) -> list[str]:
        r = api.client.get("/api/v1/jobs", params=params, headers=who.headers)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["items"]]

    assert ids(state="queued") == [job_id]
    assert ids(state="cancelled") == [other_id]
    assert set(ids()) == {job_id, other_id}
    assert ids(state="running") == []
    assert (
        api.client.get("/api/v1/jobs", params={"state": "bogus"}, headers=who.headers).status_code
        == 422
    )

    assert api.run_jobs() == 1
    detail = _job(api, who, job_id)
    assert (detail["state"], detail["progress"]) == ("succeeded", 1.0)
    assert detail["chunks"] and all(
        c["status"] == "done" and c["analyzer"] == "thumbnails" for c in detail["chunks"]
    )
    (result,) = detail["results"]
    assert ids(state="succeeded") == [job_id]

    # finished jobs cannot be re-prioritised or cancelled; a succeeded one cannot be retried
    for method, url, body in (
        ("PATCH", f"/api/v1/jobs/{job_id}", {"priority": 1}),
        ("POST", f"/api/v1/jobs/{job_id}/cancel", None),
        ("POST", f"/api/v1/jobs/{job_id}/retry", None),
    ):
        r = api.client.request(method, url, json=body, headers=who.headers)
        assert r.status_code == 409, f"{method} {url}: {r.status_code}"
        assert r.json()["error"]["code"] == "conflict" and job_id in r.json()["error"]["message"]

    # results with provenance, the same as in the job detail
    results = api.client.get(f"/api/v1/media/{media_id}/results", headers=who.headers).json()
    assert results == [result]
    assert (result["analyzer"], result["analyzer_version"]) == ("thumbnails", Thumbnails.version)
    assert result["model_id"].startswith("pillow-")
    expected_hash = hashlib.sha256(
        json.dumps(result["config"], sort_keys=True).encode()
    ).hexdigest()
    assert result["config_hash"] == expected_hash and result["job_id"] == job_id

    # the thumbnail artifact is a JPEG of the recorded size
    thumb = result["data"]["thumbnail"]
    r = api.client.get(f"/api/v1/media/{media_id}/artifacts/{thumb}", headers=who.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "JPEG" and image.size == (
        result["data"]["width"],
        result["data"]["height"],
    )
    assert max(image.size) <= 320
    # the media's own blob is not an artifact of it, whatever its sha256
    own = hashlib.sha256(samples["jpeg"]).hexdigest()
    assert (
        api.client.get(f"/api/v1/media/{media_id}/artifacts/{own}", headers=who.headers).status_code
        == 404
    )


def test_download_streams_the_exact_bytes_and_is_audited(
    api: Api, samples: dict[str, bytes]
) -> None:
    who = api.user("analyst")
    media_id = api.upload(who, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    r = api.client.get(
        f"/api/v1/media/{media_id}/content", params={"download": 1}, headers=who.headers
    )
    assert r.status_code == 200
    assert r.content == samples["jpeg"]
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-length"] == str(len(samples["jpeg"]))
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")
    with api.runtime.db.session() as s:
        downloads = (
            s.execute(select(AuditEvent).where(AuditEvent.action == "media.download"))
            .scalars()
            .all()
        )
    assert [(e.actor, e.object_id, e.outcome) for e in downloads] == [
        ("api:analyst", media_id, "ok")
    ]


def test_idempotency_keys_are_private_to_their_user(api: Api, samples: dict[str, bytes]) -> None:
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    hers = api.upload(alice, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    his = api.upload(bob, [("b.jpg", samples["jpeg2"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    key = {"Idempotency-Key": "upload-2024-05-17"}
    r = api.client.post("/api/v1/jobs", json={"media_id": hers}, headers={**alice.headers, **key})
    assert r.status_code == 201
    alices_job = r.json()["id"]

    r = api.client.post("/api/v1/jobs", json={"media_id": his}, headers={**bob.headers, **key})
    assert alices_job not in r.text
    assert r.status_code == 201 and r.json()["media_id"] == his
