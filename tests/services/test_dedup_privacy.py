"""A duplicate upload gives its uploader their own view of the media (SQLite and PostgreSQL).

The same bytes uploaded by a second user are stored once; the second user sees the name
they uploaded it under, never the first uploader's name, id or jobs, unless it was shared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select

from aima.core.errors import Forbidden, NotFound
from aima.runtime import Runtime
from aima.services.access import Principal, cli_principal, media_names
from aima.services.media import MediaFilter
from aima.store.models import AuditEvent, Media, MediaGrant
from tests.mediagen import synth


def _user(rt: Runtime, name: str, role: str = "uploader") -> Principal:
    user = rt.users.create(cli_principal(), name, f"{name}-password-1", role)
    return Principal(user.id, user.username, user.role)


@pytest.fixture
def people(runtime: Runtime) -> dict[str, Principal]:
    return {
        "a": _user(runtime, "alice"),
        "b": _user(runtime, "bob"),
        "c": _user(runtime, "carol"),
        "analyst": _user(runtime, "ann", "analyst"),
        "admin": _user(runtime, "root", "admin"),
    }


def _grant(rt: Runtime, media_id: str, who: Principal) -> MediaGrant | None:
    with rt.db.session() as s:
        return s.get(MediaGrant, (media_id, who.user_id))


def _upload_twice(rt: Runtime, tmp_path: Path, people: dict[str, Principal]) -> tuple[str, str]:
    path = synth.make_image(tmp_path / "x.jpg", seed=11)
    first = rt.ingest.ingest_file(path, people["a"], original_name="secret-meeting-A.mp4")
    again = rt.ingest.ingest_file(path, people["b"], original_name="b.mp4")
    assert (first.status, again.status) == ("created", "duplicate")
    assert again.media_id == first.media_id and again.name == "b.mp4"
    assert first.media_id is not None and first.job_id is not None
    return first.media_id, first.job_id


def test_each_uploader_gets_their_own_grant_and_name(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    media_id, _ = _upload_twice(runtime, tmp_path, people)
    a, b = _grant(runtime, media_id, people["a"]), _grant(runtime, media_id, people["b"])
    assert a is not None and (a.display_name, a.via) == ("secret-meeting-A.mp4", "upload")
    assert b is not None and (b.display_name, b.via) == ("b.mp4", "duplicate")

    a_media, a_view = runtime.media.view(people["a"], media_id)
    assert (a_view.name, a_view.uploaded_by, a_view.access) == (
        "secret-meeting-A.mp4",
        people["a"].user_id,
        "upload",
    )
    _, b_view = runtime.media.view(people["b"], media_id)
    assert (b_view.name, b_view.uploaded_by, b_view.access) == ("b.mp4", None, "duplicate")
    assert b_view.restricted and not a_view.restricted
    _, analyst_view = runtime.media.view(people["analyst"], media_id)
    assert (analyst_view.name, analyst_view.uploaded_by, analyst_view.access) == (
        "secret-meeting-A.mp4",
        people["a"].user_id,
        "all",
    )
    assert a_media.original_name == "secret-meeting-A.mp4"  # the stored row is unchanged
    with pytest.raises(NotFound):
        runtime.media.view(people["c"], media_id)

    # uploading it a third time changes nobody's name
    again = runtime.ingest.ingest_file(
        tmp_path / "x.jpg", people["b"], original_name="other-name.mp4"
    )
    assert again.status == "duplicate"
    assert runtime.media.view(people["b"], media_id)[1].name == "b.mp4"


def test_name_filter_and_sort_use_the_callers_name(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    media_id, _ = _upload_twice(runtime, tmp_path, people)
    other = runtime.ingest.ingest_file(
        synth.make_image(tmp_path / "y.jpg", seed=12), people["b"], original_name="a-first.jpg"
    )
    b = people["b"]
    # the first uploader's name cannot be probed through the name filter...
    assert runtime.media.cards(b, MediaFilter(q="secret")).total == 0
    assert [c.media.id for c in runtime.media.cards(b, MediaFilter(q="b.mp4")).items] == [media_id]
    assert runtime.media.cards(people["a"], MediaFilter(q="secret")).total == 1
    # ...nor through sorting: bob's names order his listing
    page = runtime.media.cards(b, MediaFilter(), sort="name")
    assert [c.view.name for c in page.items if c.view] == ["a-first.jpg", "b.mp4"]
    assert [c.media.id for c in page.items] == [other.media_id, media_id]
    # the card shows no job of alice's: bob submitted none
    card = next(c for c in page.items if c.media.id == media_id)
    assert card.job is None
    own = runtime.media.cards(people["a"], MediaFilter()).items[0]
    assert own.job is not None and own.view is not None and own.view.name.startswith("secret")


def test_a_duplicate_viewer_sees_only_their_own_jobs(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    media_id, job_id = _upload_twice(runtime, tmp_path, people)
    b = people["b"]
    assert runtime.jobs.list(b).total == 0
    with pytest.raises(NotFound):
        runtime.jobs.get(b, job_id)
    mine, _ = runtime.jobs.submit(b, media_id, ["thumbnails"])
    page = runtime.jobs.list(b)
    assert [j.id for j in page.items] == [mine.id]
    assert page.media_names == {mine.id: "b.mp4"}
    alices = runtime.jobs.list(people["a"])  # the uploader sees every job on her media
    assert {j.id for j in alices.items} == {job_id, mine.id}
    assert set(alices.media_names.values()) == {"secret-meeting-A.mp4"}


def test_rows_from_before_views_never_show_the_uploaders_name_to_others(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    """Grants written before display names existed: NULL name, via "upload" for everyone."""
    media_id, _ = _upload_twice(runtime, tmp_path, people)
    with runtime.db.session() as s:
        for grant in s.execute(select(MediaGrant).where(MediaGrant.media_id == media_id)).scalars():
            grant.display_name, grant.via = None, "upload"
    a_view = runtime.media.view(people["a"], media_id)[1]
    b_view = runtime.media.view(people["b"], media_id)[1]
    assert (a_view.name, a_view.access) == ("secret-meeting-A.mp4", "upload")
    assert (b_view.name, b_view.uploaded_by, b_view.access) == (media_id, None, "duplicate")
    assert runtime.media.cards(people["b"], MediaFilter(q="secret")).total == 0
    with runtime.db.session() as s:
        assert media_names(s, people["b"], [media_id]) == {media_id: media_id}
        assert media_names(s, people["a"], [media_id, "med_absent"]) == {
            media_id: "secret-meeting-A.mp4"
        }


def test_sharing_is_for_the_owner_or_an_admin_and_is_audited(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    media_id, job_id = _upload_twice(runtime, tmp_path, people)
    with pytest.raises(NotFound):  # carol cannot see it, so cannot share it either
        runtime.media.share(people["c"], media_id, "bob")
    with pytest.raises(Forbidden):  # bob sees it through his duplicate, but does not own it
        runtime.media.share(people["b"], media_id, "carol")
    with pytest.raises(Forbidden):  # reading everything is not owning
        runtime.media.share(people["analyst"], media_id, "carol")
    with pytest.raises(NotFound):
        runtime.media.share(people["a"], media_id, "nobody")

    done = runtime.media.share(people["a"], media_id, "carol")
    assert (done.username, done.access, done.created) == ("carol", "share", True)
    view = runtime.media.view(people["c"], media_id)[1]
    assert (view.name, view.uploaded_by, view.access) == (
        "secret-meeting-A.mp4",
        people["a"].user_id,
        "share",
    )
    assert runtime.jobs.get(people["c"], job_id).id == job_id
    assert runtime.media.share(people["a"], media_id, "carol").created is False

    # an admin shares with bob: he keeps his own name and now sees whose it is
    upgraded = runtime.media.share(people["admin"], media_id, "bob")
    assert (upgraded.access, upgraded.created) == ("share", False)
    view = runtime.media.view(people["b"], media_id)[1]
    assert (view.name, view.uploaded_by, view.access) == ("b.mp4", people["a"].user_id, "share")
    # sharing with the uploader herself changes nothing
    assert runtime.media.share(people["admin"], media_id, "alice").access == "upload"
    with runtime.db.session() as s:
        shares = s.execute(
            select(AuditEvent.actor, AuditEvent.details)
            .where(AuditEvent.action == "media.share")
            .order_by(AuditEvent.id)
        ).all()
        assert s.get(Media, media_id) is not None
    assert [(actor, d["user"], d["before"]) for actor, d in shares] == [
        ("api:alice", "carol", None),
        ("api:alice", "carol", "share"),
        ("api:root", "bob", "duplicate"),
        ("api:root", "alice", "upload"),
    ]


def test_a_grant_holders_listing_stays_a_constant_number_of_queries(
    runtime: Runtime, tmp_path: Path, people: dict[str, Principal]
) -> None:
    """Names come from one grants query per page, not one per card."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    for i in range(6):
        path = synth.make_image(tmp_path / f"m{i}.jpg", 64, 48, seed=100 + i)
        runtime.ingest.ingest_file(path, people["a"], original_name=f"a-{i}.jpg")
        runtime.ingest.ingest_file(path, people["b"], original_name=f"b-{i}.jpg")
    sizes: dict[int, int] = {}
    event.listen(runtime.db.engine, "before_cursor_execute", count)
    try:
        for limit in (2, 6):
            statements.clear()
            page = runtime.media.cards(people["b"], MediaFilter(), sort="name", limit=limit)
            assert [c.view.name for c in page.items if c.view] == [
                f"b-{i}.jpg" for i in range(limit)
            ]
            sizes[limit] = len(statements)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    assert sizes[2] == sizes[6] <= 7, sizes
