#!/usr/bin/env python3
"""Times the established tools on one Sextant bench workload, the way ../shared/bench/baseline.py
does (warm-up call, then `--runs` timed calls, median wall time), and prints one JSON object per
line. `sextant bench` runs this with the same rows and threads as its own measurement.

Peers: XGBoost / LightGBM native prediction and SHAP (pred_contribs / pred_contrib), FastTreeSHAP
v1 and v2 (when installed), and shap's interventional TreeExplainer with the workload's
100-row background. On an ONNX workload (model.onnx): onnxruntime's prediction; for a forest,
shap's interventional TreeExplainer on the scikit-learn forest (retrained as
../shared/bench/make_workloads.py trains it); for a graph, shap's PermutationExplainer and
KernelExplainer on the onnxruntime model, with their mean error against the references.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd


def emit(**kw):
    print(json.dumps(kw), flush=True)


def timed(fn, runs):
    out = fn()
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return out, statistics.median(walls)


def maxdiff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = min(len(a), len(b))
    return float(np.nanmax(np.abs(a[:n] - b[:n]))) if n else None


def measure(method, kind, rows, fn, runs, reference=None, note=""):
    try:
        out, median = timed(fn, runs)
        diff = maxdiff(out, reference) if reference is not None else None
        emit(
            method=method,
            kind=kind,
            rows=rows,
            median_s=median,
            rows_per_s=rows / median,
            max_abs_diff=diff,
            note=note,
        )
    except Exception as e:  # a peer that fails is reported, not fatal
        emit(method=method, kind=kind, rows=rows, error=f"{e.__class__.__name__}: {str(e)[:160]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--interventional-rows", type=int, required=True)
    ap.add_argument("--predict-rows", type=int, required=True)
    ap.add_argument(
        "--predict-repeat",
        type=int,
        default=1,
        help="predictions repeated per timed run (sextant bench passes its own count)",
    )
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--sampled-rows", type=int, default=50)
    ap.add_argument("--save-interventional", help="write the interventional values here (CSV)")
    args = ap.parse_args()

    folder = args.workload
    if os.path.exists(os.path.join(folder, "model.onnx")):
        return onnx_peers(folder, args)
    meta = json.load(open(os.path.join(folder, "workload.json")))
    X_df = pd.read_parquet(os.path.join(folder, "explain.parquet"))
    background = pd.read_parquet(os.path.join(folder, "background.parquet"))
    shap_ref = pd.read_csv(os.path.join(folder, "shap.csv"))
    feat = meta["feature_names"]
    ref = shap_ref[feat].to_numpy()
    is_xgb = meta["library"] == "xgboost"
    X64 = X_df[feat].to_numpy(dtype=np.float64)
    X = X64.astype(np.float32) if is_xgb else X64
    n, ni, npred, thr = args.rows, args.interventional_rows, args.predict_rows, args.threads
    rep = max(1, args.predict_repeat)

    import shap

    if is_xgb:
        import xgboost as xgb

        bst = xgb.Booster(model_file=os.path.join(folder, "model.json"))
        bst.set_param({"nthread": thr})
        measure(
            "xgboost inplace_predict",
            "predict",
            npred * rep,
            lambda: [bst.inplace_predict(X[:npred]) for _ in range(rep)][-1],
            args.runs,
        )
        measure(
            "xgboost pred_contribs",
            "shap",
            n,
            lambda: bst.predict(xgb.DMatrix(X[:n], feature_names=feat, nthread=thr), pred_contribs=True)[:, :-1],
            args.runs,
            ref,
        )
        native = bst
    else:
        import lightgbm as lgb

        bst = lgb.Booster(model_file=os.path.join(folder, "model.txt"))
        measure(
            "lightgbm predict",
            "predict",
            npred * rep,
            lambda: [bst.predict(X[:npred], num_threads=thr) for _ in range(rep)][-1],
            args.runs,
        )
        measure(
            "lightgbm pred_contrib",
            "shap",
            n,
            lambda: bst.predict(X[:n], pred_contrib=True, num_threads=thr)[:, :-1],
            args.runs,
            ref,
        )
        native = bst

    try:
        import fasttreeshap

        model = native
        if is_xgb:
            # fasttreeshap 0.1.6 cannot read XGBoost >= 2 boosters; hand it shap's parsed trees.
            m = shap.TreeExplainer(native).model
            model = {
                "trees": [
                    dict(
                        children_left=t.children_left,
                        children_right=t.children_right,
                        children_default=t.children_default,
                        features=t.features,
                        thresholds=t.thresholds,
                        values=t.values,
                        node_sample_weight=t.node_sample_weight,
                    )
                    for t in m.trees
                ],
                "base_offset": m.base_offset,
                "objective": m.objective,
                "tree_output": m.tree_output,
                "input_dtype": np.float32,
                "internal_dtype": np.float64,
            }
        for alg in ("v1", "v2"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fe = fasttreeshap.TreeExplainer(model, algorithm=alg, n_jobs=thr)
                measure(
                    f"fasttreeshap {alg}",
                    "shap",
                    n,
                    lambda fe=fe: fe.shap_values(X[:n], check_additivity=False),
                    args.runs,
                    ref,
                )
            except Exception as e:
                emit(
                    method=f"fasttreeshap {alg}",
                    kind="shap",
                    rows=n,
                    error=f"{e.__class__.__name__}: {str(e)[:160]}",
                )
    except ImportError:
        emit(method="fasttreeshap", kind="shap", rows=n, error="not installed")

    try:
        expl = shap.TreeExplainer(native, data=background[feat], feature_perturbation="interventional")
        measure(
            "shap TreeExplainer interventional",
            "interventional",
            ni,
            lambda: expl.shap_values(X_df[feat].iloc[:ni], check_additivity=False),
            args.runs,
            note=f"{len(background)}-row background",
        )
    except Exception as e:
        emit(
            method="shap TreeExplainer interventional",
            kind="interventional",
            rows=ni,
            error=f"{e.__class__.__name__}: {str(e)[:160]}",
        )


def rf_onnx_forest(meta):
    """The scikit-learn forest rf_onnx's model.onnx was converted from, trained again as
    make_workloads.py trains it (the same data, seeds and parameters)."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    if meta.get("name") != "rf_onnx":
        raise ValueError(f"no recipe for the scikit-learn model of {meta.get('name')!r}")
    X, y = make_classification(
        n_samples=30000, n_features=20, n_informative=10, n_redundant=4, flip_y=0.02, random_state=404
    )
    X = np.round(np.asarray(X, dtype=np.float64), 3)
    rf = RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=2)
    rf.fit(X[:20000], y[:20000])
    rf.set_params(n_jobs=1)
    return rf


def onnx_peers(folder, args):
    import onnxruntime as ort
    import shap

    meta = json.load(open(os.path.join(folder, "workload.json")))
    feat = meta["feature_names"]
    X64 = pd.read_parquet(os.path.join(folder, "explain.parquet"))[feat].to_numpy(dtype=np.float64)
    X = X64.astype(np.float32)
    bg = pd.read_parquet(os.path.join(folder, "background.parquet"))[feat].to_numpy(dtype=np.float64)
    preds = pd.read_csv(os.path.join(folder, "predictions.csv"))
    npred, ni, ns, thr = args.predict_rows, args.interventional_rows, args.sampled_rows, args.threads
    rep = max(1, args.predict_repeat)

    so = ort.SessionOptions()
    so.intra_op_num_threads = thr
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    measure(
        "onnxruntime run",
        "predict",
        npred * rep,
        lambda: [sess.run(None, {name: X[:npred]}) for _ in range(rep)][-1][1][:, 1],
        args.runs,
        preds["prob_1"].to_numpy(),
        note=f"onnxruntime {ort.__version__}",
    )

    if "num_trees" in meta:
        try:
            rf = rf_onnx_forest(meta)
            same = float(np.abs(rf.predict_proba(X64[:1000])[:, 1] - preds["sklearn_prob_1"].to_numpy()[:1000]).max())
            expl = shap.TreeExplainer(rf, data=bg, feature_perturbation="interventional")
            out, median = timed(lambda: expl.shap_values(X64[:ni], check_additivity=False), args.runs)
            phi = np.asarray(out)
            phi = phi[:, :, 1] if phi.ndim == 3 else phi
            if args.save_interventional:
                pd.DataFrame(phi, columns=feat).to_csv(args.save_interventional, index=False, float_format="%.17g")
            emit(
                method="shap TreeExplainer interventional (scikit-learn forest)",
                kind="interventional",
                rows=ni,
                median_s=median,
                rows_per_s=ni / median,
                note=f"shap {shap.__version__}, {len(bg)}-row background; the retrained forest's probabilities "
                f"differ from the workload's by at most {same:.1e}",
            )
        except Exception as e:
            emit(
                method="shap TreeExplainer interventional",
                kind="interventional",
                rows=ni,
                error=f"{e.__class__.__name__}: {str(e)[:160]}",
            )
        return

    counter = {"rows": 0}

    def f(Z):
        counter["rows"] += len(Z)
        return sess.run(None, {name: np.asarray(Z, dtype=np.float32)})[1][:, 1].astype(np.float64)

    refs = [
        (file, pd.read_csv(os.path.join(folder, file))[feat].to_numpy())
        for file in ("shap.csv", "shap_permutation.csv")
        if os.path.exists(os.path.join(folder, file))
    ]
    Xs = X64[:ns]

    def sampled(label, fn, note):
        try:
            counter["rows"] = 0
            fn()
            evals = counter["rows"] / ns
            out, median = timed(fn, args.runs)
            phi = np.asarray(out).reshape(ns, -1)
            errors = "; ".join(f"mean |Δ| vs {file} {np.abs(phi[: len(r)] - r[:ns]).mean():.2e}" for file, r in refs)
            emit(
                method=label,
                kind="sampled",
                rows=ns,
                median_s=median,
                rows_per_s=ns / median,
                note=f"{note}; {evals:,.0f} model rows per explained row; {errors}",
            )
        except Exception as e:
            emit(method=label, kind="sampled", rows=ns, error=f"{e.__class__.__name__}: {str(e)[:160]}")

    masker = shap.maskers.Independent(bg, max_samples=bg.shape[0])
    pe = shap.PermutationExplainer(f, masker, seed=0)
    sampled(
        "shap PermutationExplainer (defaults)",
        lambda: pe(Xs, silent=True).values,
        f"shap {shap.__version__}, max_evals=500",
    )
    sampled(
        "shap PermutationExplainer (max_evals=2050)",
        lambda: pe(Xs, max_evals=2050, silent=True).values,
        "50 antithetic pairs",
    )
    ke = shap.KernelExplainer(f, bg)
    np.random.seed(0)
    sampled(
        "shap KernelExplainer (l1_reg=False)",
        lambda: ke.shap_values(Xs, silent=True, l1_reg=False),
        "nsamples='auto'",
    )


if __name__ == "__main__":
    sys.exit(main())
