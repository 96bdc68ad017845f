#!/usr/bin/env bash
# A bounded load run of the intelligence service (docs/benchmarks.md, "Pages under load"):
# `ab` against 127.0.0.1, concurrency 8 for 20 s, asking for a 100-row page of the influences
# of a 10,000-row result (xgb_cls: 500 trees, 50 features), first with the machine idle, then
# while an analyzer computes. Prints requests/s, p50/p99, failures, and the server's resident
# memory fresh, during and after.
#
#   cargo build --release -p sextant && tools/load-run.sh [BINARY [WORKLOAD]]
#
# BINARY defaults to target/release/sextant, WORKLOAD to ../shared/bench-data/xgb_cls (a folder
# with model.json, explain.parquet and background.parquet). `ab` comes from Debian's apache2-utils (installed
# here when missing and running as root). Nothing outside a temporary folder is written; the
# server it starts is stopped at the end. Environment: LOAD_SECONDS (20), LOAD_CONCURRENCY (8).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/sextant}"
WORKLOAD="${2:-../shared/bench-data/xgb_cls}"
SECONDS_EACH="${LOAD_SECONDS:-20}"
CONCURRENCY="${LOAD_CONCURRENCY:-8}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release -p sextant first" >&2; exit 2; }
if ! command -v ab >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "ab is missing: apt-get install apache2-utils" >&2; exit 2; }
    apt-get install -y apache2-utils >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y apache2-utils >/dev/null; }
fi

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null && break; sleep 0.1; done
# Requests are authenticated as users' are: the fresh server's first admin.
export SEXTANT_TOKEN="$(cat "$WORK/data/admin.token")" XDG_CONFIG_HOME="$WORK/config"
AUTH="Authorization: Bearer $SEXTANT_TOKEN"
curl() { command curl -H "$AUTH" "$@"; }

cli() { "$BIN" "$@" --server "$URL" >/dev/null; }
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER/status"; }

cli project create load --task binary --from-data "$WORKLOAD/explain.parquet"
cli model add load "$WORKLOAD/model.json" --name model
cli data add load "$WORKLOAD/explain.parquet" --name explain
cli data add load "$WORKLOAD/background.parquet" --name background --role background
cli job run load --kind influences --model model --dataset explain --wait
PAGE="$URL/api/v1/projects/load/models/model/influences?dataset=explain&offset=5000&limit=100"
curl -fs "$PAGE" >/dev/null
sleep 2
FRESH="$(rss)"

# One ab run; prints "requests/s p50 p99 failed".
load() {
    ab -q -H "$AUTH" -c "$CONCURRENCY" -t "$SECONDS_EACH" -n 10000000 "$PAGE" >"$WORK/ab.txt" 2>&1 || true
    awk '/^Requests per second/ { rps = $4 } /^Failed requests/ { failed = $3 }
         /^Non-2xx responses/ { non2xx = $3 }
         /^  50%/ { p50 = $2 } /^  99%/ { p99 = $2 }
         END { printf "%8.0f req/s  p50 %4d ms  p99 %4d ms  failed %d  non-2xx %d\n",
               rps, p50, p99, failed, non2xx + 0 }' "$WORK/ab.txt"
}

echo "load run: $CONCURRENCY concurrent clients for $SECONDS_EACH s, a 100-row influences page of a 10,000-row result ($WORKLOAD)"
echo "  server RSS fresh (idle, result served once): $FRESH"
printf "  idle:                       "; load
AFTER_IDLE_LOAD="$(rss)"

# An analyzer busy for the whole run: interventional influences (the longest kind) over ever
# fewer rows, each a result of its own, one after another (one analyzer at a time on two cores).
for rows in $(seq 10000 -1 9996); do
    "$BIN" job run load --kind influences --model model --dataset explain \
        --method interventional --background background --rows "$rows" --server "$URL" >/dev/null
done
for _ in $(seq 100); do
    curl -fs "$URL/api/v1/projects/load/jobs" | grep -q '"state": *"running"' && break
    sleep 0.1
done
( sleep "$((SECONDS_EACH / 2))"; rss >"$WORK/rss-during" ) &
SAMPLER=$!
printf "  while an analyzer computes: "; load
wait "$SAMPLER"
DURING="$(cat "$WORK/rss-during")"
RUNNING="$(curl -fs "$URL/api/v1/projects/load/jobs?limit=100" | grep -c '"state": *"running"' || true)"
# Cancel what is left, let the server rest, and look again.
for id in $(curl -fs "$URL/api/v1/projects/load/jobs?limit=100" |
    python3 -c 'import json,sys; print(" ".join(j["id"] for j in json.load(sys.stdin) if j["state"] in ("queued","starting","running")))'); do
    curl -fs -X DELETE "$URL/api/v1/jobs/$id" >/dev/null || true
done
sleep 15
echo "  an analyzer was still computing at the end: $([ "$RUNNING" -gt 0 ] && echo yes || echo no)"
echo "  server RSS: fresh $FRESH, after the idle run $AFTER_IDLE_LOAD, during the loaded run $DURING, idle 15 s after $(rss)"
