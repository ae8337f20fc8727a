#!/usr/bin/env bash
# Installs everything AIMA needs, idempotently: Debian packages that are missing,
# then a virtualenv (.venv) with pinned Python dependencies. A second run is fast:
# nothing is installed when the stamp matches pyproject.toml + constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: probing/decoding untrusted media; tesseract (+ language packs): OCR that keeps
# diacritics for the configured languages;
# espeak-ng + fonts-dejavu-core: synthetic speech and text for tests and benchmarks;
# opencv-doc: a real test face (messi5.jpg); chromium: the browser the web app's tests drive;
# docker-compose + prometheus (promtool): offline checks of the files in deploy/ (no daemon runs)
APT_PACKAGES=(ffmpeg tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa
              tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-nld espeak-ng opencv-doc fonts-dejavu-core
              chromium docker-compose prometheus strace)
PYTHON=${PYTHON:-python3.11}
VENV=${AIMA_VENV:-.venv}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.aima-installed"
want=$(cat pyproject.toml constraints.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Python dependencies into $VENV"
    # llama-cpp-python (the real LLM server the tests use) builds from source the first time
    # (~10 min on 2 cores; pip caches the wheel): portable CPU code, not this CPU's extensions.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    "$VENV/bin/python" -m pip install -q --upgrade "pip>=24" "setuptools<81" wheel
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[ml,dev]"
    "$VENV/bin/python" -m pip install -q -c constraints.txt --no-deps -r requirements-nodeps.txt
    echo "$want" > "$stamp"
fi
# The web app (web/ -> src/aima/web/static): rebuilt only when its sources change; `npm ci` only
# when the lock file does. Without Node.js >= 20.19 the API still runs and / says how to build.
if command -v npm >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    lock_stamp="web/node_modules/.aima-lock"
    lock_want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
    if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_want" ]; then
        echo "setup: installing web dependencies (npm ci)"
        npm --prefix web ci --no-audit --no-fund --loglevel=error
        echo "$lock_want" > "$lock_stamp"
    fi
    build_stamp="web/node_modules/.aima-build"
    build_want=$(cd web && find package-lock.json package.json .npmrc index.html tsconfig.json vite.config.ts openapi.json src scripts \
                 -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    if [ ! -f src/aima/web/static/index.html ] || [ ! -f "$build_stamp" ] \
       || [ "$(cat "$build_stamp")" != "$build_want" ]; then
        echo "setup: building the web app"
        npm --prefix web run --silent build >/dev/null
        echo "$build_want" > "$build_stamp"
    fi
else
    echo "setup: Node.js >= 20.19 with npm not found; skipping the web app (the API runs without it)" >&2
fi
echo "setup: ready ($VENV)"
