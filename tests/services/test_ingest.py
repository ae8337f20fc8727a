"""Ingest through the service layer on SQLite and PostgreSQL, with real files and ffprobe."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from aima.runtime import Runtime
from aima.services.access import Principal, cli_principal
from aima.store.models import AuditEvent, Job, Media, MediaGrant
from tests.mediagen import synth


def _count(rt: Runtime, model: type) -> int:
    with rt.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _blob_files(rt: Runtime) -> list[Path]:
    return [p for p in rt.settings.blob_path.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_folder_ingest_mixed_batch(runtime: Runtime, tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    synth.make_image(src / "photo.jpg", exif_camera="TestCam")
    synth.make_video(src / "sub" / "clip.mp4", seconds=2.0)
    synth.make_audio(src / "sub" / "voice.wav", seconds=1.5)
    (src / "notes.jpg").write_text("this is not an image")
    (src / ".hidden.jpg").write_bytes(b"skipped")

    outcomes = runtime.ingest.ingest_paths([src], cli_principal())

    by_name = {o.name: o for o in outcomes}
    assert set(by_name) == {"photo.jpg", "clip.mp4", "voice.wav", "notes.jpg"}
    assert by_name["notes.jpg"].status == "rejected"
    assert "notes.jpg" in by_name["notes.jpg"].error["message"]  # type: ignore[index]
    for name, kind in (("photo.jpg", "image"), ("clip.mp4", "video"), ("voice.wav", "audio")):
        assert by_name[name].status == "created"
        assert by_name[name].kind == kind
        assert by_name[name].job_id  # default analyzers queued
    assert _count(runtime, Media) == 3
    assert _count(runtime, Job) == 3
    assert len(_blob_files(runtime)) == 3
    with runtime.db.session() as s:
        photo = s.get(Media, by_name["photo.jpg"].media_id)
        assert photo is not None
        assert photo.info["exif"]["camera_model"] == "TestCam" or photo.info["exif"]["camera_make"]
        clip = s.get(Media, by_name["clip.mp4"].media_id)
        assert clip is not None and clip.info["duration_s"] == pytest.approx(2.0, abs=0.15)
        # the stored name is data; the blob is named by its hash
        assert clip.original_name == "clip.mp4"
        actions = (
            s.execute(select(AuditEvent.outcome).where(AuditEvent.action == "media.upload"))
            .scalars()
            .all()
        )
    assert sorted(actions) == ["ok", "ok", "ok", "rejected"]


def test_same_bytes_twice_return_the_existing_media(runtime: Runtime, tmp_path: Path) -> None:
    path = synth.make_image(tmp_path / "a.png", fmt="PNG")
    copy = tmp_path / "renamed.png"
    copy.write_bytes(path.read_bytes())
    first = runtime.ingest.ingest_file(path, cli_principal())
    second = runtime.ingest.ingest_file(copy, cli_principal())
    assert first.status == "created" and second.status == "duplicate"
    assert second.media_id == first.media_id
    assert second.job_id is None
    assert _count(runtime, Media) == 1
    assert len(_blob_files(runtime)) == 1


def test_duplicate_by_another_user_grants_access(runtime: Runtime, tmp_path: Path) -> None:
    admin = cli_principal()
    a = runtime.users.create(admin, "alice", "alice-password", "uploader")
    b = runtime.users.create(admin, "bob", "bob-password-1", "uploader")
    pa = Principal(a.id, a.username, a.role)
    pb = Principal(b.id, b.username, b.role)
    path = synth.make_image(tmp_path / "x.jpg")
    first = runtime.ingest.ingest_file(path, pa, analyze=False)
    assert runtime.media.list(pb).total == 0
    again = runtime.ingest.ingest_file(path, pb, analyze=False)
    assert again.status == "duplicate" and again.media_id == first.media_id
    assert runtime.media.list(pb).total == 1
    with runtime.db.session() as s:
        assert _grants(s) == 2


def _grants(s) -> int:  # type: ignore[no-untyped-def]
    return int(s.execute(select(func.count()).select_from(MediaGrant)).scalar_one())


def test_failed_database_write_leaves_no_blob(runtime: Runtime, tmp_path: Path) -> None:
    """A user id that does not exist violates the foreign key: the transaction fails after
    the blob was written, and the blob must be removed again."""
    ghost = Principal("usr_does_not_exist", "ghost", "uploader")
    path = synth.make_image(tmp_path / "y.jpg")
    with pytest.raises(IntegrityError):
        runtime.ingest.ingest_file(path, ghost, analyze=False)
    assert _count(runtime, Media) == 0
    assert _blob_files(runtime) == []


@pytest.mark.parametrize(
    ("maker", "message"),
    [
        ("empty", "empty"),
        ("text", "text"),
        ("truncated_mp4", "truncated"),
        ("bomb", "pixels"),
        ("playlist", "playlist"),
        ("concat", "concat"),
    ],
)
def test_hostile_files_are_rejected_and_nothing_is_stored(
    sqlite_runtime: Runtime, tmp_path: Path, maker: str, message: str
) -> None:
    rt = sqlite_runtime
    target = tmp_path / "hostile.mp4"
    if maker == "empty":
        target.write_bytes(b"")
    elif maker == "text":
        target = tmp_path / "hostile.jpg"
        target.write_text("hello, I am text\n" * 20)
    elif maker == "truncated_mp4":
        full = synth.make_video(tmp_path / "full.mp4", seconds=2.0)
        synth.make_truncated(full, target, keep_fraction=0.5)
    elif maker == "bomb":
        target = tmp_path / "bomb.png"
        synth.make_png_bomb_header(target)
    elif maker == "playlist":
        synth.make_playlist_as_mp4(target)
    elif maker == "concat":
        synth.make_concat_as_mp4(target)
    outcome = rt.ingest.ingest_file(target, cli_principal())
    assert outcome.status == "rejected"
    assert outcome.error is not None
    assert message in outcome.error["message"].lower()
    assert _count(rt, Media) == 0
    assert _count(rt, Job) == 0
    assert _blob_files(rt) == []


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    from aima.runtime import build_runtime
    from tests.conftest import make_settings

    rt = build_runtime(
        make_settings(tmp_path / "d", f"sqlite:///{tmp_path / 'a.db'}", limits={"max_bytes": 1000})
    )
    try:
        big = synth.make_image(tmp_path / "big.png", width=400, height=400, fmt="PNG")
        outcome = rt.ingest.ingest_file(big, cli_principal())
        assert outcome.status == "rejected"
        assert outcome.error is not None and outcome.error["code"] == "payload_too_large"
        assert "AIMA_LIMITS__MAX_BYTES" in outcome.error["message"]
    finally:
        rt.close()


def test_traversal_name_is_kept_as_data_only(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    path = synth.make_image(tmp_path / "ok.jpg")
    outcome = sqlite_runtime.ingest.ingest_file(
        path, cli_principal(), original_name="../../etc/passwd.jpg", analyze=False
    )
    assert outcome.status == "created"
    with sqlite_runtime.db.session() as s:
        media = s.get(Media, outcome.media_id)
        assert media is not None and media.original_name == "passwd.jpg"
    stored = _blob_files(sqlite_runtime)
    assert [p.name for p in stored] == [outcome.sha256]
    assert not (tmp_path / "etc").exists()


def test_missing_path_is_a_rejection(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    outcome = sqlite_runtime.ingest.ingest_file(tmp_path / "nope.mp4", cli_principal())
    assert outcome.status == "rejected"
    assert "cannot be read" in outcome.error["message"]  # type: ignore[index]
