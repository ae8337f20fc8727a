from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData, Modality
from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import ConfigError, InvalidInput
from aima.core.settings import Settings, load_settings


def test_env_prefix_and_nesting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIMA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AIMA_LIMITS__MAX_BYTES", "1234")
    monkeypatch.setenv("AIMA_JOBS__DEFAULT_ANALYZERS", '["thumbnails"]')
    settings = load_settings()
    assert settings.limits.max_bytes == 1234
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'aima.db').resolve()}"


def test_typo_in_settings_fails_loudly() -> None:
    with pytest.raises(ConfigError, match="max_byte"):
        load_settings(limits={"max_byte": 5})


def test_production_refuses_default_secret() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings(env="production")
    ok = load_settings(env="production", auth={"jwt_secret": "s" * 40})
    assert ok.env == "production"


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_builtin_thumbnails_is_discovered(tmp_path: Path) -> None:
    reg = AnalyzerRegistry(_settings(tmp_path))
    assert "thumbnails" in reg.names()
    assert reg.get("thumbnails") is reg.get("thumbnails")  # one instance per process


def test_unknown_analyzer_config_and_bad_keys_fail_fast(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown analyzers"):
        AnalyzerRegistry(_settings(tmp_path, analyzers={"nope": {}}))
    with pytest.raises(ConfigError, match="invalid config for analyzer 'thumbnails'"):
        AnalyzerRegistry(_settings(tmp_path, analyzers={"thumbnails": {"max_sidee": 10}}))
    with pytest.raises(ConfigError, match="not installed"):
        AnalyzerRegistry(_settings(tmp_path, jobs={"default_analyzers": ["ghost"]}))


def _plugin_module(name: str, analyzer_name: str, requires: tuple[str, ...] = ()) -> str:
    module = types.ModuleType(name)

    class Plugin(Analyzer):
        version = "0.1"
        modality = Modality.MEDIA

        def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, object]:
            return {}

    Plugin.name = analyzer_name
    Plugin.requires = requires
    Plugin.__module__ = name
    module.Plugin = Plugin  # type: ignore[attr-defined]
    sys.modules[name] = module
    return name


def test_duplicate_analyzer_names_stop_startup(tmp_path: Path) -> None:
    mod = _plugin_module("aima_test_dup_plugin", "thumbnails")
    with pytest.raises(ConfigError, match="two analyzers are named 'thumbnails'"):
        AnalyzerRegistry(_settings(tmp_path, plugins=[mod]))


def test_missing_requirement_and_resolution_order(tmp_path: Path) -> None:
    bad = _plugin_module("aima_test_req_plugin", "needs_ghost", ("ghost",))
    with pytest.raises(ConfigError, match="requires 'ghost'"):
        AnalyzerRegistry(_settings(tmp_path, plugins=[bad]))
    good = _plugin_module("aima_test_req_ok", "after_thumbs", ("thumbnails",))
    reg = AnalyzerRegistry(_settings(tmp_path, plugins=[good]))
    assert reg.resolve(["after_thumbs"]) == ["thumbnails", "after_thumbs"]
    with pytest.raises(InvalidInput, match="unknown analyzer"):
        reg.resolve(["thumbnails", "nope"])


def test_unimportable_plugin_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        AnalyzerRegistry(_settings(tmp_path, plugins=["no_such_module_xyz"]))
