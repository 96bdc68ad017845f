#!/usr/bin/env python3
"""The Python client's local mode beside what a pip user has otherwise, on one bench workload, in
one process and one run: ``sextant.explain`` / ``sextant.predict`` against XGBoost
``pred_contribs`` / LightGBM ``pred_contrib`` (path-dependent TreeSHAP), shap's
``TreeExplainer`` (path-dependent, and interventional against the workload's background) and
the libraries' own prediction. Each figure is the median of ``--runs`` timed calls after a
warm-up (``bench_peers.timed``); every tool gets the same rows and ``--threads`` threads, except
shap's TreeExplainer, which has no thread setting (its C++ code uses one).

Run by ``tools/bench-local.sh``, which builds the release wheel first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_peers import maxdiff, timed  # noqa: E402


def peer(tool: str, kind: str, rows: int, fn, runs: int, reference, ours: float | None):
    """Times a tool and prints its row; a tool that fails is reported, not fatal."""
    try:
        out, median = timed(fn, runs)
    except Exception as e:
        print(f"| {kind} | {tool} | {rows:,} | fails: {e.__class__.__name__}: {str(e)[:80]} | | |")
        return None
    diff = None if reference is None else maxdiff(out, reference)
    return row(tool, kind, rows, median, diff, ours)


def row(tool: str, kind: str, rows: int, median: float, diff: float | None, ours: float | None):
    rate = rows / median
    ratio = f"{ours / rate:.1f}×" if ours else ""
    shown = "" if diff is None else f"{diff:.1e}"
    print(f"| {kind} | {tool} | {rows:,} | {rate:,.0f} | {ratio} | {shown} |", flush=True)
    return rate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--rows", type=int, default=1000, help="rows for path-dependent SHAP")
    ap.add_argument("--interventional-rows", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import sextant
    import shap

    folder = args.workload
    meta = json.load(open(os.path.join(folder, "workload.json")))
    features = meta["feature_names"]
    X = pd.read_parquet(os.path.join(folder, "explain.parquet"))[features]
    background = pd.read_parquet(os.path.join(folder, "background.parquet"))[features]
    reference = pd.read_csv(os.path.join(folder, "shap.csv"))[features].to_numpy()
    model_file = os.path.join(folder, meta.get("model_file") or _model_file(folder))
    n, ni, thr, runs = args.rows, args.interventional_rows, args.threads, args.runs
    rows, few = X.iloc[:n], X.iloc[:ni]

    t0 = time.perf_counter()
    model = sextant.load_model(model_file)
    load = time.perf_counter() - t0
    print(
        f"\n{os.path.basename(folder)}: {model!r}; loaded in {load * 1000:.0f} ms; "
        f"{thr} threads; median of {runs} calls after a warm-up\n"
    )
    print("| kind | tool | rows | rows/s | Sextant's ratio | max \\|Δ\\| |")
    print("|---|---|---:|---:|---:|---:|")

    first = time.perf_counter()
    model.explain(rows.iloc[:1], threads=thr)
    first = time.perf_counter() - first
    out, median = timed(lambda: model.explain(rows, threads=thr), runs)
    ours = row(
        "sextant.explain (local)",
        "path-dependent",
        n,
        median,
        maxdiff(out[features].to_numpy(), reference),
        None,
    )
    if meta["library"] == "xgboost":
        import xgboost as xgb

        booster = xgb.Booster(model_file=model_file)
        booster.set_param({"nthread": thr})
        X32 = rows.to_numpy(dtype=np.float32)
        peer(
            "xgboost pred_contribs",
            "path-dependent",
            n,
            lambda: booster.predict(xgb.DMatrix(X32, feature_names=features, nthread=thr), pred_contribs=True)[:, :-1],
            runs,
            reference,
            ours,
        )
        native_rows = X32
        native_predict = lambda: booster.inplace_predict(X.to_numpy(dtype=np.float32))  # noqa: E731
        native_name = "xgboost inplace_predict"
    else:
        import lightgbm as lgb

        booster = lgb.Booster(model_file=model_file)
        X64 = rows.to_numpy(dtype=np.float64)
        peer(
            "lightgbm pred_contrib",
            "path-dependent",
            n,
            lambda: booster.predict(X64, pred_contrib=True, num_threads=thr)[:, :-1],
            runs,
            reference,
            ours,
        )
        native_rows = X64
        native_predict = lambda: booster.predict(X.to_numpy(), num_threads=thr)  # noqa: E731
        native_name = "lightgbm predict"

    # shap hands path-dependent SHAP of XGBoost and LightGBM models to the library itself.
    explainer = shap.TreeExplainer(booster)
    peer(
        "shap TreeExplainer (path-dependent)",
        "path-dependent",
        n,
        lambda: explainer.shap_values(native_rows, check_additivity=False),
        runs,
        reference,
        ours,
    )

    out, median = timed(lambda: model.explain(few, background=background, threads=thr), runs)
    ours = row("sextant.explain (local)", "interventional", ni, median, None, None)
    explainer = shap.TreeExplainer(booster, data=background, feature_perturbation="interventional")
    peer(
        "shap TreeExplainer (interventional)",
        "interventional",
        ni,
        lambda: explainer.shap_values(few, check_additivity=False),
        runs,
        out[features].to_numpy(),
        ours,
    )

    out, median = timed(lambda: model.predict(X, threads=thr), runs)
    ours = row("sextant.predict (local)", "predict", len(X), median, None, None)
    peer(native_name, "predict", len(X), native_predict, runs, out.to_numpy(), ours)
    print(
        f"\nThe first local call (one row) took {first * 1000:.0f} ms: the path-dependent tables "
        "are made then, and kept by the LocalModel for the calls after it."
    )
    return 0


def _model_file(folder: str) -> str:
    return next(f for f in os.listdir(folder) if f.startswith("model."))


if __name__ == "__main__":
    sys.exit(main())
