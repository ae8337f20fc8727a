"""One rule for choosing an analyzer's backend: the strongest one whose weights are present.

Every analyzer with more than one backend (faces, emotion, bodies, nsfw, ocr,
transcribe) lists its options strongest first, each with the model files it needs.
``auto`` takes the first option whose required files are all available; a named
backend is taken as asked and, when its files are missing, fails with the model
store's one clear error (which file, which package or directory provides it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aima.core.errors import ConfigError
from aima.inference.models import ModelSpec, ModelStore

AUTO = "auto"


@dataclass(frozen=True, slots=True)
class BackendOption:
    """A backend of one analyzer and the model files it cannot run without."""

    name: str
    specs: tuple[ModelSpec, ...] = ()

    def available(self, models: ModelStore) -> bool:
        return all(models.available(spec) for spec in self.specs)


def choose_backend(
    analyzer: str, requested: str, options: Sequence[BackendOption], models: ModelStore
) -> str:
    """The backend ``requested`` names, or for ``auto`` the first available of ``options``.

    ``options`` are ordered strongest first; the last one is the offline default. A
    named backend whose files are missing raises ``ModelMissing`` (from ``models.path``).
    """
    by_name = {option.name: option for option in options}
    if requested != AUTO:
        if requested not in by_name:
            raise ConfigError(
                f"analyzer {analyzer!r} has no backend {requested!r}; "
                f"choose one of {[AUTO, *by_name]}"
            )
        for spec in by_name[requested].specs:
            models.path(spec)  # ModelMissing naming the file and how to get it
        return requested
    for option in options:
        if option.available(models):
            return option.name
    # nothing available: name the default so the caller's load reports its missing file
    return options[-1].name
