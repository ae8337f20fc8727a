"""The committed API contract of the web app matches the app as it is now."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _openapi_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "aima_openapi_script", REPO / "scripts/openapi.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_openapi_json_and_permissions_match_the_app() -> None:
    script = _openapi_script()
    expected = script.documents()
    stale = [str(p.relative_to(REPO)) for p in script.stale(expected)]
    assert not stale, (
        f"{stale} differ from what the app produces now; "
        "run scripts/openapi.py && npm --prefix web run gen:api  (= bash scripts/web-api.sh)"
    )


def test_the_dump_is_stable_and_sorted() -> None:
    script = _openapi_script()
    first, second = script.documents(), script.documents()
    assert first == second
    text = first[script.OPENAPI_JSON]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "/api/v1/auth/login" in json.loads(text)["paths"]


def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: object) -> None:
    script = _openapi_script()
    stale_file = tmp_path / "openapi.json"
    stale_file.write_text("{}\n")
    assert script.stale({stale_file: "{}\n"}) == []
    assert script.stale({stale_file: '{"paths": {}}\n'}) == [stale_file]
    assert script.stale({tmp_path / "missing.json": "{}\n"}) == [tmp_path / "missing.json"]
