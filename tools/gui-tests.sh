#!/usr/bin/env bash
# The web GUI's browser tests: headless Chromium from Debian's `chromium` and `chromium-driver`
# packages (installed here when missing), driven by selenium (PyPI, into target/gui-venv) against
# real `sextant serve` processes started from BINARY (default target/debug/sextant). Screenshots
# of each page are saved in target/gui-screenshots (SEXTANT_SCREENSHOTS).
#
#   tools/gui-tests.sh [BINARY] [PYTEST ARGS…]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:-target/debug/sextant}")"
shift || true
if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || { echo "Chromium is missing: apt-get install chromium chromium-driver" >&2; exit 2; }
    echo "installing chromium and chromium-driver from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Other tests may install packages at the same time: one apt-get at a time.
    apt() { flock /tmp/sextant-apt.lock apt-get -o DPkg::Lock::Timeout=600 "$@"; }
    apt install -y -qq chromium chromium-driver >/dev/null 2>&1 ||
        { apt update -qq && apt install -y -qq chromium chromium-driver >/dev/null; }
fi
VENV="${SEXTANT_GUI_VENV:-$PWD/target/gui-venv}"
STAMP="$VENV/.sextant-gui-$(sha256sum clients/gui-tests/requirements.txt | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "installing the browser tests' dependencies from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r clients/gui-tests/requirements.txt
    rm -f "$VENV"/.sextant-gui-*
    touch "$STAMP"
fi
# The repository's own scripts (fixtures, benchmarks) are held to the same lint and format,
# by this pinned ruff (tools/ruff.toml).
"$VENV/bin/ruff" check tools
"$VENV/bin/ruff" format --check tools
cd clients/gui-tests
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# selenium must not fetch a driver or send usage statistics (nothing outside is reachable).
SE_AVOID_STATS=true SEXTANT_BINARY="$BIN" exec "$VENV/bin/pytest" -q -p no:cacheprovider -s "$@"
