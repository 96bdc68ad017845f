"""Benchmark of the drift job on a million rows x 100 features, beside Evidently, and on ten
million rows streamed.

Makes a reference and a current dataset of ROWS rows x 100 numeric features (seeded normals, 3
decimals; f90-f99 whole numbers 0-7) and a binary label, the current one with drift planted in
f0 (shifted by 0.25), f1 (scaled by 1.3) and f90 (a value the reference never has), the other
97 features drawn from the same distribution; trains XGBoost (100 trees, depth 5) on 100,000
reference rows; starts `sextant serve` on embedded defaults, uploads all three, and times
`sextant drift` (the whole job: both datasets streamed, 100 features and the score compared, and
the contributors: interventional TreeSHAP of 1,000 rows of each against 100 background rows),
reading the analyzer's peak RSS (VmHWM of the server's child processes, polled every 20 ms). In
the same run, in a fresh Python process, it times Evidently's `DataDriftPreset` over the same
two datasets as pandas DataFrames (reading the Parquet files apart), and reads that process's
peak RSS; then lists which features each flagged.

With --shards N it also times the same job over N analyzers (--no-peer leaves Evidently out).
With --stream-rows N it also makes a current dataset of N rows (written one row group at a
time) and times the drift job of the reference against it, with its analyzer's peak RSS.

    python tools/bench_drift.py --sextant target/debug/sextant --evidently-python /tmp/evvenv/bin/python \
        [--rows 1000000] [--stream-rows 10000000]

Needs numpy, pandas, pyarrow, xgboost and psutil; Evidently in a Python of its own (it needs
pandas 2; docs/benchmarks.md says which versions).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluation import Served  # noqa: E402

FEATURES = [f"f{i}" for i in range(100)]
#: Rows of a row group (and of each piece generated at a time).
PIECE = 250_000


def piece(rng: np.random.Generator, rows: int, drifted: bool) -> pa.Table:
    x = np.round(rng.standard_normal((rows, 100)), 3)
    x[:, 90:] = rng.integers(0, 8, (rows, 10))
    if drifted:
        x[:, 0] += 0.25
        x[:, 1] *= 1.3
        x[rng.random(rows) < 0.1, 90] = 9.0
    margin = x[:, :10] @ np.linspace(1.2, 0.2, 10) - 0.3
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int8)
    columns = {name: x[:, i] for i, name in enumerate(FEATURES)}
    columns["y"] = label
    return pa.table(columns)


def write(path: Path, rows: int, seed: int, drifted: bool) -> Path:
    rng = np.random.default_rng(seed)
    writer = None
    done = 0
    while done < rows:
        table = piece(rng, min(PIECE, rows - done), drifted)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table)
        done += table.num_rows
    assert writer is not None
    writer.close()
    return path


def train(reference: Path, folder: Path) -> Path:
    import xgboost as xgb

    table = pq.read_table(reference).slice(0, 100_000).to_pandas()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 5, "eta": 0.2, "nthread": 2},
        xgb.DMatrix(table[FEATURES], label=table["y"]),
        num_boost_round=100,
    )
    model = folder / "model.json"
    booster.save_model(model)
    return model


class ChildPeak:
    """The largest VmHWM of any child process of `pid`, polled while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        import psutil

        parent = psutil.Process(self.pid)
        while not self._stop.is_set():
            for child in parent.children(recursive=True):
                try:
                    for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kib / 1024


EVIDENTLY = """
import json, resource, sys, time
import pandas as pd
start = time.perf_counter()
reference = pd.read_parquet(sys.argv[1]).drop(columns=["y"])
current = pd.read_parquet(sys.argv[2]).drop(columns=["y"])
loaded = time.perf_counter() - start
from evidently import Report
from evidently.presets import DataDriftPreset
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
seconds = time.perf_counter() - start
drifted = []
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config["type"].endswith(":ValueDrift") and metric["value"] is not None:
        drifted.append((config["column"], config["method"], config["threshold"],
                        float(metric["value"])))
print(json.dumps({"loaded": loaded, "seconds": seconds, "values": drifted,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def evidently(python: str, reference: Path, current: Path) -> dict:
    done = subprocess.run(
        [python, "-c", EVIDENTLY, str(reference), str(current)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"Evidently failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def drift_job(served: Served, current: str, *extra: str) -> tuple[float, float, dict]:
    watch = ChildPeak(served.process.pid)
    start = time.perf_counter()
    out = served.cli(
        "drift", "big", "--model", "xgb", "--reference", "reference", "--dataset", current, "--json", *extra
    )
    seconds = time.perf_counter() - start
    return seconds, watch.stop(), json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sextant", default="target/debug/sextant")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stream-rows", type=int, default=0)
    parser.add_argument("--shards", type=int, default=0, help="also time the same job over this many analyzers")
    parser.add_argument("--no-peer", action="store_true", help="leave Evidently out")
    parser.add_argument(
        "--evidently-python",
        default=sys.executable,
        help="the Python with Evidently (it needs pandas 2: a venv of its own)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sextant-bench-drift-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        reference = write(folder / "reference.parquet", args.rows, 1, drifted=False)
        current = write(folder / "current.parquet", args.rows, 2, drifted=True)
        model = train(reference, folder)
        size = (reference.stat().st_size + current.stat().st_size) / 2**20
        print(
            f"data: 2 x {args.rows:,} rows x {len(FEATURES)} features + label, {size:.0f} MiB "
            f"of Parquet, made in {time.perf_counter() - start:.0f} s"
        )
        served = Served(args.sextant, folder)
        try:
            served.cli(
                "project", "create", "big", "--task", "binary", "--label", "y",
                "--features", ",".join(FEATURES),
            )  # fmt: skip
            served.cli("model", "add", "big", str(model), "--name", "xgb")
            start = time.perf_counter()
            for name, path in [("reference", reference), ("current", current)]:
                served.cli("data", "add", "big", str(path), "--name", name, "--label", "y")
            print(f"upload of both: {time.perf_counter() - start:.1f} s")
            seconds, peak, report = drift_job(served, "current")
            ours = sorted(f["feature"] for f in report["features"] if f["drifted"])
            top = report["contributors"][:3]
            print(
                f"sextant drift: {seconds:.1f} s (the CLI's whole job), analyzer peak RSS "
                f"{peak:.0f} MiB; drifted: {', '.join(ours)}; top contributors: "
                + ", ".join(f"{c['feature']} {c['contribution']:+.4f}" for c in top)
            )
            planted = {f["feature"]: f for f in report["features"] if f["feature"] in ("f0", "f1", "f90")}
            print(
                "planted: "
                + "; ".join(
                    f"{name} psi {f['psi']:.4f} ks {f['ks']:.4f} js {f['jensen_shannon']:.4f}"
                    for name, f in sorted(planted.items())
                )
            )
            lower = json.loads(
                served.get("/api/v1/projects/big/models/xgb/drift?reference=reference&dataset=current&psi=0.05")
            )
            print(
                "drifted at psi >= 0.05 (the same result, read again): "
                + ", ".join(sorted(f["feature"] for f in lower["features"] if f["drifted"]))
            )
            if args.shards > 1:
                # Another contributor_rows, so that the job is not answered from the stored result.
                s_seconds, s_peak, s_report = drift_job(
                    served, "current", "--shards", str(args.shards), "--contributor-rows", "1001"
                )
                same = [f["psi"] for f in s_report["features"]] == [f["psi"] for f in report["features"]]
                print(
                    f"sextant drift over {args.shards} analyzers: {s_seconds:.1f} s, largest analyzer "
                    f"peak RSS {s_peak:.0f} MiB; features as one analyzer's: {same}"
                )
            if args.no_peer:
                return
            peer = evidently(args.evidently_python, reference, current)
            # Each column's method and threshold are Evidently's defaults, as its report names
            # them (a numeric column of more than 1,000 rows: the normed Wasserstein distance,
            # drifted at 0.1 or more).
            flagged = sorted(c for c, _, threshold, v in peer["values"] if v >= threshold)
            methods = sorted({m for _, m, _, _ in peer["values"]})
            print(
                f"Evidently DataDriftPreset: {peer['seconds']:.1f} s (+{peer['loaded']:.1f} s "
                f"to read the Parquet into pandas), peak RSS {peer['peak_mib']:.0f} MiB; "
                f"drifted: {', '.join(flagged)} (methods: {', '.join(methods)})"
            )
            print(f"ratio: {peer['seconds'] / seconds:.1f}x")
            if args.stream_rows:
                start = time.perf_counter()
                big = write(folder / "stream.parquet", args.stream_rows, 3, drifted=True)
                print(
                    f"stream: {args.stream_rows:,} rows, {big.stat().st_size / 2**20:.0f} MiB "
                    f"of Parquet, made in {time.perf_counter() - start:.0f} s"
                )
                start = time.perf_counter()
                served.cli("data", "add", "big", str(big), "--name", "stream", "--label", "y")
                print(f"upload: {time.perf_counter() - start:.1f} s")
                seconds, peak, report = drift_job(served, "stream")
                print(
                    f"sextant drift over {report['rows_reference']:,} and "
                    f"{report['rows_current']:,} rows: {seconds:.1f} s, analyzer peak RSS "
                    f"{peak:.0f} MiB"
                )
        finally:
            served.stop()


if __name__ == "__main__":
    main()
