"""Adapters for rented GPUs and :func:`build_providers`, which builds the configured ones.

Every adapter module holds one class with a class attribute ``name`` (the key
under ``compute.providers``) and a ``from_settings(ProviderSettings, **kw)``
classmethod; the registry below only says which module holds which provider, so
a provider costs nothing (no import, no SDK) unless it is configured.
"""

from __future__ import annotations

import importlib
from typing import Any

from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
)
from aima.core.errors import ConfigError
from aima.core.settings import ComputeSettings, Settings

MODULES: dict[str, str] = {
    "runpod": "runpod",
    "vastai": "vastai",
    "lambda": "lambda_cloud",
    "paperspace": "paperspace",
    "genesis": "genesis",
    "aws": "aws",
    "gcp": "gcp",
    "azure": "azure",
}

__all__ = [
    "MODULES",
    "Bootstrap",
    "GpuRequirement",
    "Instance",
    "NoCapacity",
    "Offer",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderUnavailable",
    "build_providers",
    "provider_class",
]


def provider_class(name: str) -> Any:
    """The adapter class for ``name``; a :class:`ConfigError` when there is none."""
    module_name = MODULES.get(name)
    if module_name is None:
        raise ConfigError(f"unknown GPU provider {name!r}; use one of {', '.join(sorted(MODULES))}")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as exc:
        raise ConfigError(
            f"GPU provider {name!r} cannot be loaded ({exc}); install the missing package "
            f"or disable compute.providers.{name}"
        ) from exc
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and getattr(value, "name", None) == name
            and hasattr(value, "from_settings")
        ):
            return value
    raise ConfigError(f"module {module.__name__} defines no adapter named {name!r}")


def build_providers(settings: Settings | ComputeSettings, **kw: Any) -> dict[str, Provider]:
    """One adapter per enabled ``compute.providers.<name>`` entry, in settings order.

    ``kw`` goes to every adapter's ``from_settings`` (tests pass an ``httpx.Client``
    or a ``sleep``); a provider with missing credentials stops here with a
    :class:`ConfigError` that says which setting to fill.
    """
    compute = settings.compute if isinstance(settings, Settings) else settings
    out: dict[str, Provider] = {}
    for name, cfg in compute.providers.items():
        if not cfg.enabled:
            continue
        out[name] = provider_class(name).from_settings(cfg, **kw)
    return out
