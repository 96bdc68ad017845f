#!/usr/bin/env bash
# What authentication costs under load (docs/benchmarks.md, "Authentication under load"): two
# servers from one binary on 127.0.0.1 with the same demo project, one with accounts (every
# request carries a bearer token, checked against the metastore through the token cache) and
# one with authentication off (auth.enabled = false, loopback only). `ab` asks each for a
# 100-row page of influences and for the job listing, LOAD_CONCURRENCY (8) clients on kept-alive
# connections (as the SDK and the GUI keep them) for LOAD_SECONDS (10) a run, the two servers
# alternating and taking turns at going first, ROUNDS (5) rounds. Prints requests/s, p50 and p99
# of every run, then the medians and p99's change.
#
#   cargo build --release -p sextant && tools/auth-load.sh [BINARY]
#
# BINARY defaults to target/release/sextant. `ab` comes from Debian's apache2-utils (installed
# when missing and running as root). Everything is written under a temporary folder; the servers
# are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/sextant}"
SECONDS_EACH="${LOAD_SECONDS:-10}"
CONCURRENCY="${LOAD_CONCURRENCY:-8}"
ROUNDS="${ROUNDS:-5}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release -p sextant first" >&2; exit 2; }
if ! command -v ab >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "ab is missing: apt-get install apache2-utils" >&2; exit 2; }
    apt-get install -y apache2-utils >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y apache2-utils >/dev/null; }
fi

WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
export XDG_CONFIG_HOME="$WORK/config"

# start NAME [ENV…]: a server on a free port with the demo project; sets URL_<NAME>.
start() {
    local name="$1"; shift
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    env "$@" "$BIN" serve --data-dir "$WORK/$name" --listen "127.0.0.1:$port" 2>"$WORK/$name.log" &
    PIDS+=("$!")
    local url="http://127.0.0.1:$port"
    for _ in $(seq 100); do curl -fs "$url/readyz" >/dev/null && break; sleep 0.1; done
    local token=""
    [ -f "$WORK/$name/admin.token" ] && token="$(cat "$WORK/$name/admin.token")"
    cli() { SEXTANT_TOKEN="$token" "$BIN" "$@" --server "$url" >/dev/null; }
    cli project create credit --task binary --label defaulted --id applicant_id --from-data demo/applicants.csv
    cli model add credit demo/credit_model.json --name xgb
    cli data add credit demo/applicants.csv --name applicants --role test --label defaulted
    for kind in predict influences; do
        cli job run credit --kind "$kind" --model xgb --dataset applicants --wait
    done
    printf -v "URL_$name" '%s' "$url"
    printf -v "TOKEN_$name" '%s' "$token"
}
start auth
start open SEXTANT_AUTH_ENABLED=false

PAGE="/api/v1/projects/credit/models/xgb/influences?dataset=applicants&offset=500&limit=100"
LISTING="/api/v1/jobs?limit=50"

# run SERVER PATH: one ab run; prints "req/s p50 p99" and appends it to $WORK/SERVER-WHAT.
run() {
    local server="$1" path="$2" what="$3"
    local url_var="URL_$server" token_var="TOKEN_$server"
    local header=()
    [ -n "${!token_var}" ] && header=(-H "Authorization: Bearer ${!token_var}")
    ab -q -k "${header[@]}" -c "$CONCURRENCY" -t "$SECONDS_EACH" -n 10000000 \
        -e "$WORK/pct.csv" "${!url_var}$path" >"$WORK/ab.txt" 2>&1 || true
    local rps failed non2xx p50 p99
    rps="$(awk '/^Requests per second/ {print $4}' "$WORK/ab.txt")"
    failed="$(awk '/^Failed requests/ {print $3}' "$WORK/ab.txt")"
    non2xx="$(awk '/^Non-2xx responses/ {print $3}' "$WORK/ab.txt")"
    p50="$(awk -F, '$1 == 50 {print $2}' "$WORK/pct.csv")"
    p99="$(awk -F, '$1 == 99 {print $2}' "$WORK/pct.csv")"
    printf "  %-8s %-7s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  failed %s  non-2xx %s\n" \
        "$what" "$server" "$rps" "$p50" "$p99" "${failed:-0}" "${non2xx:-0}"
    echo "$rps $p50 $p99" >>"$WORK/$server-$what"
}

echo "authentication under load: $CONCURRENCY clients, $SECONDS_EACH s a run, $ROUNDS rounds, $(nproc) cores ($BIN)"
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    order="open auth"; [ $((round % 2)) = 0 ] && order="auth open"
    for what in page listing; do
        path="$PAGE"; [ "$what" = listing ] && path="$LISTING"
        for server in $order; do run "$server" "$path" "$what"; done
    done
done

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "medians"
for what in page listing; do
    for server in open auth; do
        f="$WORK/$server-$what"
        printf "  %-8s %-7s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n" "$what" "$server" \
            "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median)"
    done
    open99="$(cut -d' ' -f3 "$WORK/open-$what" | median)"
    auth99="$(cut -d' ' -f3 "$WORK/auth-$what" | median)"
    python3 -c "print(f'  {\"$what\":8} p99 with authentication: {($auth99 - $open99) / $open99 * 100:+.1f} %')"
done
