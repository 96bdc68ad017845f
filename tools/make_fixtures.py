#!/usr/bin/env python3
"""Make the test fixtures and the demo that Sextant's repository ships.

Everything here is produced by the reference libraries themselves (XGBoost, LightGBM, shap), so the
tests compare Sextant against them, not against itself. Run it with the pinned versions of
../shared/bench/requirements.txt (the exact command is in tests/data/README.md); fixed seeds make a
rerun reproduce the files.

    python tools/make_fixtures.py --bench-data ../shared/bench-data --out tests/data --demo demo
"""

import argparse
import json
import os
import shutil

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap
import xgboost as xgb

import drift_fixtures
import fairness_fixtures
import onnx_fixtures

N_REFERENCE_ROWS = 200
N_INTERVENTIONAL_ROWS = 50


def write_csv(df, path):
    # Same conventions as the bench workloads: missing values as empty fields, full precision.
    df.to_csv(path, index=False, float_format="%.17g", na_rep="")


def workload_subsets(bench, out):
    """The parts of the public workloads the tests need: the model, explain rows (Parquet, all of
    them, for the whole-file additivity check), the first 200 rows' reference predictions and SHAP
    values, the background rows, and interventional references for 50 rows."""
    for name, model_file in [("xgb_cls", "model.json"), ("xgb_reg", "model.json"), ("lgb_cls", "model.txt")]:
        src, dst = os.path.join(bench, name), os.path.join(out, "workloads", name)
        os.makedirs(dst, exist_ok=True)
        for f in [model_file, "explain.parquet", "background.csv"]:
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
        explain = pd.read_csv(os.path.join(src, "explain.csv"))
        write_csv(explain.iloc[:N_REFERENCE_ROWS], os.path.join(dst, "explain_head.csv"))
        pd.read_csv(os.path.join(src, "predictions.csv")).iloc[:N_REFERENCE_ROWS].to_csv(
            os.path.join(dst, "predictions_head.csv"), index=False, float_format="%.17g"
        )
        shutil.copyfile(os.path.join(src, "shap.csv"), os.path.join(dst, "shap_head.csv"))
        if name.startswith("xgb"):
            booster = xgb.Booster(model_file=os.path.join(src, model_file))
            background = pd.read_csv(os.path.join(src, "background.csv"))
            explainer = shap.TreeExplainer(booster, data=background, feature_perturbation="interventional")
            rows = explain.iloc[:N_INTERVENTIONAL_ROWS]
            values = explainer.shap_values(rows)
            ref = pd.DataFrame(values, columns=explain.columns)
            ref["base_value"] = float(np.ravel(explainer.expected_value)[0])
            ref.to_csv(os.path.join(dst, "interventional_head.csv"), index=False, float_format="%.17g")


def rng_frame(seed, n, n_num, missing=0.0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": np.round(rng.normal(size=n), 3) for i in range(n_num)})
    if missing:
        mask = rng.random(df.shape) < missing
        df = df.mask(mask)
    return df, rng


def save_reference(dst, name, df, margins, responses, contribs, n_outputs, feature_names):
    """Reference rows: `<name>.csv` (inputs), `<name>.pred.csv` (margin/prediction per output) and
    `<name>.shap.csv` (one block of features + bias per output)."""
    write_csv(df, os.path.join(dst, f"{name}.csv"))
    margins = np.asarray(margins).reshape(len(df), n_outputs)
    responses = np.asarray(responses).reshape(len(df), n_outputs)
    suffix = (lambda k: f"__class{k}") if n_outputs > 1 else (lambda k: "")
    pred = {}
    for k in range(n_outputs):
        pred[f"margin{suffix(k)}"] = margins[:, k]
    for k in range(n_outputs):
        pred[f"prediction{suffix(k)}"] = responses[:, k]
    pd.DataFrame(pred).to_csv(os.path.join(dst, f"{name}.pred.csv"), index=False, float_format="%.17g")
    contribs = np.asarray(contribs).reshape(len(df), n_outputs, len(feature_names) + 1)
    cols, blocks = [], []
    for k in range(n_outputs):
        cols += [f"{f}{suffix(k)}" for f in feature_names] + [f"base_value{suffix(k)}"]
        blocks.append(contribs[:, k, :])
    pd.DataFrame(np.hstack(blocks), columns=cols).to_csv(
        os.path.join(dst, f"{name}.shap.csv"), index=False, float_format="%.17g"
    )


def xgb_fixture(dst, name, params, df, y, rounds, dart=False):
    d = xgb.DMatrix(df, label=y, enable_categorical=True, missing=np.nan)
    booster = xgb.train({**params, "nthread": 1, "seed": 0}, d, rounds)
    booster.save_model(os.path.join(dst, f"{name}.json"))
    test = df.iloc[:100].reset_index(drop=True)
    dt = xgb.DMatrix(test, enable_categorical=True, missing=np.nan)
    margins = booster.predict(dt, output_margin=True)
    responses = booster.predict(dt)
    n_outputs = params.get("num_class", 1)
    contribs = booster.predict(dt, pred_contribs=True)
    save_reference(dst, name, test, margins, responses, contribs, n_outputs, list(df.columns))


def lgb_fixture(dst, name, params, df, y, rounds):
    ds = lgb.Dataset(df, label=y, params={"verbose": -1})
    booster = lgb.train({**params, "num_threads": 1, "seed": 0, "verbose": -1, "deterministic": True}, ds, rounds)
    booster.save_model(os.path.join(dst, f"{name}.txt"))
    test = df.iloc[:100].reset_index(drop=True)
    margins = booster.predict(test, raw_score=True)
    responses = booster.predict(test)
    n_outputs = params.get("num_class", 1)
    contribs = booster.predict(test, pred_contrib=True)
    save_reference(dst, name, test, margins, responses, contribs, n_outputs, list(df.columns))


def small_fixtures(out):
    """Small models covering what the bench workloads do not: multiclass, categorical strings,
    Poisson, DART, and LightGBM's Zero/None missing types."""
    dst = os.path.join(out, "small")
    os.makedirs(dst, exist_ok=True)
    n = 2000

    df, rng = rng_frame(1, n, 4, missing=0.1)
    y = (np.nan_to_num(df.x0) + np.nan_to_num(df.x1) * 0.5 > 0).astype(int) + (np.nan_to_num(df.x2) > 0.8).astype(int)
    xgb_fixture(
        dst,
        "xgb_multiclass",
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3},
        df,
        y,
        10,
    )
    lgb_fixture(dst, "lgb_multiclass", {"objective": "multiclass", "num_class": 3, "num_leaves": 8}, df, y, 10)

    df, rng = rng_frame(2, n, 3)
    df["region"] = pd.Categorical(rng.choice(["north", "south", "east", "west", "centre"], size=n))
    df.loc[rng.random(n) < 0.05, "region"] = np.nan
    effect = (
        df.region.map({"north": 1.0, "south": -1.0, "east": 0.5, "west": -0.5, "centre": 0.0}).astype(float).fillna(0.2)
    )
    y = ((df.x0 + effect + rng.normal(size=n) * 0.3) > 0).astype(int)
    xgb_fixture(
        dst,
        "xgb_categorical",
        {"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1, "tree_method": "hist"},
        df,
        y,
        15,
    )
    lgb_fixture(
        dst,
        "lgb_categorical",
        {"objective": "binary", "num_leaves": 8, "min_data_per_group": 10, "cat_smooth": 1},
        df,
        y,
        15,
    )

    df, rng = rng_frame(3, n, 3, missing=0.05)
    counts = rng.poisson(np.exp(0.5 * np.nan_to_num(df.x0) + 0.3))
    xgb_fixture(dst, "xgb_poisson", {"objective": "count:poisson", "max_depth": 3}, df, counts, 10)
    yreg = 3 * np.nan_to_num(df.x0) - 2 * np.nan_to_num(df.x1) ** 2 + rng.normal(size=n) * 0.1
    xgb_fixture(
        dst,
        "xgb_dart",
        {
            "booster": "dart",
            "objective": "reg:squarederror",
            "max_depth": 3,
            "rate_drop": 0.3,
            "skip_drop": 0.0,
        },
        df,
        yreg,
        10,
    )

    # Exact zeros, so that missing_type=Zero and None both matter.
    df, rng = rng_frame(4, n, 3, missing=0.1)
    df.loc[rng.random(n) < 0.2, "x1"] = 0.0
    yreg = (
        2 * np.nan_to_num(df.x0)
        + np.where(df.x1.isna(), 3.0, 0.0)
        + np.where(df.x1 == 0.0, -2.0, 0.0)
        + rng.normal(size=n) * 0.1
    )
    lgb_fixture(
        dst,
        "lgb_zero_as_missing",
        {"objective": "regression", "num_leaves": 8, "zero_as_missing": True},
        df,
        yreg,
        10,
    )
    lgb_fixture(
        dst,
        "lgb_no_missing",
        {"objective": "regression", "num_leaves": 8, "use_missing": False},
        df,
        yreg,
        10,
    )


def demo_frame(seed=7, n=6000):
    """The demo's applicants and whether each defaulted (the first 5,000 train the model); another
    seed draws other applicants of the same population."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.integers(19, 80, size=n).astype(float),
            "income": np.round(rng.lognormal(10.5, 0.5, size=n), 0),
            "debt_ratio": np.round(rng.beta(2, 5, size=n), 3),
            "credit_lines": rng.poisson(4, size=n).astype(float),
            "late_payments": rng.poisson(0.4, size=n).astype(float),
            "months_employed": np.round(rng.exponential(60, size=n), 0),
            "region": pd.Categorical(rng.choice(["north", "south", "east", "west"], size=n)),
        }
    )
    df.loc[rng.random(n) < 0.05, "months_employed"] = np.nan
    # A risk with real signal in every feature (the model reaches ROC AUC 0.88 and accuracy 0.83 on
    # the applicants, against 0.72 for always answering "no default"), so that the demo shows a
    # model worth explaining: debt and late payments raise it, income, age and tenure lower it,
    # and an unknown employment history is itself a warning sign.
    score = (
        -1.2
        + 9 * (df.debt_ratio - 0.28)
        + 1.3 * df.late_payments
        - 1.6 * np.log(df.income / 36000)
        - 0.035 * (df.age - 45)
        + 0.12 * (df.credit_lines - 4)
        + df.region.map({"north": -0.3, "south": 0.6, "east": -0.5, "west": 0.2}).astype(float)
        - 0.012 * df.months_employed.fillna(0)
        + 0.8 * df.months_employed.isna()
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).to_numpy().astype(int)
    return df, y


def demo(out):
    """A small credit-risk demo: an XGBoost classifier, applicants to score, background rows."""
    os.makedirs(out, exist_ok=True)
    df, y = demo_frame()
    train = df.iloc[:5000]
    booster = xgb.train(
        {
            "objective": "binary:logistic",
            "max_depth": 4,
            "eta": 0.1,
            "nthread": 1,
            "seed": 0,
            "max_cat_to_onehot": 1,
            "tree_method": "hist",
        },
        xgb.DMatrix(train, label=y[:5000], enable_categorical=True),
        100,
    )
    booster.save_model(os.path.join(out, "credit_model.json"))
    applicants = df.iloc[5000:].reset_index(drop=True).copy()
    applicants.insert(0, "applicant_id", np.arange(1, len(applicants) + 1))
    applicants["defaulted"] = y[5000:]
    write_csv(applicants, os.path.join(out, "applicants.csv"))
    write_csv(train.sample(100, random_state=0), os.path.join(out, "background.csv"))


def challenger(out):
    """A weaker model of the demo's risk, for the comparison tests: depth-2 trees, 15 rounds, and
    no months of employment (it never saw the feature), trained on the same 5,000 rows."""
    os.makedirs(os.path.join(out, "compare"), exist_ok=True)
    df, y = demo_frame()
    train = df.iloc[:5000].drop(columns=["months_employed"])
    booster = xgb.train(
        {
            "objective": "binary:logistic",
            "max_depth": 2,
            "eta": 0.3,
            "nthread": 1,
            "seed": 0,
            "max_cat_to_onehot": 1,
            "tree_method": "hist",
        },
        xgb.DMatrix(train, label=y[:5000], enable_categorical=True),
        15,
    )
    booster.save_model(os.path.join(out, "compare", "credit_shallow.json"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench-data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--demo", required=True)
    args = ap.parse_args()
    workload_subsets(args.bench_data, args.out)
    small_fixtures(args.out)
    onnx_fixtures.onnx_fixtures(args.out, args.bench_data)
    demo(args.demo)
    challenger(args.out)
    fairness_fixtures.fairness_fixtures(args.out, args.demo)
    drift_fixtures.drift_fixtures(args.out, args.demo)
    versions = {
        "xgboost": xgb.__version__,
        "lightgbm": lgb.__version__,
        "shap": shap.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    with open(os.path.join(args.out, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
