"""The effective settings, read-only and with every secret redacted (administrators only).

Redacted: every ``SecretStr``, every value whose name contains secret/password/key/token
(also inside per-analyzer config dicts), and the password part of any URL
(``postgresql://user:***@host/db``). Unset values stay ``null``: nothing is hidden there.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, SecretStr

from aima.api.deps import Caller, RuntimeDep
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1", tags=["admin"])

REDACTED = "***"
_SECRET_NAME = re.compile(r"secret|password|passwd|key|token|credential", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^/@\s]+(?P<tail>@)", re.I)

Scalar = str | int | float | bool | None


class SettingOut(BaseModel):
    key: str  # dotted path, e.g. "auth.jwt_secret"
    value: Scalar | list[Scalar]
    redacted: bool


class PolicyOut(BaseModel):
    """The deployment's data-protection policy, in one place (also among ``items``)."""

    jurisdiction: str = Field(description="AIMA_PRIVACY__JURISDICTION; empty: not named")
    cases_required: bool = Field(description="biometric search, dossiers, exports need a case")
    forbidden_analyzers: list[str] = Field(
        description="analyzers the jurisdiction forbids: disabled, and refused when requested"
    )


class SettingsOut(BaseModel):
    env: str
    items: list[SettingOut]
    policy: PolicyOut


def _scalar(value: Any) -> Scalar:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}\g<tail>", value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _scalar(str(value))  # paths, enums


def _leaf(value: Any) -> Scalar | list[Scalar]:
    if isinstance(value, list | tuple | set | frozenset):
        return [_scalar(v) for v in value]
    return _scalar(value)


def flatten(value: Any, key: str = "") -> list[SettingOut]:
    """``model_dump()`` output (SecretStr still wrapped) -> sorted dotted leaves, redacted."""
    name = key.rsplit(".", 1)[-1]
    if isinstance(value, SecretStr) or (value is not None and _SECRET_NAME.search(name)):
        return [SettingOut(key=key, value=REDACTED, redacted=True)]
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value):
        value = {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        if not value:
            return [SettingOut(key=key, value=None, redacted=False)] if key else []
        out: list[SettingOut] = []
        for k, v in sorted(value.items()):
            out.extend(flatten(v, f"{key}.{k}" if key else str(k)))
        return out
    return [SettingOut(key=key, value=_leaf(value), redacted=False)]


@router.get("/settings")
def effective_settings(
    runtime: RuntimeDep, _: Principal = Caller(Permission.USERS_MANAGE)
) -> SettingsOut:
    """Every effective setting (environment, file and defaults merged), secrets as ``***``."""
    settings = runtime.settings
    dumped = settings.model_dump(mode="python")
    dumped["database_url"] = settings.resolved_database_url
    privacy = settings.privacy
    policy = PolicyOut(
        jurisdiction=privacy.jurisdiction,
        cases_required=privacy.cases_required,
        forbidden_analyzers=sorted(privacy.forbidden_analyzers),
    )
    return SettingsOut(env=settings.env, items=flatten(dumped), policy=policy)
