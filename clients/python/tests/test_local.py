"""Local mode (the native extension): against the libraries' own values (the repository's
fixtures, and XGBoost and LightGBM boosters trained here), against the server's tables for the
same inputs, its input rules and errors, and that it lets other Python threads run."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import sextant

DATA = REPO / "tests" / "data"
SMALL = DATA / "small"
ONNX = DATA / "onnx"
DEMO = REPO / "demo"
# The models in tests/data/small and the bench workloads, with their model files.
FIXTURES = [
    (SMALL, name, ext)
    for name, ext in [
        ("xgb_multiclass", "json"),
        ("xgb_categorical", "json"),
        ("xgb_poisson", "json"),
        ("xgb_dart", "json"),
        ("lgb_multiclass", "txt"),
        ("lgb_categorical", "txt"),
        ("lgb_zero_as_missing", "txt"),
        ("lgb_no_missing", "txt"),
    ]
]


def tolerance(reference: np.ndarray) -> np.ndarray:
    """The reference tolerance the Rust suites use: absolute 1e-5 plus 4e-6 of the row's largest
    value (the libraries compute in float32)."""
    return 1e-5 + 4e-6 * np.abs(reference).max(axis=1, keepdims=True)


def assert_close(ours: pd.DataFrame, reference: pd.DataFrame, what: str) -> None:
    got = ours[reference.columns].to_numpy()[: len(reference)]
    want = reference.to_numpy(dtype=np.float64)
    bad = np.abs(got - want) > tolerance(want)
    assert not bad.any(), f"{what}: {bad.sum()} values off, worst {np.abs(got - want).max():.3e}"


@pytest.mark.parametrize("folder,name,ext", FIXTURES, ids=[f[1] for f in FIXTURES])
def test_small_models_match_their_libraries(folder, name, ext):
    X = pd.read_csv(folder / f"{name}.csv")
    model = sextant.load_model(folder / f"{name}.{ext}")
    assert_close(model.predict(X, output="both"), pd.read_csv(folder / f"{name}.pred.csv"), name)
    phi = model.explain(X)
    assert_close(phi, pd.read_csv(folder / f"{name}.shap.csv"), name)
    # Influences plus base value give back the margin, per class.
    for k in range(model.n_outputs):
        suffix = f"__class{k}" if model.n_outputs > 1 else ""
        block = phi[[f + suffix for f in model.features] + [f"base_value{suffix}"]]
        assert np.allclose(block.sum(axis=1), phi[f"margin{suffix}"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("workload", ["xgb_cls", "xgb_reg", "lgb_cls"])
def test_workloads_match_their_libraries(workload):
    folder = DATA / "workloads" / workload
    model_file = next(p for p in folder.iterdir() if p.name.startswith("model."))
    X = pd.read_csv(folder / "explain_head.csv")
    phi = sextant.explain(model_file, X)
    reference = pd.read_csv(folder / "shap_head.csv").rename(columns={"bias": "base_value"})
    assert_close(phi, reference, workload)
    # The libraries' names for the margin and the prediction.
    names = {"prob": "prediction", "pred": "prediction", "margin": "margin", "raw": "margin"}
    reference = pd.read_csv(folder / "predictions_head.csv").rename(columns=names)
    assert_close(sextant.predict(model_file, X, output="both"), reference, workload)
    interventional = folder / "interventional_head.csv"
    if interventional.exists():
        reference = pd.read_csv(interventional)
        background = pd.read_csv(folder / "background.csv")
        ours = sextant.explain(model_file, X.iloc[: len(reference)], background=background)
        assert_close(ours, reference, f"{workload} interventional")


def test_boosters_in_memory_match_their_own_shap():
    xgboost = pytest.importorskip("xgboost")
    lightgbm = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
    X.loc[rng.random(300) < 0.1, "c"] = np.nan
    y = (X["a"] - X["b"] + 0.3 * X["c"].fillna(0) > 0).astype(int)

    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 4, "nthread": 1},
        xgboost.DMatrix(X, y),
        num_boost_round=20,
    )
    contribs = booster.predict(xgboost.DMatrix(X), pred_contribs=True)
    expected = pd.DataFrame(contribs, columns=[*X.columns, "base_value"])
    assert_close(sextant.explain(booster, X), expected, "xgboost.Booster")
    sklearn = xgboost.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(
        sextant.predict(sklearn, X).to_numpy(), sklearn.predict_proba(X)[:, 1], rtol=1e-6
    )

    lgb = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1).fit(X, y)
    contribs = lgb.booster_.predict(X, pred_contrib=True)
    expected = pd.DataFrame(contribs, columns=[*X.columns, "base_value"])
    assert_close(sextant.explain(lgb, X), expected, "lightgbm.LGBMClassifier")
    np.testing.assert_allclose(
        sextant.predict(lgb.booster_, X).to_numpy(), lgb.predict_proba(X)[:, 1], rtol=1e-12
    )


def test_input_forms_agree():
    X = pd.read_csv(SMALL / "lgb_categorical.csv")
    model = sextant.load_model(SMALL / "lgb_categorical.txt")
    assert model.categories["region"], "the model records its category names"
    base = model.explain(X)
    # Reordered columns and extra ones: matched by name.
    shuffled = X[["region", "x2", "x0", "x1"]].assign(extra="ignored")
    pd.testing.assert_frame_equal(model.explain(shuffled), base)
    # A pandas category column, with categories in another order than the model's.
    reversed_order = sorted(X["region"].dropna().unique(), reverse=True)
    categorical = X.assign(region=pd.Categorical(X["region"], categories=reversed_order))
    pd.testing.assert_frame_equal(model.explain(categorical), base)
    # A NumPy matrix of codes, in the model's feature order.
    codes = X.assign(
        region=X["region"].map({n: i for i, n in enumerate(model.categories["region"])})
    )
    as_numpy = model.explain(codes[model.features].to_numpy())
    np.testing.assert_array_equal(as_numpy.to_numpy(), base.to_numpy())
    assert list(as_numpy.index) == list(range(len(X)))
    # One thread or all of them: the same numbers.
    np.testing.assert_array_equal(model.explain(X, threads=1).to_numpy(), base.to_numpy())
    # The index is the DataFrame's.
    indexed = X.set_index(pd.Index([f"r{i}" for i in range(len(X))], name="id"))
    assert model.predict(indexed).index.equals(indexed.index)


def test_numeric_columns_of_any_dtype_agree():
    X = pd.read_csv(SMALL / "xgb_multiclass.csv")
    X.loc[::7, "x1"] = np.nan
    model = sextant.load_model(SMALL / "xgb_multiclass.json")
    base = model.explain(X)
    nullable = X.astype("Float64")
    assert nullable["x1"].isna().sum() == X["x1"].isna().sum()
    pd.testing.assert_frame_equal(model.explain(nullable), base)
    as_float32 = X.astype(np.float32).astype(np.float64)
    pd.testing.assert_frame_equal(model.explain(X.astype(np.float32)), model.explain(as_float32))
    as_text = X.astype(str)  # NaN becomes "nan": missing, as in a data file
    pd.testing.assert_frame_equal(model.explain(as_text), base)


def test_bad_input_gets_a_clear_error(tmp_path):
    X = pd.read_csv(SMALL / "lgb_categorical.csv")
    model = sextant.load_model(SMALL / "lgb_categorical.txt")
    cases = [
        (
            lambda: model.explain(X.drop(columns=["x1"])),
            ValueError,
            'lacks the model\'s features "x1"',
        ),
        (lambda: model.explain(np.zeros((3, 5))), ValueError, "has 5 columns; the model has 4"),
        (lambda: model.explain(np.zeros(4)), ValueError, "must be 2-D"),
        (
            lambda: model.explain(X.assign(region=["nowhere"] * len(X))),
            ValueError,
            'column "region", row 0: "nowhere" is not one of the model\'s categories ("centre"',
        ),
        (
            lambda: model.explain(X.assign(x0=["1.5"] * (len(X) - 1) + ["lots"])),
            ValueError,
            f'column "x0", row {len(X) - 1}: cannot read "lots" as a number',
        ),
        (
            lambda: model.explain(X.assign(x0=pd.Timestamp("2026-01-01"))),
            ValueError,
            'column "x0" holds datetime64',
        ),
        (lambda: model.explain(X, method="interventional"), ValueError, "needs a background"),
        (lambda: model.explain(X, method="exact"), ValueError, "method must be one of"),
        (lambda: model.explain(X, background=X.iloc[:0]), ValueError, "background has no rows"),
        (lambda: model.explain(X, threads=0), ValueError, "threads must be at least 1"),
        (lambda: model.predict(X, output="odds"), ValueError, "output must be one of"),
        (lambda: sextant.load_model(tmp_path / "none.json"), FileNotFoundError, "none.json"),
        (lambda: sextant.load_model(object()), TypeError, "cannot use a object as a model"),
    ]
    garbage = tmp_path / "model.json"
    garbage.write_text('{"learner": 3}')
    cases.append((lambda: sextant.load_model(garbage), ValueError, "model.json"))
    for call, kind, message in cases:
        with pytest.raises(kind) as caught:
            call()
        assert message in str(caught.value), f"{message!r} not in {caught.value}"
    # Missing values are missing, as in a data file.
    with_gaps = X.assign(x0=[None] + list(X["x0"].iloc[1:]), region=[None] + list(X["region"][1:]))
    assert np.isfinite(model.explain(with_gaps).to_numpy()).all()


def test_the_gil_is_released_while_computing():
    """A computation in one thread leaves the interpreter to the others: the main thread keeps
    counting at a good share of its own speed while the extension works (holding the GIL, it
    would get one switch interval, a few milliseconds, of the call's duration)."""
    folder = DATA / "workloads" / "xgb_cls"
    model = sextant.load_model(folder / "model.json")
    rows = model.matrix(pd.read_parquet(folder / "explain.parquet").iloc[:2000])

    def count_for(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n

    alone = count_for(0.2) / 0.2
    window: dict[str, float] = {}

    def work() -> None:
        window["start"] = time.perf_counter()
        model._native.explain(rows, threads=1)
        window["end"] = time.perf_counter()

    worker = threading.Thread(target=work)
    counts = []
    worker.start()
    while worker.is_alive():
        counts.append((time.perf_counter(), count_for(0.005)))
    worker.join()
    duration = window["end"] - window["start"]
    inside = sum(n for t, n in counts if window["start"] < t < window["end"])
    assert duration > 0.1, f"the call took {duration:.3f} s: too short to tell"
    assert inside / duration > 0.2 * alone, (inside / duration, alone)


def test_ctrl_c_interrupts_a_long_call():
    """A notebook's interrupt (SIGINT) ends a long computation between two chunks of rows."""
    folder = DATA / "workloads" / "xgb_cls"
    model = sextant.load_model(folder / "model.json")
    rows = model.matrix(pd.read_parquet(folder / "explain.parquet"))
    start = time.perf_counter()
    model._native.explain(rows[:4096])  # one chunk (and the tables, made once)
    chunk = time.perf_counter() - start
    many = np.tile(rows, (4, 1))  # 40,000 rows: ten chunks
    timer = threading.Timer(chunk / 2, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model._native.explain(many)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    assert elapsed < 3 * chunk, f"interrupted after {elapsed:.2f} s; one chunk takes {chunk:.2f} s"


def test_local_results_equal_the_servers(server):
    admin = sextant.Sextant(server.url, server.token)
    applicants = pd.read_csv(DEMO / "applicants.csv")
    background = pd.read_csv(DEMO / "background.csv")
    p = admin.create_project(
        f"local-{uuid.uuid4().hex[:8]}",
        features=applicants,
        label="defaulted",
        id="applicant_id",
    )
    p.add_model("xgb", DEMO / "credit_model.json")
    p.add_data("applicants", applicants, role="test", label="defaulted")
    p.add_data("background", background, role="background")
    p.predict("xgb", "applicants", progress=False)
    p.influences("xgb", "applicants", progress=False)
    p.influences("xgb", "applicants", background="background", rows=100, progress=False)

    model = sextant.load_model(DEMO / "credit_model.json")
    X = applicants.set_index("applicant_id")
    served = p.influences_table("xgb", "applicants")
    local = model.explain(X)
    assert served.index.equals(local.index)
    np.testing.assert_allclose(
        local.to_numpy(), served[local.columns].to_numpy(), rtol=0, atol=1e-12
    )

    served = p.influences_table("xgb", "applicants", background="background", rows=100)
    local = model.explain(X.iloc[:100], background=background)
    np.testing.assert_allclose(
        local.to_numpy(), served[local.columns].to_numpy(), rtol=0, atol=1e-12
    )

    served = p.predictions("xgb", "applicants")
    local = model.predict(X, output="both")
    np.testing.assert_allclose(
        local.to_numpy(), served[local.columns].to_numpy(), rtol=0, atol=1e-12
    )

    served = p.importance("xgb", "applicants").set_index("feature")
    local = sextant.importance(model.explain(X)).set_index("feature")
    assert list(local.index) == list(served.index)
    np.testing.assert_allclose(local.to_numpy(), served[local.columns].to_numpy(), rtol=1e-12)


def test_multiclass_and_categorical_equal_the_servers(server):
    admin = sextant.Sextant(server.url, server.token)
    for name, ext, task, classes in [
        ("lgb_multiclass", "txt", "multiclass", 3),
        ("xgb_categorical", "json", "binary", None),
    ]:
        X = pd.read_csv(SMALL / f"{name}.csv")
        p = admin.create_project(
            f"{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}",
            task=task,
            features=X,
            classes=classes,
        )
        p.add_model("m", SMALL / f"{name}.{ext}")
        p.add_data("rows", X, role="test")
        p.influences("m", "rows", progress=False)
        served = p.influences_table("m", "rows")
        local = sextant.explain(SMALL / f"{name}.{ext}", X)
        assert list(served.columns) == list(local.columns)
        np.testing.assert_allclose(local.to_numpy(), served.to_numpy(), rtol=0, atol=1e-12)
        served = p.importance("m", "rows").set_index("feature")
        local = sextant.importance(local).set_index("feature")
        np.testing.assert_allclose(
            local.to_numpy(), served.loc[local.index, local.columns].to_numpy(), rtol=1e-12
        )


def test_plots_take_local_tables():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X = pd.read_csv(SMALL / "xgb_categorical.csv")
    phi = sextant.explain(SMALL / "xgb_categorical.json", X)
    ax = sextant.plot.beeswarm(phi, X)
    assert ax.collections, "the beeswarm drew points"
    ax = sextant.plot.importance(sextant.importance(phi))
    assert len(ax.patches) == 4


def test_the_installed_wheel_holds_the_extension_and_the_types():
    """The tests run against the wheel tools/python-tests.sh built and installed, not the
    source folder: the package, its type marker and the native extension are all in it."""
    import importlib.resources

    package = importlib.resources.files("sextant")
    assert "clients/python/src" not in str(package), package
    names = {p.name for p in package.iterdir()}
    assert {"py.typed", "_native.pyi", "local.py", "client.py", "plot.py"} <= names, names
    assert any(n.startswith("_native.") and n.endswith(".so") for n in names), names


def brute_force(model: sextant.LocalModel, X: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Interventional Shapley values by enumerating every coalition against every background
    row, with the model's own local predictions: rows × features."""
    n, m = X.shape
    weights = [math.factorial(s) * math.factorial(m - s - 1) / math.factorial(m) for s in range(m)]
    values = {}
    for mask in range(1 << m):
        present = np.array([(mask >> j) & 1 == 1 for j in range(m)])
        hybrids = np.where(present, X[:, None, :], background[None, :, :]).reshape(-1, m)
        margins = model.predict(hybrids, output="margin").to_numpy()
        values[mask] = margins.reshape(n, len(background)).mean(axis=1)
    phi = np.zeros((n, m))
    for mask in range(1 << m):
        size = bin(mask).count("1")
        for j in range(m):
            if not (mask >> j) & 1:
                phi[:, j] += weights[size] * (values[mask | (1 << j)] - values[mask])
    return phi


def test_sampled_shapley_explains_any_model():
    X = pd.read_csv(ONNX / "rows.csv").iloc[:8]
    background = pd.read_csv(ONNX / "background.csv")
    # The file names no features: they are f0…f5 until named.
    with pytest.raises(ValueError, match="feature_names=X.columns"):
        sextant.explain(ONNX / "mlp_regression.onnx", X, background=background)
    model = sextant.load_model(ONNX / "mlp_regression.onnx", feature_names=list(X.columns))
    assert model.info["trees"] == 0 and model.features == list(X.columns)
    features = model.features
    exact = brute_force(model, X[features].to_numpy(), background[features].to_numpy())
    stderr = [f"{f}__stderr" for f in features]

    # Six features: every coalition is enumerated (the default), so the values are exact.
    phi = sextant.explain(model, X, background=background)
    assert list(phi.columns) == features + ["base_value", "margin"] + stderr
    np.testing.assert_allclose(phi[features].to_numpy(), exact, rtol=0, atol=1e-9)
    assert (phi[stderr].to_numpy() == 0).all()
    sums = phi[features].sum(axis=1) + phi["base_value"]
    np.testing.assert_allclose(sums, phi["margin"], rtol=0, atol=1e-9)

    # Sampled: within the error bars, which shrink as one over the root of the budget, and
    # reproducible by seed.
    def sampled(max_evals: int, seed: int) -> pd.DataFrame:
        return model.explain(
            X,
            background=background,
            target_stderr=0.0,
            max_evals=max_evals,
            seed=seed,
            exact_max_features=0,
        )

    # Six passes over the 30 background rows (10 model rows a pair) and 96: whole passes, as an
    # incomplete pass adds an error, and a standard error, that falls faster (as one over n).
    small, large = sampled(1_800, 1), sampled(28_800, 1)
    for table in (small, large):
        error = np.abs(table[features].to_numpy() - exact)
        assert (error <= 4 * table[stderr].to_numpy()).mean() >= 0.99
        sums = table[features].sum(axis=1) + table["base_value"]
        np.testing.assert_allclose(sums, table["margin"], rtol=0, atol=1e-9)
    ratio = small[stderr].to_numpy().mean() / large[stderr].to_numpy().mean()
    assert 3.0 < ratio < 5.5, ratio  # √16 = 4
    pd.testing.assert_frame_equal(sampled(1_800, 1), small)
    assert not np.array_equal(sampled(1_800, 2)[features].to_numpy(), small[features].to_numpy())

    importance = sextant.importance(small)
    assert list(importance.columns) == [
        "feature",
        "mean_abs",
        "mean",
        "mean_abs_stderr",
        "mean_abs_low",
        "mean_abs_high",
    ]
    assert set(importance["feature"]) == set(features)
    assert (importance["mean_abs_low"] < importance["mean_abs_high"]).all()


def test_onnx_files_get_names_and_covers():
    rows = pd.read_csv(ONNX / "rows.csv").to_numpy()
    background = pd.read_csv(ONNX / "background.csv").to_numpy()
    forest = sextant.load_model(ONNX / "rf_regression.onnx")
    with pytest.raises(ValueError, match="no node covers.*cover_data="):
        forest.explain(rows)
    mlp = ONNX / "mlp_regression.onnx"
    with pytest.raises(ValueError, match="no trees.*method=.sampled"):
        sextant.explain(mlp, rows, method="interventional", background=background)
    with pytest.raises(ValueError, match="needs a background"):
        sextant.explain(mlp, rows)
    with pytest.raises(ValueError, match="max_evals must be a whole number"):
        sextant.explain(mlp, rows, background=background, max_evals=-1)

    # Covers counted from data make path-dependent TreeSHAP possible, and it adds up.
    covered = sextant.load_model(ONNX / "rf_regression.onnx", cover_data=rows)
    phi = covered.explain(rows)
    sums = phi[covered.features].sum(axis=1) + phi["base_value"]
    np.testing.assert_allclose(sums, phi["margin"], rtol=0, atol=1e-9)
    applicants = pd.read_csv(DEMO / "applicants.csv")
    with pytest.raises(ValueError, match="has its training covers"):
        sextant.load_model(DEMO / "credit_model.json", cover_data=applicants)

    # Names for a file that has none; a file with names keeps them.
    assert forest.features == [f"f{j}" for j in range(6)]
    names = [f"v{j}" for j in range(6)]
    assert sextant.load_model(ONNX / "rf_regression.onnx", feature_names=names).features == names
    with pytest.raises(ValueError, match="3 feature names given; the model has 6"):
        sextant.load_model(mlp, feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="names its features"):
        sextant.load_model(DEMO / "credit_model.json", feature_names=names)
