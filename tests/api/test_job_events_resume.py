"""Job event streams name each snapshot, so a reconnecting EventSource is not sent it again."""

from __future__ import annotations

import pytest

from aima.api.app import create_app
from aima.runtime import Runtime
from tests.api.helpers import Api, TestClient


def _read(lines: list[str]) -> list[tuple[str | None, str]]:
    """(id, event name) per event, in order."""
    out: list[tuple[str | None, str]] = []
    event_id: str | None = None
    for line in lines:
        if line.startswith("id: "):
            event_id = line.removeprefix("id: ")
        elif line.startswith("event: "):
            out.append((event_id, line.removeprefix("event: ")))
            event_id = None
    return out


@pytest.mark.timeout(120)
def test_reconnect_with_last_event_id_skips_the_snapshot_already_seen(
    runtime: Runtime, samples: dict[str, bytes]
) -> None:
    with TestClient(create_app(runtime, start_workers=True)) as client:
        api = Api(runtime, client)
        who = api.user("uploader")
        (outcome,) = api.upload(who, [("a.jpg", samples["jpeg"])]).json()["files"]
        url = f"/api/v1/jobs/{outcome['job_id']}/events"
        with client.stream("GET", url, params={"interval_s": 0.1}, headers=who.headers) as r:
            lines = list(r.iter_lines())
        assert lines[0] == "retry: 2000"
        first = _read(lines)
        assert first[-1] == (None, "end")
        final_id = first[-2][0]
        assert first[-2][1] == "progress" and final_id

        # the job is over: a fresh connection gets its final snapshot, then the end
        with client.stream("GET", url, headers=who.headers) as r:
            assert _read(list(r.iter_lines())) == [(final_id, "progress"), (None, "end")]
        # a reconnect that already has that snapshot gets only the end
        resumed = {**who.headers, "Last-Event-ID": final_id}
        with client.stream("GET", url, headers=resumed) as r:
            assert _read(list(r.iter_lines())) == [(None, "end")]
