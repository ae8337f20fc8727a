"""Subject access export (service and CLI), and the erasure / receipt commands of the CLI."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aima.cli.main import app
from aima.runtime import Runtime, build_runtime
from aima.services.subject_export import SubjectExporter
from aima.store.models import AuditEvent, Person
from tests.conftest import TEST_SECRET, make_settings
from tests.services.test_erase_person import ADMIN, NAME, OTHER_SAID, SAID, World, build_world


@pytest.fixture
def library(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A world built by a runtime; CLI commands read the same settings from the environment."""
    data = tmp_path / "data"
    settings = make_settings(data, db_url)
    for key, value in {
        "AIMA_DATA_DIR": str(data),
        "AIMA_DATABASE_URL": db_url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_AUDIT__KEY_FILE": str(settings.audit.key_file),  # the same keyring
        "AIMA_PRIVACY__CASES_REQUIRED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    rt: Runtime = build_runtime(settings)
    try:
        yield build_world(rt)
    finally:
        rt.close()


def _case(rt: Runtime) -> str:
    return str(
        rt.cases.create(
            ADMIN,
            title="subject request",
            legal_basis="legal_obligation",
            justification="the data subject asked for their data",
        )["id"]
    )


def test_export_holds_their_data_and_no_embeddings(library: World) -> None:
    w, rt = library, library.rt
    data = SubjectExporter(rt.db, rt.blobs).export(ADMIN, w.person_id)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        person = json.loads(z.read("person.json"))
        observations = json.loads(z.read("observations.json"))
        transcripts = json.loads(z.read("transcripts.json"))
        report = z.read("report.md").decode()
        crops = {n: z.read(n) for n in names if n.startswith("crops/")}
    assert person["person"]["name"] == NAME and person["facts"]
    assert sorted(person["person_ids"]) == sorted([w.person_id, *person["person"]["merged_ids"]])
    assert {o["ref"] for o in observations} == {"track:0", "speaker:S1"}
    assert all("embedding" not in o for o in observations)
    assert all(o["media_id"] == w.media_id and 0 <= o["confidence"] <= 1 for o in observations)
    assert [t["text"] for t in transcripts] == SAID
    assert OTHER_SAID not in json.dumps(transcripts)
    face = next(o for o in observations if o["kind"] == "face")
    assert crops == {face["crop"]: crops[face["crop"]]}
    assert crops[face["crop"]] in w.crop_bytes and crops[face["crop"]][:2] == b"\xff\xd8"
    assert NAME in report and "Subject access export" in report
    with rt.db.session() as s:
        event = s.execute(
            select(AuditEvent).where(AuditEvent.action == "person.subject_export")
        ).scalar_one()
        assert event.object_id == w.person_id and event.details["crops"] == 1


def test_cli_export_erase_and_verify(library: World, tmp_path: Path) -> None:
    w, rt = library, library.rt
    runner = CliRunner()
    out = tmp_path / "subject.zip"
    r = runner.invoke(app, ["persons", "export-subject", w.person_id, "-o", str(out)])
    assert r.exit_code == 1 and "case" in r.output  # purpose binding: a case is required
    case = _case(rt)
    r = runner.invoke(
        app, ["persons", "export-subject", w.person_id, "-o", str(out), "--case", case]
    )
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as z:
        assert "report.md" in z.namelist()

    receipt_file = tmp_path / "receipt.json"
    args = ["persons", "erase", w.person_id, "--reason", "subject request 9", "--case", case]
    r = runner.invoke(app, [*args, "-o", str(receipt_file)])
    assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout[r.stdout.index("{") :])
    assert printed == json.loads(receipt_file.read_text())
    with rt.db.session() as s:
        assert s.get(Person, w.person_id) is None

    r = runner.invoke(app, ["receipts", "verify", str(receipt_file)])
    assert r.exit_code == 0 and "valid" in r.output, r.output
    r = runner.invoke(app, ["receipts", "verify", printed["id"], "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] is True, r.output
    r = runner.invoke(app, ["receipts", "find", w.person_id])
    assert r.stdout.split() == [printed["id"]]
    tampered = {**printed, "with_media": True}
    receipt_file.write_text(json.dumps(tampered))
    r = runner.invoke(app, ["receipts", "verify", str(receipt_file)])
    assert r.exit_code == 1 and "INVALID" in r.output, r.output
