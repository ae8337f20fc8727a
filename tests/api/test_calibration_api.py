"""``/api/v1/calibration``: a labelled ZIP measured with the real face model; unsafe ZIPs refused."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from aima.identity.calibration import calibration_for, use_stored
from aima.services import calibrate as cal
from aima.store.models import AuditEvent, StoredCalibration
from tests.api.helpers import Api
from tests.identity.test_calibrate import CALIBRATION_SEED, face_set


@pytest.fixture(autouse=True)
def _no_stored_calibrations() -> None:
    use_stored({})


def _zip(entries: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _folder_zip(root: Path, top: str = "labelled") -> bytes:
    """The folder zipped the way a file manager does: under one top folder."""
    return _zip({f"{top}/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*.jpg")})


def _post(api: Api, who: str, data: bytes, **form: str) -> tuple[int, dict[str, object]]:
    r = api.client.post(
        "/api/v1/calibration/faces",
        files={"file": ("set.zip", data, "application/zip")},
        data=form or None,
        headers=api.user(who).headers,
    )
    return r.status_code, r.json()


def test_calibrate_from_zip_then_apply(api: Api, tmp_path: Path) -> None:
    data = _folder_zip(face_set(tmp_path / "set", CALIBRATION_SEED, per=3))

    status, report = _post(api, "analyst", data)
    assert status == 200, report
    assert report["applied"] is False and report["kind"] == "face"
    assert (report["identities"], report["samples"]) == (2, 6)
    assert (report["tar"], report["far"]) == (1.0, 0.0)
    genuine, impostor = report["genuine_range"], report["impostor_range"]
    assert isinstance(genuine, list) and isinstance(impostor, list)
    assert genuine[1] < float(str(report["threshold"])) < impostor[0]
    assert api.count(StoredCalibration) == 0

    assert _post(api, "viewer", data)[0] == 403
    assert _post(api, "uploader", data)[0] == 403

    status, applied = _post(api, "admin", data, apply="true", target_far="0.01")
    assert status == 200 and applied["applied"] is True
    model = str(applied["model_id"])
    assert calibration_for("face", model).max_distance == applied["threshold"]
    listed = api.client.get("/api/v1/calibration", headers=api.user("analyst").headers).json()
    assert [(c["kind"], c["model_id"], c["max_distance"]) for c in listed] == [
        ("face", model, applied["threshold"])
    ]
    with api.runtime.db.session() as s:
        event = s.execute(
            select(AuditEvent).where(AuditEvent.action == "identity.calibrate")
        ).scalar_one()
        assert event.actor == "api:admin" and event.details["target_far"] == 0.01


def test_unsafe_or_unusable_zips_are_refused(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = face_set(tmp_path / "set", CALIBRATION_SEED, per=2)
    good = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.jpg")}
    jpeg = next(iter(good.values()))
    cases = {
        "traversal": (_zip({**good, "../evil/x.jpg": jpeg}), 422, "unsafe path"),
        "nested traversal": (_zip({**good, "a/../../x.jpg": jpeg}), 422, "unsafe path"),
        "absolute": (_zip({**good, "/tmp/x/y.jpg": jpeg}), 422, "unsafe path"),
        "symlink": (_zip(good, symlink="astronaut/link.jpg"), 422, "symbolic links"),
        "too deep": (_zip({**good, "a/b/c/d.jpg": jpeg}), 422, "<identity>/<file>"),
        "not a zip": (b"plain text, not an archive", 422, "not a readable ZIP"),
        "empty": (_zip({}), 422, "at least two identity folders"),
        "one identity": (_zip({"alice/1.jpg": jpeg, "alice/2.jpg": jpeg}), 422, "two identity"),
        "not media": (_zip({**good, "messi/notes.jpg": b"hello"}), 422, "not usable media"),
    }
    for label, (data, code, words) in cases.items():
        status, body = _post(api, "analyst", data)
        error = body.get("error")
        assert isinstance(error, dict), (label, body)
        assert status == code and words in str(error["message"]), (label, status, body)
    monkeypatch.setattr(cal, "MAX_MEMBER_BYTES", 1000)
    status, body = _post(api, "analyst", _zip(good))
    assert status == 413, body
    monkeypatch.setattr(cal, "MAX_FILES", 3)
    status, body = _post(api, "analyst", _zip(good))
    assert status == 422 and "at most 3" in str(body), body
    assert not list((api.runtime.settings.data_dir / "tmp").glob("calibrate-*"))
    assert api.count(StoredCalibration) == 0
