"""Concurrent uploads through the real app (upload guard, route, ingest) on SQLite and
PostgreSQL: with 2 uploads left, 10 requests released together by a barrier store exactly 2
files; the others answer 429 and leave nothing behind, not even a reservation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.store.models import Media
from aima.store.models_trust import QuotaReservation
from tests.api.helpers import Api, TestClient, files_under
from tests.mediagen import synth

CONCURRENT = 10


def test_concurrent_uploads_store_exactly_the_uploads_left(
    make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_runtime(quotas={"uploads_per_day": 2})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        user = api.user("uploader")
        images = [
            synth.make_image(tmp_path / f"c{i}.jpg", 96, 64, seed=i).read_bytes()
            for i in range(CONCURRENT)
        ]
        barrier = threading.Barrier(CONCURRENT)
        answers: list[Any] = [None] * CONCURRENT

        def send(i: int) -> None:
            barrier.wait()
            answers[i] = api.upload(user, [(f"c{i}.jpg", images[i])], analyze="false")

        threads = [threading.Thread(target=send, args=(i,)) for i in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * 2 + [429] * (CONCURRENT - 2), [a.text for a in answers]
        for a in answers:
            if a.status_code == 429:
                body = a.json()
                error = body["error"] if "error" in body else body["files"][0]["error"]
                assert error["code"] == "quota_exceeded"
        assert api.count(Media) == 2
        assert len(files_under(rt.settings.blob_path)) == 2
        with rt.db.session() as s:
            assert s.execute(select(QuotaReservation)).scalars().all() == []
        usage = client.get("/api/v1/me/quota", headers=user.headers).json()
        assert usage["usage"]["uploads_today"] == 2
