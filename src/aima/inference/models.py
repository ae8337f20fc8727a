"""The model store: every weight file an analyzer uses is declared, located and checksummed.

Weights come from two places, never from the network at run time:

* a Python package that ships them (``package``: the file is found inside that
  installed distribution), e.g. ``face_recognition_models`` or ``nudenet``;
* the models directory (``AIMA_MODELS_DIR``, default ``<data_dir>/models``), where
  an operator puts optional, stronger models (Whisper, ArcFace, ...).

A missing or corrupt file raises one clear error naming the file and how to get
it. ``aima models`` lists every declared model with its status.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
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
class ModelSpec:
    """One weight file (or directory) an analyzer may load.

    ``path`` is relative to the package root (``package`` set) or to the models
    directory. ``sha256`` pins the exact file; ``None`` for directories or files
    whose content varies legitimately (then only presence is checked).
    ``optional`` models make an analyzer stronger when present; required ones
    must exist for the analyzer to run.
    """

    name: str
    path: str
    how_to_get: str
    package: str | None = None
    sha256: str | None = None
    optional: bool = False
    description: str = ""


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
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ModelStore:
    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._verified: dict[tuple[Path, int, int], str] = {}
        self._lock = threading.Lock()

    def locate(self, spec: ModelSpec) -> Path | None:
        if spec.package is not None:
            root = _package_root(spec.package)
            return None if root is None else root / spec.path
        return self.models_dir / spec.path

    def state(self, spec: ModelSpec) -> ModelState:
        location = self.locate(spec)
        if location is None:
            return ModelState(
                spec, ModelStatus.MISSING, None, f"Python package {spec.package!r} is not installed"
            )
        if not location.exists():
            return ModelState(spec, ModelStatus.MISSING, location, "file not found")
        if spec.sha256 and location.is_file():
            actual = self._checksum(location)
            if actual != spec.sha256:
                return ModelState(
                    spec, ModelStatus.CORRUPT, location, f"sha256 {actual} != {spec.sha256}"
                )
        return ModelState(spec, ModelStatus.AVAILABLE, location)

    def path(self, spec: ModelSpec) -> Path:
        """The verified location of a model, or ModelMissing with what to do."""
        state = self.state(spec)
        if state.status is ModelStatus.AVAILABLE and state.location is not None:
            return state.location
        where = state.location or f"package {spec.package}"
        raise ModelMissing(
            f"model {spec.name!r} {state.status.value} at {where} ({state.detail}); "
            f"to get it: {spec.how_to_get}",
            details={"model": spec.name, "path": str(where), "status": state.status.value},
        )

    def available(self, spec: ModelSpec) -> bool:
        return self.state(spec).status is ModelStatus.AVAILABLE

    def _checksum(self, path: Path) -> str:
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key not in self._verified:
                self._verified[key] = file_sha256(path)
            return self._verified[key]
