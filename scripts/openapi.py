"""Write the API contract the web app is typed against.

    .venv/bin/python scripts/openapi.py          # writes web/openapi.json + web/src/api/permissions.json
    .venv/bin/python scripts/openapi.py --check  # exit 1 when the committed files are stale

``web/openapi.json`` is the app's OpenAPI document (built from a throw-away data dir, no
workers, keys sorted, so the output only changes when the API does); ``npm run gen:api``
turns it into ``web/src/api/schema.d.ts``. ``permissions.json`` is the role → permissions
table the web app uses to hide what a role may not use (the API still decides).
``bash scripts/web-api.sh`` runs both steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_JSON = ROOT / "web" / "openapi.json"
PERMISSIONS_JSON = ROOT / "web" / "src" / "api" / "permissions.json"
REGENERATE = "run: bash scripts/web-api.sh  (= scripts/openapi.py && npm --prefix web run gen:api)"


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app as ``aima serve`` builds it."""
    from aima.api.app import create_app
    from aima.core.settings import Settings
    from aima.runtime import build_runtime

    with tempfile.TemporaryDirectory(prefix="aima-openapi-") as tmp:
        settings = Settings(
            env="test",
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/openapi.db",
            auth={"jwt_secret": "openapi-" + "x" * 40},
            worker={"embedded": False},
            log_level="WARNING",
        )
        runtime = build_runtime(settings)
        try:
            return create_app(runtime, start_workers=False).openapi()
        finally:
            runtime.close()


def permissions_document() -> dict[str, list[str]]:
    from aima.security.permissions import ROLE_PERMISSIONS

    return {
        role.value: sorted(p.value for p in perms)
        for role, perms in sorted(ROLE_PERMISSIONS.items(), key=lambda kv: kv[0].value)
    }


def documents() -> dict[Path, str]:
    """Every generated contract file and the text it must have."""
    return {
        OPENAPI_JSON: _dump(openapi_document()),
        PERMISSIONS_JSON: _dump(permissions_document()),
    }


def stale(expected: dict[Path, str]) -> list[Path]:
    return [
        path
        for path, text in expected.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    expected = documents()
    if args.check:
        outdated = stale(expected)
        for path in outdated:
            print(f"stale: {path.relative_to(ROOT)}; {REGENERATE}", file=sys.stderr)
        return 1 if outdated else 0
    for path, text in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
