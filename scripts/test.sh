#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: lint, format, types, migrations, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${AIMA_VENV:-.venv}
BIN="$VENV/bin"

echo "== ruff check";  "$BIN/ruff" check src tests benchmarks
echo "== ruff format"; "$BIN/ruff" format --check src tests benchmarks
echo "== mypy";        "$BIN/mypy"

echo "== web: API contract, types, unit tests"
npm --prefix web test --silent

echo "== alembic check (models vs migrations, SQLite)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
AIMA_DATA_DIR="$tmp" AIMA_ENV=test "$BIN/aima" db check

# CI must exercise PostgreSQL: the fixtures fail instead of skipping there.
if [ "${CI:-}" = "true" ]; then export AIMA_REQUIRE_POSTGRES=1; fi

echo "== pytest"
set +e
"$BIN/python" -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $rc
