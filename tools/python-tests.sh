#!/usr/bin/env bash
# The Python SDK's checks: ruff (lint and format), mypy, and pytest against real `sextant serve`
# processes started from BINARY (default target/debug/sextant), with the SDK installed from the
# wheel this script builds.
#
# Makes target/python-venv with maturin, the SDK's dependencies and the tests' (XGBoost, LightGBM
# and scikit-learn for in-memory models and their own SHAP values) from PyPI, when missing or when
# clients/python/pyproject.toml changed. Then, every run, builds the wheel (maturin, the dev
# profile: the numeric crates are optimised in it) into target/python-wheel and installs it, so
# the tests see the package as a user gets it, native extension and all.
#
#   tools/python-tests.sh [BINARY] [PYTEST ARGS…]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-target/debug/sextant}")"
shift || true
VENV="${SEXTANT_PYTHON_VENV:-$PWD/target/python-venv}"
WHEELS="$PWD/target/python-wheel"
STAMP="$VENV/.sextant-sdk-$(sha256sum clients/python/pyproject.toml | cut -c1-16)"
export MATURIN_PEP517_ARGS="--profile dev"
if [ ! -f "$STAMP" ]; then
    echo "installing the SDK's build and test dependencies from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'maturin>=1.16,<2' \
        lightgbm xgboost-cpu scikit-learn
    "$VENV/bin/pip" install -q --disable-pip-version-check './clients/python[test,plot]'
    rm -f "$VENV"/.sextant-sdk-*
    touch "$STAMP"
fi
rm -rf "$WHEELS"
(cd clients/python && VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" build --quiet --profile dev \
    --interpreter "$VENV/bin/python" --out "$WHEELS")
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$WHEELS"/sextant-*.whl
cd clients/python
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
SEXTANT_BINARY="$BIN" exec "$VENV/bin/pytest" -q -p no:cacheprovider "$@"
