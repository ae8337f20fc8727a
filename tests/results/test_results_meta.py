"""Every built-in analyzer declares a typed result model, and the API publishes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.analyzers.registry import discover
from aima.api.app import create_app
from aima.core.settings import Settings
from aima.results import GenericResult, registered
from aima.runtime import build_runtime

BUILTINS = {
    name: cls for name, (cls, origin) in discover().items() if origin.startswith("built-in")
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_analyzer_has_a_typed_result(name: str) -> None:
    result = BUILTINS[name].Result
    assert result is not GenericResult, f"analyzer {name} declares no result model"
    assert result.model_fields["analyzer"].default == name
    assert registered()[name] is result


def test_result_and_timeline_schemas_are_in_the_openapi_document(tmp_path: Path) -> None:
    rt = build_runtime(Settings(data_dir=tmp_path, env="test"))
    try:
        schemas = create_app(rt, start_workers=False).openapi()["components"]["schemas"]
    finally:
        rt.close()
    for cls in (BUILTINS[n].Result for n in BUILTINS):
        assert cls.__name__ in schemas
    assert {"Timeline", "TimelineTracks", "TranscriptLaneItem", "FaceLaneItem"} <= set(schemas)
    # results are discriminated by analyzer so generated clients get one type per analyzer
    data = schemas["ResultOut"]["properties"]["data"]
    assert "discriminator" in str(data)
