"""Meta-tests that keep the analyzer catalogue honest (STYLE.md #19)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from aima.analyzers.registry import discover

TESTS = Path(__file__).parent
ANALYZERS = {
    name: cls for name, (cls, origin) in discover().items() if origin.startswith("built-in")
}


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_every_analyzer_has_its_own_tests(name: str) -> None:
    assert (TESTS / f"test_{name}.py").is_file(), f"add tests/analyzers/test_{name}.py"


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_every_analyzer_is_documented(name: str) -> None:
    cls = ANALYZERS[name]
    module = inspect.getmodule(cls)
    assert module is not None and (module.__doc__ or "").strip(), f"{name}: module docstring"
    assert cls.description, f"{name}: set `description`"
    assert cls.version, f"{name}: set `version`"
    undocumented = [
        field
        for field, info in cls.Config.model_fields.items()
        if field not in ("batch_size", "chunk_s") and not info.description
    ]
    assert not undocumented, f"{name}: Config fields without a description: {undocumented}"


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_every_model_file_says_how_to_get_it(name: str) -> None:
    for spec in ANALYZERS[name].model_specs:
        assert spec.how_to_get, f"{name}: model {spec.name} lacks how_to_get"
        if not spec.optional and spec.package is not None:
            assert spec.sha256, f"{name}: bundled model {spec.name} must pin its sha256"
