#!/usr/bin/env bash
# The Python SDK's checks: ruff (lint and format) and pytest against real `sextant serve`
# processes started from BINARY (default target/debug/sextant). Makes target/python-venv and
# installs the SDK (editable) with its test dependencies and LightGBM (for an in-memory model)
# from PyPI when missing or when clients/python/pyproject.toml changed.
#
#   tools/python-tests.sh [BINARY] [PYTEST ARGS…]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-target/debug/sextant}")"
shift || true
VENV="${SEXTANT_PYTHON_VENV:-$PWD/target/python-venv}"
STAMP="$VENV/.sextant-sdk-$(sha256sum clients/python/pyproject.toml | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "installing the SDK and its test dependencies from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -e './clients/python[test,plot]' lightgbm
    rm -f "$VENV"/.sextant-sdk-*
    touch "$STAMP"
fi
cd clients/python
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
SEXTANT_BINARY="$BIN" exec "$VENV/bin/pytest" -q -p no:cacheprovider "$@"
