#!/usr/bin/env bash
# How fast does a whole result table reach a notebook? (docs/benchmarks.md, "Whole tables")
# Starts `sextant serve` on 127.0.0.1, registers a workload (default xgb_cls: 10,000 rows, 50
# features: an influence table of 53 columns; a folder with model.json or model.txt,
# explain.parquet, and numeric features), computes its path-dependent influences, then
# times from Python, ROUNDS (5) times each, the table fetched into a pandas DataFrame three ways:
# whole as Parquet (`GET …/influences/table`), and as JSON pages of 10,000 and of 1,000 rows.
# Prints the median seconds of each and the DataFrames' shape (all three are checked equal).
#
#   cargo build --release -p sextant && tools/table-fetch.sh [BINARY [WORKLOAD]]
#
# pandas and pyarrow come from PyPI into target/bench-venv (made when missing). Everything else
# is written under a temporary folder; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/sextant}"
WORKLOAD="${2:-../shared/bench-data/xgb_cls}"
VENV="${SEXTANT_BENCH_VENV:-$PWD/target/bench-venv}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build --release -p sextant first" >&2; exit 2; }
if ! "$VENV/bin/python" -c 'import pandas, pyarrow' 2>/dev/null; then
    echo "installing pandas and pyarrow from PyPI into $VENV" >&2
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pandas pyarrow
fi

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
"$BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null && break; sleep 0.1; done
export SEXTANT_TOKEN="$(cat "$WORK/data/admin.token")" XDG_CONFIG_HOME="$WORK/config"
cli() { "$BIN" "$@" --server "$URL" >/dev/null; }
cli project create bench --task binary --from-data "$WORKLOAD/explain.parquet"
MODEL="$WORKLOAD/model.json"; [ -f "$MODEL" ] || MODEL="$WORKLOAD/model.txt"
cli model add bench "$MODEL" --name model
cli data add bench "$WORKLOAD/explain.parquet" --name explain
cli job run bench --kind influences --model model --dataset explain --wait

URL="$URL" ROUNDS="${ROUNDS:-5}" "$VENV/bin/python" - <<'PY'
import io, json, os, statistics, time, urllib.request
import pandas as pd

url, token = os.environ["URL"], os.environ["SEXTANT_TOKEN"]
base = f"{url}/api/v1/projects/bench/models/model/influences"

def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        return answer.read()

def parquet():
    return pd.read_parquet(io.BytesIO(get("/table?dataset=explain")))

def pages(size):
    def fetch():
        frames, offset = [], 0
        while True:
            page = json.loads(get(f"?dataset=explain&offset={offset}&limit={size}"))
            frames.append(pd.DataFrame(page["rows"], columns=page["columns"], dtype="float64"))
            offset += size
            if offset >= page["source"]["rows_total"]:
                return pd.concat(frames, ignore_index=True)
    return fetch

ways = [("Parquet, whole", parquet), ("JSON, pages of 10,000", pages(10_000)),
        ("JSON, pages of 1,000", pages(1_000))]
frames = {}
print(f"a whole influence table into a pandas DataFrame, median of {os.environ['ROUNDS']}:")
for name, fetch in ways:
    times = []
    for _ in range(int(os.environ["ROUNDS"])):
        start = time.perf_counter()
        frames[name] = fetch()
        times.append(time.perf_counter() - start)
    shape = frames[name].shape
    print(f"  {name:24} {statistics.median(times):6.3f} s   {shape[0]} rows x {shape[1]} columns")
first = frames[ways[0][0]]
for name, frame in frames.items():
    pd.testing.assert_frame_equal(first, frame, check_exact=False, rtol=1e-15)
print("  the three DataFrames are equal")
PY
