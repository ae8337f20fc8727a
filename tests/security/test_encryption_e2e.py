"""End to end with encryption on: upload a generated image and video through the real API,
analyse them with the real worker (thumbnails), read the results, fetch an artifact and play
the video with HTTP Range — while no uploaded byte sits on disk in the clear."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aima.api.app import create_app
from aima.runtime import Runtime, build_runtime
from aima.store.crypto_blobs import EncryptedBlobStore
from aima.store.sealed import CHUNK
from tests.api.conftest import needs_ffmpeg
from tests.api.helpers import Api, TestClient
from tests.conftest import make_settings
from tests.mediagen import synth


@pytest.fixture
def api(tmp_path: Path, db_url: str) -> Iterator[Api]:
    settings = make_settings(
        tmp_path / "data", db_url, encryption={"kek_file": tmp_path / "keys" / "kek.json"}
    )
    rt: Runtime = build_runtime(settings)
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            yield Api(rt, client)
    finally:
        rt.close()


def _no_plaintext(rt: Runtime, needles: dict[str, bytes]) -> None:
    """Distinctive 64-byte windows of each upload appear in no file of the library."""
    for path in rt.settings.data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size:
            body = path.read_bytes()
            for name, needle in needles.items():
                assert needle not in body, f"{name} plaintext found in {path}"


@needs_ffmpeg
def test_ingest_analyze_and_stream_encrypted(api: Api, tmp_path: Path) -> None:
    rt = api.runtime
    assert isinstance(rt.blobs, EncryptedBlobStore)
    image = synth.make_image(tmp_path / "a.jpg", 320, 240, seed=7).read_bytes()
    video = synth.make_video(
        tmp_path / "v.mp4", seconds=3.0, width=320, height=240, fps=10
    ).read_bytes()
    assert len(video) > CHUNK  # so ranges cross sealed-chunk borders
    who = api.user("analyst")
    r = api.upload(who, [("a.jpg", image), ("v.mp4", video)])
    assert r.status_code == 201, r.text
    files = {f["name"]: f for f in r.json()["files"]}
    assert api.run_jobs() == 2
    for name, data in (("a.jpg", image), ("v.mp4", video)):
        media_id = files[name]["media_id"]
        meta = api.client.get(f"/api/v1/media/{media_id}", headers=who.headers).json()
        assert meta["size"] == len(data)
        assert meta["sha256"] != hashlib.sha256(data).hexdigest()  # keyed, not the plain hash
        assert meta["sha256"] == rt.blobs.content_key(hashlib.sha256(data).hexdigest())
        results = api.client.get(f"/api/v1/media/{media_id}/results", headers=who.headers)
        assert results.status_code == 200, results.text
        thumbs = [x for x in results.json() if x["analyzer"] == "thumbnails"]
        assert thumbs, results.json()
        refs = _refs(thumbs[0]["data"])
        assert refs
        art = api.client.get(
            f"/api/v1/media/{media_id}/artifacts/{sorted(refs)[0]}", headers=who.headers
        )
        assert art.status_code == 200 and art.content[:2] in (b"\xff\xd8", b"\x89P")
        whole = api.client.get(f"/api/v1/media/{media_id}/content", headers=who.headers)
        assert whole.status_code == 200 and whole.content == data
    url = f"/api/v1/media/{files['v.mp4']['media_id']}/content"
    size = len(video)
    for start, end in ((0, 99), (CHUNK - 10, CHUNK + 10), (CHUNK, 2 * CHUNK - 1), (1000, size - 1)):
        part = api.client.get(url, headers={**who.headers, "Range": f"bytes={start}-{end}"})
        assert part.status_code == 206, part.text[:200]
        assert part.content == video[start : end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
    # the same bytes again: deduplicated on the keyed hash
    dup = api.upload(who, [("again.jpg", image)], analyze="false")
    assert dup.json()["files"][0]["media_id"] == files["a.jpg"]["media_id"]
    _no_plaintext(
        rt,
        {
            "image": image[len(image) // 2 : len(image) // 2 + 64],
            "video": video[size // 2 : size // 2 + 64],
        },
    )


def _refs(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set().union(*(_refs(v) for v in data.values())) if data else set()
    if isinstance(data, list):
        return set().union(*(_refs(v) for v in data)) if data else set()
    if isinstance(data, str) and len(data) == 64 and all(c in "0123456789abcdef" for c in data):
        return {data}
    return set()
