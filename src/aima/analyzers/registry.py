"""Discover analyzers (built-ins, entry points, configured plug-in modules) and fail fast.

Built-ins are found by scanning ``aima.analyzers``; third-party packages
register under the ``aima.analyzers`` entry-point group; ``AIMA_PLUGINS`` names
extra modules. Duplicate names, unknown config keys or a missing requirement
stop start-up with a message that says what to change.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from types import ModuleType

from pydantic import ValidationError

from aima.analyzers.base import Analyzer, AnalyzerServices
from aima.core.errors import ConfigError, Forbidden, InvalidInput
from aima.core.settings import Settings
from aima.inference.models import ModelStore

ENTRY_POINT_GROUP = "aima.analyzers"
log = logging.getLogger(__name__)


def _classes_in(module: ModuleType) -> list[type[Analyzer]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Analyzer)
        and not inspect.isabstract(obj)
        and obj.__module__ == module.__name__
        and "name" in obj.__dict__
    ]


def discover(plugin_modules: Iterable[str] = ()) -> dict[str, tuple[type[Analyzer], str]]:
    """name -> (class, where it came from)."""
    found: dict[str, tuple[type[Analyzer], str]] = {}

    def add(cls: type[Analyzer], origin: str) -> None:
        if cls.name in found and found[cls.name][0] is not cls:
            raise ConfigError(
                f"two analyzers are named {cls.name!r}: {found[cls.name][1]} and {origin}; "
                "rename one or uninstall the plug-in"
            )
        found[cls.name] = (cls, origin)

    import aima.analyzers as package

    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name.rsplit(".", 1)[-1] in {"base", "registry"}:
            continue
        module = importlib.import_module(info.name)
        for cls in _classes_in(module):
            add(cls, f"built-in {info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        loaded = ep.load()
        classes = _classes_in(loaded) if inspect.ismodule(loaded) else [loaded]
        for cls in classes:
            add(cls, f"entry point {ep.name} ({ep.value})")
    for name in plugin_modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(
                f"plug-in module {name!r} (AIMA_PLUGINS) cannot be imported: {exc}"
            ) from exc
        for cls in _classes_in(module):
            add(cls, f"plug-in {name}")
    return found


POLICY = "disabled by policy"
JURISDICTION = "forbidden by jurisdiction policy"


def forbidden_reason(jurisdiction: str) -> str:
    """``forbidden by jurisdiction policy (EU AI Act, workplace)``: the disabled reason."""
    return f"{JURISDICTION} ({jurisdiction.strip() or 'unnamed jurisdiction'})"


class AnalyzerRegistry:
    """Validated configs and one loaded instance per analyzer per process.

    An analyzer is *disabled* (recorded as such in plans and jobs, with the reason from
    :meth:`disabled_reason`) when settings name it in ``disabled_analyzers``, when it is
    sensitive and sensitive analyzers are not allowed, when the deployment's jurisdiction
    forbids it (``privacy.forbidden_analyzers``: "forbidden by jurisdiction policy (...)";
    a request naming one is refused by :meth:`resolve`), or when its own
    ``unavailable_reason(settings)`` says it cannot run (e.g. ``scenes`` without a VLM
    endpoint: "not configured: ..."). ``services`` (model clients, review feedback) come
    from the composition root and are handed to each instance through ``attach``.
    """

    def __init__(self, settings: Settings, *, services: AnalyzerServices | None = None) -> None:
        found = discover(settings.plugins)
        self.classes = {name: cls for name, (cls, _) in found.items()}
        self._services = services or AnalyzerServices()
        self._reasons: dict[str, str] = {}
        self.jurisdiction = settings.privacy.jurisdiction
        self.forbidden = frozenset(settings.privacy.forbidden_analyzers)
        # forbidden analyzers left in the default list are planned as disabled, not refused:
        # every upload would fail otherwise. Named in a request, they are refused.
        self._refused = self.forbidden - set(settings.jobs.default_analyzers)
        if self.forbidden & set(settings.jobs.default_analyzers):
            log.warning(
                "AIMA_JOBS__DEFAULT_ANALYZERS names %s, which the jurisdiction policy forbids: "
                "recorded as disabled; remove them from the default list",
                sorted(self.forbidden & set(settings.jobs.default_analyzers)),
            )
        for name, cls in self.classes.items():
            unavailable = cls.unavailable_reason(settings)
            if name in self.forbidden:
                self._reasons[name] = forbidden_reason(self.jurisdiction)
            elif name in settings.disabled_analyzers or (
                cls.sensitive and not settings.allow_sensitive_analyzers
            ):
                self._reasons[name] = POLICY
            elif unavailable is not None:
                self._reasons[name] = unavailable
        self.disabled = (
            frozenset(self._reasons) | frozenset(settings.disabled_analyzers) | self.forbidden
        )
        self._default_chunk_s = settings.jobs.chunk_s
        self.models = ModelStore(settings.models_path)
        self._instances: dict[str, Analyzer] = {}
        self._lock = threading.Lock()
        unknown = (set(settings.analyzers) | self.disabled) - set(self.classes)
        if unknown:
            raise ConfigError(
                f"settings name unknown analyzers {sorted(unknown)}; "
                f"available: {sorted(self.classes)}"
            )
        self.configs = {}
        for name, cls in self.classes.items():
            try:
                self.configs[name] = cls.Config(**settings.analyzers.get(name, {}))
            except ValidationError as exc:
                raise ConfigError(f"invalid config for analyzer {name!r}: {exc}") from exc
            for req in cls.requires:
                if req not in self.classes:
                    raise ConfigError(f"analyzer {name!r} requires {req!r}, which is not installed")
        for name in settings.jobs.default_analyzers:
            if name not in self.classes:
                raise ConfigError(
                    f"AIMA_JOBS__DEFAULT_ANALYZERS names {name!r}, which is not installed; "
                    f"available: {sorted(self.classes)}"
                )

    def names(self) -> list[str]:
        return sorted(self.classes)

    def disabled_reason(self, name: str) -> str | None:
        """Why ``name`` does not run here ("disabled by policy", "not configured: ..."), or None."""
        if name not in self.disabled:
            return None
        return self._reasons.get(name, POLICY)

    def blocked_by(self, name: str) -> str | None:
        """The reason a *requirement* of ``name`` keeps it from running, or None."""
        off = {r: why for r in self.classes[name].requires if (why := self.disabled_reason(r))}
        if not off:
            return None
        if all(why == POLICY for why in off.values()):
            return f"requires {', '.join(off)}, which is {POLICY}"
        req, why = next((r, w) for r, w in off.items() if w != POLICY)
        return f"requires {req}, which is {why}"

    def get(self, name: str) -> Analyzer:
        with self._lock:
            if name not in self._instances:
                cls = self.classes[name]
                instance = cls(
                    self.configs[name], default_chunk_s=self._default_chunk_s, models=self.models
                )
                endpoint = cls.llm_endpoint
                llm = self._services.llm
                client = getattr(llm, endpoint, None) if endpoint and llm is not None else None
                instance.attach(replace(self._services, llm=client))
                self._instances[name] = instance
            return self._instances[name]

    def resolve(self, names: Sequence[str]) -> list[str]:
        """Validate names and add requirements, in dependency order.

        Naming an analyzer the jurisdiction forbids is refused (403); one the operator left
        in the default list is planned as disabled instead, like any disabled analyzer.
        """
        self._refuse_forbidden(names)
        return self._resolve(names)

    def _refuse_forbidden(self, names: Sequence[str]) -> None:
        named = [n for n in dict.fromkeys(names) if n in self._refused]
        if not named:
            return
        raise Forbidden(
            f"analyzer(s) {', '.join(named)} {'is' if len(named) == 1 else 'are'} "
            f"{forbidden_reason(self.jurisdiction)}; this deployment may not run "
            f"{'it' if len(named) == 1 else 'them'} (AIMA_PRIVACY__FORBIDDEN_ANALYZERS). "
            "Ask again without them",
            details={"forbidden": named, "jurisdiction": self.jurisdiction},
        )

    def _resolve(self, names: Sequence[str]) -> list[str]:
        unknown = [n for n in names if n not in self.classes]
        if unknown:
            raise InvalidInput(
                f"unknown analyzer(s) {unknown}; available: {self.names()}",
                details={"unknown": unknown, "available": self.names()},
            )
        ordered: list[str] = []
        visiting: set[str] = set()
        wanted = set(names)

        def visit(name: str) -> None:
            if name in ordered:
                return
            if name in visiting:
                raise ConfigError(f"analyzer requirements form a cycle at {name!r}")
            visiting.add(name)
            for req in self.classes[name].requires:
                visit(req)
            for optional in self.classes[name].uses:  # ordered after them when both run
                if optional in wanted:
                    visit(optional)
            visiting.discard(name)
            ordered.append(name)

        for name in names:
            visit(name)
        return ordered

    def order(self, names: Sequence[str]) -> list[str]:
        """``names`` in dependency order, without adding requirements."""
        wanted = set(names)
        return [n for n in self._resolve(names) if n in wanted]
