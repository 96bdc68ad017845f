#!/usr/bin/env bash
# Benchmarks the GUI's model page on a large result (tools/bench_gui.py): a 10,000-row influence
# table of a 100-feature LightGBM model (the shared lgb_cls workload), loaded cold and warm in
# headless Chromium; prints the time until every plot is drawn and the bytes transferred beside
# the goals (1.5 s, 2 MB). Uses the browser tests' virtual environment and Chromium
# (tools/gui-tests.sh installs them) and BINARY (default: target/release/sextant if built, else
# target/debug/sextant).
#
#   tools/bench-gui.sh [BINARY] [--rows N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    BIN="$(realpath "$1")"
    shift
elif [ -x target/release/sextant ]; then
    BIN="$PWD/target/release/sextant"
else
    BIN="$PWD/target/debug/sextant"
fi
VENV="${SEXTANT_GUI_VENV:-$PWD/target/gui-venv}"
SHARED="${SEXTANT_SHARED:-$PWD/../shared}"
if [ ! -x "$VENV/bin/python" ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "run tools/gui-tests.sh once first: it installs Chromium and selenium" >&2
    exit 2
fi
echo "server: $BIN" >&2
SE_AVOID_STATS=true exec "$VENV/bin/python" tools/bench_gui.py --binary "$BIN" \
    --workload "$SHARED/bench-data/lgb_cls" "$@"
