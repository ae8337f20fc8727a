"""DELETE /api/v1/media/{id} through the real app (SQLite and PostgreSQL): what goes, what stays,
who may, and that shared content-addressed blobs survive until their last reference goes."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select, update

from aima.core.ids import new_id
from aima.services.access import cli_principal
from aima.store.models import (
    AnalysisResult,
    Job,
    Media,
    MediaGrant,
    Observation,
    Person,
    TextSegment,
    VectorOutbox,
)
from tests.api.helpers import Account, Api
from tests.api.test_persons_api import build_world

M = "/api/v1/media"


def _rows(api: Api, model: Any, *where: Any) -> int:
    with api.runtime.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def _delete(api: Api, who: Account, media_id: str, status: int = 200) -> dict[str, Any]:
    r = api.client.delete(f"{M}/{media_id}", headers=who.headers)
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def _upload(api: Api, who: Account, name: str, data: bytes) -> str:
    r = api.upload(who, [(name, data)], analyze="false")
    assert r.status_code in (200, 201), r.text
    media_id: str = r.json()["files"][0]["media_id"]
    return media_id


def test_delete_removes_everything_derived_and_drops_unnamed_empty_persons(api: Api) -> None:
    world = build_world(api.runtime)
    admin = api.user("admin")
    meeting = world.media["meeting"]
    with api.runtime.db.session() as s:
        observed = set(
            s.execute(select(Observation.id).where(Observation.media_id == meeting)).scalars()
        )
        outbox_before = s.execute(select(func.max(VectorOutbox.id))).scalar_one() or 0
    assert _rows(api, TextSegment, TextSegment.media_id == meeting) >= 1
    hits = api.client.get("/api/v1/search/text", params={"q": "budget"}, headers=admin.headers)
    assert [h["media_id"] for h in hits.json()["results"]] == [meeting]

    report = _delete(api, admin, meeting)

    assert report == {
        "media_id": meeting,
        "results": 3,  # faces, speakers, transcribe
        "jobs": 1,
        "observations": 3,  # alice's and bob's face tracks, the voice
        "text_segments": report["text_segments"],
        "grants": 0,
        "persons_removed": 1,  # the voice: unnamed and seen nowhere else
        "blobs_deleted": 0,  # hand-made rows: no stored blob behind their keys
    }
    assert report["text_segments"] >= 1
    for model in (AnalysisResult, Job, Observation, TextSegment, MediaGrant):
        assert _rows(api, model, model.media_id == meeting) == 0, model
    assert api.client.get(f"{M}/{meeting}", headers=admin.headers).status_code == 404
    # every deleted observation's vector goes through the outbox (indexes replay deletes)
    with api.runtime.db.session() as s:
        queued = set(
            s.execute(select(VectorOutbox.item_id).where(VectorOutbox.id > outbox_before)).scalars()
        )
    assert queued == observed
    hits = api.client.get("/api/v1/search/text", params={"q": "budget"}, headers=admin.headers)
    assert hits.json()["results"] == []
    # alice and bob are seen elsewhere and stay; the voice person is gone
    assert _rows(api, Person, Person.id == world.persons["voice"]) == 0
    for who in ("alice", "bob"):
        person = api.client.get(f"/api/v1/persons/{world.persons[who]}", headers=admin.headers)
        assert person.status_code == 200 and person.json()["media"] == 1
    events = api.runtime.system.audit_events(cli_principal(), action="media.delete", limit=5)
    assert [(e.actor, e.object_id) for e in events] == [("api:admin", meeting)]
    assert events[0].details["observations"] == 3
    assert api.client.get("/api/v1/audit/verify", headers=admin.headers).json()["ok"] is True


def test_named_person_is_kept_with_no_appearances(api: Api) -> None:
    world = build_world(api.runtime)
    admin = api.user("admin")
    carol = world.persons["carol"]
    r = api.client.patch(f"/api/v1/persons/{carol}", json={"name": "Carol"}, headers=admin.headers)
    assert r.status_code == 200, r.text

    report = _delete(api, admin, world.media["lobby"])

    assert report["persons_removed"] == 0  # alice is in the meeting, carol is named
    person = api.client.get(f"/api/v1/persons/{carol}", headers=admin.headers).json()
    assert (person["name"], person["media"], person["faces"], person["observations"]) == (
        "Carol",
        0,
        0,
        [],
    )


def test_who_may_delete(api: Api, samples: dict[str, bytes]) -> None:
    ann, ben = api.user("uploader", "ann"), api.user("uploader", "ben")
    analyst, viewer, admin = api.user("analyst"), api.user("viewer"), api.user("admin")
    anns, bens = (
        _upload(api, ann, "ann.jpg", samples["jpeg"]),
        _upload(api, ben, "b.jpg", samples["jpeg2"]),
    )

    # someone else's media is "not found", exactly like an unknown id
    assert _delete(api, ann, bens, 404)["error"]["code"] == "not_found"
    assert _delete(api, analyst, anns, 404)["error"]["code"] == "not_found"
    assert _delete(api, ann, "med_00000000000000000000000000000000", 404)
    assert _delete(api, viewer, anns, 403)["error"]["code"] == "forbidden"
    assert _rows(api, Media) == 2

    # the uploader deletes their own; the admin anyone's
    assert _delete(api, ann, anns)["grants"] == 1
    assert _delete(api, admin, bens)["media_id"] == bens
    assert _rows(api, Media) == 0
    assert _delete(api, ann, anns, 404)  # gone


def test_shared_or_running_media_is_refused(api: Api, samples: dict[str, bytes]) -> None:
    ann, ben, admin = api.user("uploader", "ann"), api.user("uploader", "ben"), api.user("admin")
    media_id = _upload(api, ann, "ann.jpg", samples["jpeg"])
    assert _upload(api, ben, "same-bytes.jpg", samples["jpeg"]) == media_id  # ben is granted it
    assert _delete(api, ann, media_id, 409)["error"]["code"] == "conflict"
    with api.runtime.db.session() as s:
        s.add(Job(id=new_id("job"), media_id=media_id, analyzers=["thumbnails"], state="running"))
    assert "running job" in _delete(api, admin, media_id, 409)["error"]["message"]
    with api.runtime.db.session() as s:
        s.execute(update(Job).values(state="cancelled"))
    assert _delete(api, admin, media_id)["grants"] == 2


def test_blobs_go_with_their_last_reference(api: Api, samples: dict[str, bytes]) -> None:
    admin = api.user("admin")
    blobs = api.runtime.blobs
    first = _upload(api, admin, "one.jpg", samples["jpeg"])
    second = _upload(api, admin, "two.jpg", samples["jpeg2"])
    shared = blobs.put_bytes(b"a thumbnail both media happen to share").sha256
    own = blobs.put_bytes(b"a waveform only the first media has").sha256
    with api.runtime.db.session() as s:
        media = {m.id: m.sha256 for m in s.execute(select(Media)).scalars()}
        for media_id, data in (
            (first, {"thumbnail": shared, "waveform": own}),
            (second, {"thumbnail": shared, "waveform": None}),
        ):
            job_id = new_id("job")
            s.add(Job(id=job_id, media_id=media_id, analyzers=["thumbnails"], state="succeeded"))
            s.flush()
            s.add(
                AnalysisResult(
                    id=new_id("res"),
                    media_id=media_id,
                    job_id=job_id,
                    analyzer="thumbnails",
                    analyzer_version="1",
                    model_id="thumbnails",
                    config={},
                    config_hash=hashlib.sha256(b"").hexdigest(),
                    data=data,
                )
            )
    assert all(blobs.exists(k) for k in (*media.values(), shared, own))

    report = _delete(api, admin, first)

    assert (report["results"], report["jobs"], report["blobs_deleted"]) == (1, 1, 2)
    assert not blobs.exists(media[first]) and not blobs.exists(own)
    assert blobs.exists(shared) and blobs.exists(media[second])
    thumb = api.client.get(f"{M}/{second}/artifacts/{shared}", headers=admin.headers)
    assert thumb.status_code == 200

    assert _delete(api, admin, second)["blobs_deleted"] == 2
    assert not blobs.exists(shared) and not blobs.exists(media[second])
