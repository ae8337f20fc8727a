"""``aima persons``, ``aima search`` and ``aima index`` in process (typer's CliRunner),
against the same database and data directory a runtime filled (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aima.cli.main import app
from aima.runtime import Runtime, build_runtime
from aima.store.models import AuditEvent
from tests.api.helpers import open_case
from tests.api.test_persons_api import Library, World, build_world
from tests.conftest import TEST_SECRET, make_settings

Run = Callable[..., Result]


@pytest.fixture
def library(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, World]]:
    """Persons built by a runtime; the commands read the same settings from the environment."""
    data = tmp_path / "data"
    for key, value in {
        "AIMA_DATA_DIR": str(data),
        "AIMA_DATABASE_URL": db_url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    rt = build_runtime(make_settings(data, db_url))
    try:
        yield rt, build_world(rt)
    finally:
        rt.close()


@pytest.fixture
def aima() -> Run:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr, result.exception)
        return result

    return run


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def _flat(text: str) -> str:
    """Rich wraps long lines at the console width: compare with whitespace collapsed."""
    return " ".join(text.split())


def test_list_show_rename_and_dossier(
    aima: Run, library: tuple[Runtime, World], tmp_path: Path
) -> None:
    rt, world = library
    alice, bob = world.persons["alice"], world.persons["bob"]
    page = _json(aima("persons", "list", "--json"))
    assert page["total"] == 4 and {p["id"] for p in page["items"]} == set(world.persons.values())
    assert (
        _json(aima("persons", "list", "--kind", "voice", "--json"))["items"][0]["id"]
        == (world.persons["voice"])
    )
    assert "4 persons" in aima("persons", "list").stdout

    renamed = _flat(aima("persons", "rename", alice, "Alice Example").stdout)
    assert f"renamed: person {alice}" in renamed
    named = _json(aima("persons", "list", "--named", "--json"))["items"]
    assert [(p["id"], p["name"]) for p in named] == [(alice, "Alice Example")]
    shown = _json(aima("persons", "show", alice, "--json"))
    assert shown["name"] == "Alice Example" and len(shown["observations"]) == 2
    assert "Alice Example" in aima("persons", "show", alice).stdout

    # merge and undo: the undo command is printed with the correction id
    merged = _flat(aima("persons", "merge", alice, bob).stdout)
    correction = re.search(r"aima persons undo (cor_\w+)", merged)
    assert correction, merged
    assert _json(aima("persons", "show", bob, "--json"))["id"] == alice
    assert "restored" in aima("persons", "undo", correction.group(1)).stdout
    assert _json(aima("persons", "show", bob, "--json"))["id"] == bob
    history = _json(aima("persons", "corrections", alice, "--json"))
    assert [c["kind"] for c in history] == ["merge", "rename"]

    out = tmp_path / "alice.md"
    case = open_case(rt)  # dossiers run under a case (purpose binding)
    aima("persons", "dossier", alice, "--format", "md", "--output", str(out), "--case", case)
    assert out.read_text(encoding="utf-8").startswith("# Alice Example")
    doc = _json(aima("persons", "dossier", alice, "--format", "json", "--case", case))
    assert doc["person"] == {"id": alice, "name": "Alice Example", "merged_ids": []}
    with rt.db.session() as s:
        exports = s.query(AuditEvent).filter(AuditEvent.action == "person.dossier_export").all()
        assert sorted(e.details["format"] for e in exports) == ["json", "md"]
        assert all(e.actor.startswith("cli:") for e in exports)
        assert {(e.details["case"], e.details["purpose"]) for e in exports} == {(case, "dossier")}

    # errors: one red line on stderr, exit code 1
    missing = aima("persons", "show", "per_nobody", code=1)
    assert "person per_nobody not found" in _flat(missing.stderr)
    bad = aima("persons", "split", alice, str(world.observations["bob"][0]), code=1)
    assert "do not belong" in _flat(bad.stderr)
    assert aima("persons", "list", "--limit", "0", code=2).exit_code == 2


def test_links_sync_recluster_and_seen_before(aima: Run, library: tuple[Runtime, World]) -> None:
    rt, world = library
    (link,) = _json(aima("persons", "links", "--json"))
    assert (link["face_person_id"], link["state"]) == (world.persons["alice"], "suggested")
    aima("persons", "confirm-link", link["id"])
    assert _json(aima("persons", "links", "--state", "confirmed", "--json"))[0]["id"] == link["id"]

    Library(rt, seed=7).add("again.jpg", faces={"alice": [0.0]})  # the same alice again
    report = _json(aima("persons", "sync", "--json"))
    assert (report["media"], report["observations"], report["new_persons"]) == (1, 1, 0)
    counts = _json(aima("persons", "recluster", "--json"))
    assert sum(c["observations"] for c in counts.values()) == 7
    assert "collection" in aima("persons", "recluster").stdout

    case = open_case(rt)
    seen = _json(aima("persons", "seen-before", world.persons["alice"], "--json", "--case", case))
    assert seen["person_id"] == world.persons["alice"]


def test_search_text_and_index(aima: Run, library: tuple[Runtime, World]) -> None:
    rt, world = library
    hits = _json(aima("search", "text", "budget", "--json"))
    assert [(h["media_id"], h["source"]) for h in hits["results"]] == [
        (world.media["meeting"], "transcript")
    ]
    assert hits["results"][0]["speaker"] == "S1"
    assert "budget" in aima("search", "text", "budget").stdout
    assert _json(aima("search", "text", "budget", "--source", "ocr", "--json"))["results"] == []
    aima("search", "text", "budget", "--source", "email", code=2)

    status = _json(aima("index", "status", "--json"))
    assert status["in_sync"] is True and status["pending"] == 0
    # faces 5, voices 1, and the one transcript segment's text embedding (semantic search)
    assert sorted(c["rows"] for c in status["collections"].values()) == [1, 1, 5]
    assert "in sync" in aima("index", "status").stdout
    rebuilt = _json(aima("index", "rebuild", "--json"))
    assert sorted(rebuilt.values()) == [1, 1, 5]
    assert "rebuilt 7 vector(s)" in _flat(aima("index", "rebuild").stdout)

    missing = aima(
        "search", "face", str(Path("no-such-photo.jpg")), "--case", open_case(rt), code=1
    )
    assert "no-such-photo.jpg" in _flat(missing.stderr)
