"""Fixtures for API tests: the real app over the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aima.api.app import create_app
from aima.media.ffmpeg import ffmpeg_available
from aima.runtime import Runtime, build_runtime
from aima.security.passwords import hash_password
from aima.services import users as users_module
from tests.api.helpers import Api, TestClient
from tests.conftest import make_settings
from tests.mediagen import synth

needs_ffmpeg = pytest.mark.skipif(
    not ffmpeg_available(), reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)"
)


_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _hash_each_password_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 costs ~0.25 s per hash on two cores: hash each test password once per session.

    Logins still verify against a real argon2 hash; only the salt is shared between users.
    """

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        return _HASHES[password]

    monkeypatch.setattr(users_module, "hash_password", cached)


@pytest.fixture
def api(runtime: Runtime) -> Iterator[Api]:
    """The app built from the parametrised runtime (SQLite, then PostgreSQL); no workers."""
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield Api(runtime, client)


@pytest.fixture
def make_runtime(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Runtime]]:
    """Runtimes with setting overrides on the parametrised database; closed afterwards."""
    built: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        rt = build_runtime(make_settings(tmp_path / f"data{len(built)}", db_url, **overrides))
        built.append(rt)
        return rt

    yield make
    for rt in built:
        rt.close()


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Deterministic media bytes, generated once per session."""
    d = tmp_path_factory.mktemp("api-media")
    out = {
        "jpeg": synth.make_image(d / "a.jpg", 320, 240, seed=1).read_bytes(),
        "jpeg2": synth.make_image(d / "b.jpg", 320, 240, seed=2).read_bytes(),
        "jpeg3": synth.make_image(d / "c.jpg", 200, 150, seed=3).read_bytes(),
        "small_jpeg": synth.make_image(d / "s.jpg", 48, 32, seed=4).read_bytes(),
        "png_bomb": synth.make_png_bomb_header(d / "bomb.png").read_bytes(),
        "playlist": synth.make_playlist_as_mp4(d / "pl.mp4").read_bytes(),
        "concat": synth.make_concat_as_mp4(d / "cc.mp4").read_bytes(),
        "text": b"meeting notes: nothing to see here\n" * 4,
    }
    if ffmpeg_available():
        video = synth.make_video(d / "v.mp4", seconds=1.0, width=160, height=120, fps=10)
        out["mp4"] = video.read_bytes()
        out["truncated_mp4"] = synth.make_truncated(video, d / "t.mp4").read_bytes()
    return out
