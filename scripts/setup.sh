#!/usr/bin/env bash
# Installs everything AIMA needs, idempotently: Debian packages that are missing,
# then a virtualenv (.venv) with pinned Python dependencies. A second run is fast:
# nothing is installed when the stamp matches pyproject.toml + constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg: probing/decoding untrusted media; tesseract (+ language packs): OCR that keeps
# diacritics for the configured languages;
# espeak-ng + fonts-dejavu-core: synthetic speech and text for tests and benchmarks;
# opencv-doc: a real test face (messi5.jpg)
APT_PACKAGES=(ffmpeg tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa
              tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-nld espeak-ng opencv-doc fonts-dejavu-core)
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
    "$VENV/bin/python" -m pip install -q --upgrade "pip>=24" "setuptools<81" wheel
    "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[ml,dev]"
    "$VENV/bin/python" -m pip install -q -c constraints.txt --no-deps -r requirements-nodeps.txt
    echo "$want" > "$stamp"
fi
echo "setup: ready ($VENV)"
