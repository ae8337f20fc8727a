from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from platformdirs import user_data_dir

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData, Modality
from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import ConfigError, InvalidInput
from aima.core.settings import NON_SETTINGS_ENV, Settings, check_environment, load_settings

REPO = Path(__file__).resolve().parents[2]


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


def test_unknown_top_level_env_variable_names_the_nearest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIMA_DATABSE_URL", "postgresql+psycopg://x@h/aima")
    with pytest.raises(ConfigError, match=r"AIMA_DATABSE_URL \(did you mean AIMA_DATABASE_URL\?\)"):
        load_settings()


def test_unknown_nested_env_variable_names_the_nearest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIMA_JOBS__CHUNKS_S", "5")
    with pytest.raises(ConfigError, match=r"did you mean AIMA_JOBS__CHUNK_S\?"):
        load_settings()
    monkeypatch.delenv("AIMA_JOBS__CHUNKS_S")
    monkeypatch.setenv("AIMA_LIMTS__MAX_BYTES", "5")  # typo in the section name
    with pytest.raises(ConfigError, match=r"did you mean AIMA_LIMITS__MAX_BYTES\?"):
        load_settings()


def test_valid_and_allow_listed_env_variables_pass() -> None:
    check_environment(
        {
            "AIMA_DATABASE_URL": "sqlite://",
            "aima_log_level": "DEBUG",  # read case-insensitively, like pydantic-settings
            "AIMA_IDENTITY__FACE_MIN_BLUR": "3",
            "AIMA_ANALYZERS__FACES__BACKEND": "dlib",  # each analyzer checks its own keys
            **{name: "1" for name in NON_SETTINGS_ENV},
            "PATH": "/bin",
        }
    )
    with pytest.raises(ConfigError, match="AIMA_NOPE"):
        check_environment({"AIMA_NOPE": "1"})


_ENV_READ = re.compile(
    r"""(?:environ(?:\.get)?\(?\[?|getenv\()\s*["'](AIMA_[A-Z0-9_]+)["']|\$\{(AIMA_[A-Z0-9_]+)"""
)


def test_every_aima_variable_the_project_reads_is_allowed() -> None:
    """A new AIMA_ variable read anywhere (environ, getenv, shell) must be allow-listed."""
    found = set()
    for folder in ("src", "scripts", "tests", "benchmarks"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".py", ".sh"} and path.is_file():
                found |= {a or b for a, b in _ENV_READ.findall(path.read_text(errors="replace"))}
    assert {"AIMA_THREADS", "AIMA_TEST_POSTGRES_URL"} <= found  # the scan sees real reads
    unknown = set()
    for name in found:
        try:
            check_environment({name: "x"})
        except ConfigError:
            unknown.add(name)
    assert not unknown, f"add to NON_SETTINGS_ENV or make them settings: {sorted(unknown)}"


def test_default_library_is_per_user_not_per_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AIMA_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    seen = set()
    for here in (tmp_path / "a", tmp_path / "b"):
        here.mkdir()
        monkeypatch.chdir(here)
        seen.add(load_settings().data_dir.resolve())
    assert seen == {Path(user_data_dir("aima")).resolve()}
    assert str(tmp_path / "xdg") in str(seen.pop())  # honours the platform's user dirs
    monkeypatch.setenv("AIMA_DATA_DIR", str(tmp_path / "lib"))
    assert load_settings().data_dir == tmp_path / "lib"


def test_the_test_session_never_uses_the_user_library() -> None:
    assert Settings().data_dir != Path(user_data_dir("aima"))


def test_production_refuses_default_secret() -> None:
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings(env="production")
    ok = load_settings(
        env="production", auth={"jwt_secret": "s" * 40}, encryption={"kek": "cd" * 32}
    )
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
