#!/usr/bin/env bash
# Starts a private PostgreSQL for the tests (and for trying `sextant serve` against PostgreSQL):
# a throwaway cluster on 127.0.0.1:55432, trust authentication, superuser `sextant`. Idempotent:
# if it already runs, this does nothing. Installs Debian's postgresql package if no server is
# found. Tests connect to $SEXTANT_TEST_POSTGRES, default postgres://sextant@127.0.0.1:55432/postgres.
# `tools/dev-postgres.sh stop` stops it and removes its files.
set -euo pipefail
PORT="${SEXTANT_PG_PORT:-55432}"
DIR="${SEXTANT_PG_DIR:-/tmp/sextant-postgres}"

find_bin() {
    for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

if ! BIN="$(find_bin)"; then
    echo "installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    BIN="$(find_bin)"
fi

if [ "${1:-}" = stop ]; then
    if [ -d "$DIR/data" ]; then
        stop_as=()
        [ "$(id -u)" = 0 ] && stop_as=(runuser -u postgres --)
        "${stop_as[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
    fi
    echo "PostgreSQL on 127.0.0.1:$PORT stopped" >&2
    exit 0
fi

if pg_isready -h 127.0.0.1 -p "$PORT" -q 2>/dev/null || "$BIN/pg_ctl" status -D "$DIR" >/dev/null 2>&1; then
    echo "PostgreSQL already running on 127.0.0.1:$PORT" >&2
    exit 0
fi

# PostgreSQL refuses to run as root: run it as an unprivileged user.
as_user=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    as_user=(runuser -u postgres --)
fi
rm -rf "$DIR"
mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
"${as_user[@]}" "$BIN/initdb" -D "$DIR/data" -A trust -U sextant >/dev/null
"${as_user[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
echo "PostgreSQL running on 127.0.0.1:$PORT (postgres://sextant@127.0.0.1:$PORT/postgres)" >&2
