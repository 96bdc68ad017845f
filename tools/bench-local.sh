#!/usr/bin/env bash
# Benchmarks the Python client's local mode against XGBoost, LightGBM and shap in one run
# (tools/bench_local.py) on the shared bench workloads, with the release build of the wheel.
# Makes target/bench-local-venv with the peers at the versions the workloads were made with
# (../shared/bench/requirements.txt), maturin and the client's own dependencies, from PyPI,
# when missing.
#
#   tools/bench-local.sh [WORKLOAD DIR …]      (default: ../shared/bench-data/{xgb_cls,xgb_reg,lgb_cls})
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SEXTANT_BENCH_VENV:-$PWD/target/bench-local-venv}"
SHARED="${SEXTANT_SHARED:-$PWD/../shared}"
if ! "$VENV/bin/python" -c 'import shap, xgboost, lightgbm, maturin, httpx, tqdm' 2>/dev/null; then
    echo "installing the peers and maturin from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$SHARED/bench/requirements.txt" \
        'maturin>=1.16,<2' 'httpx>=0.27' 'tqdm>=4.60'
fi
WHEELS="$PWD/target/python-wheel-release"
rm -rf "$WHEELS"
(cd clients/python && VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" build --quiet --release \
    --interpreter "$VENV/bin/python" --out "$WHEELS")
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$WHEELS"/sextant-*.whl
if [ $# -eq 0 ]; then
    set -- "$SHARED"/bench-data/xgb_cls "$SHARED"/bench-data/xgb_reg "$SHARED"/bench-data/lgb_cls
fi
for workload in "$@"; do
    "$VENV/bin/python" tools/bench_local.py --workload "$workload" --threads "$(nproc)"
done
