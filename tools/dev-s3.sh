#!/usr/bin/env bash
# Starts a private S3-compatible server for the tests (and for trying `sextant serve` against S3):
# moto's server from PyPI, in a virtualenv under target/, on 127.0.0.1:55433, with the bucket
# `sextant-test`. Idempotent: if it already answers, this does nothing. moto accepts any
# credentials; the tests use AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test. Tests reach it at
# $SEXTANT_TEST_S3, default http://127.0.0.1:55433. `tools/dev-s3.sh stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${SEXTANT_S3_PORT:-55433}"
VENV="${SEXTANT_S3_VENV:-$PWD/target/tools-venv}"
LOG="${SEXTANT_S3_LOG:-/tmp/sextant-s3.log}"
MOTO_VERSION=5.2.5

answers() { python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=2)" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
    pkill -f "moto_server -H 127.0.0.1 -p $PORT" || true
    echo "S3 server on 127.0.0.1:$PORT stopped" >&2
    exit 0
fi

if answers; then
    echo "S3 server already running on 127.0.0.1:$PORT" >&2
else
    if [ ! -x "$VENV/bin/moto_server" ]; then
        echo "installing moto[server] $MOTO_VERSION from PyPI into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
    # setsid: the server outlives this script (and the CI step that ran it).
    setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 < /dev/null &
    for _ in $(seq 1 100); do
        answers && break
        sleep 0.2
    done
    answers || { echo "the S3 server did not start; see $LOG" >&2; exit 1; }
    echo "S3 server running on 127.0.0.1:$PORT (moto; log $LOG)" >&2
fi
# Create the test bucket (moto answers 200 when it already exists).
python3 - "$PORT" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/sextant-test", method="PUT")
urllib.request.urlopen(req, timeout=10).read()
PY
