#!/usr/bin/env bash
# Checks the running server at $1 against its own OpenAPI document with schemathesis: every
# operation, every check (server errors, status codes, content types, response schemas,
# negative and positive data, stateful links), bounded in examples per operation and in time,
# single worker, fixed seed. Installs schemathesis from PyPI into target/schemathesis-venv if
# missing.
# With SEXTANT_TOKEN set, every request carries it as its bearer token.
# Exits non-zero on any failure; the report goes to standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
URL="${1:?usage: tools/api-conformance.sh http://127.0.0.1:PORT}"
VENV="${SEXTANT_CONFORMANCE_VENV:-$PWD/target/schemathesis-venv}"
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${SEXTANT_CONFORMANCE_EXAMPLES:-25}"
SECONDS_BUDGET="${SEXTANT_CONFORMANCE_SECONDS:-150}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
AUTH=()
if [ -n "${SEXTANT_TOKEN:-}" ]; then
    AUTH=(--header "Authorization: Bearer $SEXTANT_TOKEN")
fi
exec "$VENV/bin/schemathesis" --config-file tools/api-conformance.toml --no-color run \
    "$URL/api/v1/openapi.json" "${AUTH[@]}" --checks all --max-examples "$EXAMPLES" --max-time "$SECONDS_BUDGET" \
    --workers 1 --seed 1 --generation-database none --request-timeout 30
