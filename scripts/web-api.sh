#!/usr/bin/env bash
# Regenerates the web app's API contract after an API change, in one command:
# web/openapi.json + web/src/api/permissions.json (from the app), then web/src/api/schema.d.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AIMA_VENV:-.venv}
"$VENV/bin/python" scripts/openapi.py
[ -d web/node_modules ] || npm --prefix web ci --no-audit --no-fund
npm --prefix web run --silent gen:api
echo "web-api: contract regenerated; commit web/openapi.json web/src/api/schema.d.ts web/src/api/permissions.json"
