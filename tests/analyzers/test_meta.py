"""Meta-tests that keep the analyzer catalogue honest (STYLE.md #19)."""

from __future__ import annotations

import importlib
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


def _real_model_tests() -> dict[str, list[str]]:
    """Analyzer name -> test functions marked ``@pytest.mark.real_model(name)``, per file.

    Read from the test modules themselves, not from this session's collection, so the
    check holds when test_meta.py runs alone. Only the explicit marker counts: a test's
    name or a model mentioned in it cannot satisfy the check by accident.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        module = importlib.import_module(f"tests.analyzers.{path.stem}")
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if not fname.startswith("test_") or fn.__module__ != module.__name__:
                continue
            for mark in getattr(fn, "pytestmark", []):
                if mark.name == "real_model":
                    (analyzer,) = mark.args
                    assert analyzer in ANALYZERS, f"{path.name}::{fname}: unknown {analyzer!r}"
                    stubbed = "monkeypatch" in inspect.signature(fn).parameters
                    assert not stubbed, f"{path.name}::{fname} swaps code: not a real-model test"
                    found.setdefault(analyzer, []).append(f"{path.name}::{fname}")
    return found


REAL_MODEL_TESTS = _real_model_tests()


@pytest.mark.parametrize("name", sorted(ANALYZERS))
def test_every_analyzer_runs_its_real_default_model_in_a_test(name: str) -> None:
    if ANALYZERS[name].llm_endpoint is not None:
        # no model of its own: it calls a configured endpoint, tested through the real
        # client against a local server speaking the wire protocol (tests/fakes/)
        assert (TESTS / f"test_{name}.py").exists(), f"{name}: add tests/analyzers/test_{name}.py"
        return
    tests = REAL_MODEL_TESTS.get(name, [])
    assert tests, (
        f"no test runs {name}'s real default model: mark one in tests/analyzers/test_{name}.py "
        f'with @pytest.mark.real_model("{name}")'
    )
    assert any(t.startswith(f"test_{name}.py::") for t in tests), (name, tests)
