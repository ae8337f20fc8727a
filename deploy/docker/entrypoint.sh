#!/bin/sh
# Container entrypoint: turns secret files into AIMA_ settings, then runs `aima ARGS`
# (or `ray ...` / `python ...`, with the same settings, for the Ray nodes).
#
# Every file in $SECRETS_DIR (default /run/secrets, where compose `secrets:` and a
# Kubernetes Secret volume land) whose name is an AIMA_ setting, e.g.
# /run/secrets/AIMA_AUTH__JWT_SECRET, is exported as that variable with the file's content
# (trailing newline removed), so secrets never sit in the compose file or `docker inspect`.
# Other files there (postgres_password, ...) are left alone.
set -eu
dir="${SECRETS_DIR:-/run/secrets}"
if [ -d "$dir" ]; then
    for file in "$dir"/AIMA_*; do
        [ -f "$file" ] || continue
        name=$(basename "$file")
        case "$name" in
            *[!A-Z0-9_]*) echo "entrypoint: skipping $file (not a variable name)" >&2; continue ;;
        esac
        value=$(cat "$file")
        export "$name=$value"
    done
fi
case "${1:-}" in
    aima) shift; exec aima "$@" ;;
    ray | python | sh) exec "$@" ;;  # the Ray head/worker run from this image too
    *) exec aima "$@" ;;
esac
