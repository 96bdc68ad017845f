"""Benchmark of the hotspot search and fairness on a large dataset, beside fairlearn.

Makes ROWS rows x 50 numeric features (seeded normals, 3 decimals) with a `region` column that is
not a model input (8 values) and a binary label whose relation to the features is reversed in
`region == "r3" and f0 >= 1` (a planted weak segment); trains an XGBoost model on the first
100,000 rows; starts `sextant serve` on embedded defaults, uploads both, runs a predict job, then
times `GET …/hotspots` (every column, the error rate) and `GET …/fairness` (`region == "r3"`
against the rest, 1,000 bootstrap resamples) and reads the server's peak RSS during each
(/proc/PID/status VmHWM, reset before each query through /proc/PID/clear_refs). In the same run
it times fairlearn's MetricFrame over the same decisions (the rows' probabilities read back from
Sextant's predictions table) for the same group rates and measures, without intervals, and with
`n_boot` resamples.

    python tools/bench_evaluation.py --sextant target/release/sextant [--rows 1000000]

Needs numpy, pandas, pyarrow, xgboost and fairlearn (docs/benchmarks.md says which versions).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = [f"f{i}" for i in range(50)]
REGIONS = [f"r{i}" for i in range(8)]
#: Bootstrap resamples of fairlearn's MetricFrame timed (each costs as much as the point values).
BOOT = 5


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    """The dataset (Parquet) and the model (XGBoost JSON)."""
    import xgboost as xgb

    rng = np.random.default_rng(20261207)
    x = np.round(rng.standard_normal((rows, len(FEATURES))), 3)
    region = rng.integers(0, len(REGIONS), rows)
    weights = np.zeros(len(FEATURES))
    weights[:10] = np.linspace(1.5, 0.3, 10)
    margin = x @ weights - 0.5
    weak = (region == 3) & (x[:, 0] >= 1.0)
    margin[weak] = -margin[weak]
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-margin))).astype(np.int8)
    table = {name: x[:, i] for i, name in enumerate(FEATURES)}
    table["region"] = np.array(REGIONS)[region]
    table["y"] = label
    data = folder / "large.parquet"
    pq.write_table(pa.table(table), data, compression="zstd")
    train = slice(0, min(rows, 100_000))
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 5, "eta": 0.2, "nthread": 2},
        xgb.DMatrix(x[train], label=label[train], feature_names=FEATURES),
        num_boost_round=100,
    )
    model = folder / "model.json"
    booster.save_model(model)
    return data, model


class Served:
    """`sextant serve` on a scratch directory, and its CLI."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        port = 18000 + os.getpid() % 1000
        self.url = f"http://127.0.0.1:{port}"
        data_dir = folder / "server"
        self.process = subprocess.Popen(
            [binary, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        token_file = data_dir / "admin.token"
        for _ in range(300):
            if token_file.exists():
                try:
                    urllib.request.urlopen(self.url + "/healthz", timeout=1)
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        self.token = token_file.read_text().strip()

    def cli(self, *args: str) -> str:
        env = {**os.environ, "SEXTANT_SERVER": self.url, "SEXTANT_TOKEN": self.token}
        done = subprocess.run([self.binary, *args], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"sextant {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=3600) as answer:
            return bytes(answer.read())

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def timed(self, path: str) -> tuple[float, float, bytes]:
        """Seconds, peak RSS (MiB) and the answer of one GET."""
        self.reset_peak()
        start = time.perf_counter()
        answer = self.get(path)
        return time.perf_counter() - start, self.peak_rss_mib(), answer

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def fairlearn_figures(probability: np.ndarray, label: np.ndarray, region: np.ndarray) -> dict:
    """Seconds of MetricFrame over the same decisions and groups: the rates by group and the
    measures between them, without intervals and with BOOT bootstrap resamples; and the same
    metric functions called on each group's rows without MetricFrame."""
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    decided = (probability >= 0.5).astype(int)
    group = np.where(region == "r3", "protected", "reference")
    metrics = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": false_negative_rate,
        "precision": precision_score,
        "accuracy": accuracy_score,
    }

    def once(**bootstrap: object) -> tuple[float, MetricFrame]:
        start = time.perf_counter()
        frame = MetricFrame(
            metrics=metrics,
            y_true=label,
            y_pred=decided,
            sensitive_features=group,
            **bootstrap,
        )
        frame.difference()
        frame.ratio()
        return time.perf_counter() - start, frame

    point, frame = once()
    boot, _ = once(n_boot=BOOT, ci_quantiles=[0.025, 0.975], random_state=0)
    # The floor under MetricFrame: the same functions called on each group's rows directly.
    start = time.perf_counter()
    for side in ("protected", "reference"):
        inside = group == side
        for f in metrics.values():
            f(label[inside], decided[inside])
    direct = time.perf_counter() - start
    return {"point": point, "boot": boot, "direct": direct, "frame": frame}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sextant", default="target/release/sextant")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sextant-bench-eval-") as scratch:
        folder = Path(scratch)
        start = time.perf_counter()
        data, model = make_data(args.rows, folder)
        print(
            f"data: {args.rows:,} rows x {len(FEATURES)} features + region + label, "
            f"{data.stat().st_size / 2**20:.0f} MiB Parquet, made in {time.perf_counter() - start:.0f} s"
        )
        served = Served(args.sextant, folder)
        try:
            features = ",".join(FEATURES)
            served.cli(
                "project",
                "create",
                "big",
                "--task",
                "binary",
                "--label",
                "y",
                "--features",
                features,
            )
            served.cli("model", "add", "big", str(model), "--name", "xgb")
            start = time.perf_counter()
            served.cli("data", "add", "big", str(data), "--name", "large", "--label", "y")
            print(f"upload: {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            served.cli(
                "job",
                "run",
                "big",
                "--kind",
                "predict",
                "--model",
                "xgb",
                "--dataset",
                "large",
                "--wait",
            )
            print(f"predict job: {time.perf_counter() - start:.1f} s")
            base = "/api/v1/projects/big/models/xgb"
            idle = served.peak_rss_mib()
            seconds, rss, answer = served.timed(f"{base}/hotspots?dataset=large")
            report = json.loads(answer)
            print(
                f"hotspots: {seconds:.2f} s, server peak RSS {rss:.0f} MiB "
                f"(before: {idle:.0f} MiB), {report['candidates']:,} candidates over "
                f"{len(report['columns'])} columns"
            )
            for h in report["hotspots"][:3]:
                print(
                    f"  {h['expression']}: {h['rows']:,} rows, error {h['value']:.3f} "
                    f"[{h['low']:.3f}, {h['high']:.3f}], excess {h['excess']:.0f}"
                )
            protected = urllib.parse.quote('region == "r3"')
            seconds_f, rss_f, answer = served.timed(f"{base}/fairness?dataset=large&protected={protected}")
            ours = json.loads(answer)
            print(f"fairness: {seconds_f:.2f} s (1,000 bootstrap resamples), server peak RSS {rss_f:.0f} MiB")
            table = pq.read_table(io.BytesIO(served.get(f"{base}/predictions/table?dataset=large")))
            predictions = table.to_pandas()
            rows = predictions["row"].to_numpy(dtype=int)
            region = pq.read_table(data, columns=["region"]).column(0).to_numpy()[rows]
            peer = fairlearn_figures(predictions["prediction"].to_numpy(), predictions["label"].to_numpy(), region)
            frame = peer["frame"]
            theirs = float(frame.difference()["selection_rate"])
            mine = ours["demographic_parity_difference"]["value"]
            assert abs(theirs - mine) < 1e-9, (theirs, mine)
            print(
                f"fairlearn MetricFrame (6 rates by group, difference and ratio): "
                f"{peer['point']:.2f} s without intervals, {peer['boot']:.2f} s with {BOOT} "
                f"bootstrap resamples; the 6 functions on each group directly: "
                f"{peer['direct']:.2f} s"
            )
            print(
                f"ratio: MetricFrame without intervals / Sextant with 1,000-resample intervals = "
                f"{peer['point'] / seconds_f:.1f}x; the functions directly / Sextant = "
                f"{peer['direct'] / seconds_f:.1f}x; per resample, MetricFrame "
                f"{(peer['boot'] - peer['point']) / BOOT:.2f} s, Sextant "
                f"{seconds_f / 1000 * 1e3:.2f} ms or less"
            )
            print(f"demographic_parity_difference: Sextant {mine:.6f}, fairlearn {theirs:.6f}")
        finally:
            served.stop()


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
