"""ONNX fixtures: every tree converter Sextant imports, and graphs it runs through tract.

Each model is converted by the library its users convert with (skl2onnx for scikit-learn,
onnxmltools for XGBoost and LightGBM), then run by onnxruntime; those outputs are the reference
predictions. Interventional SHAP values come from shap's TreeExplainer on the original
scikit-learn model. Called by make_fixtures.py; writes `<out>/onnx/`.

Files per model NAME: `NAME.onnx`, `NAME.pred.csv` (onnxruntime's score output, float32 widened:
one column `prediction`, or `prediction__class<k>` per class). Shared per task: `binary.csv`,
`multiclass.csv`, `regression.csv` (the rows the predictions are for; the binary rows have
missing values in `x2` for the models that track missing values: `binary_missing.csv`).
"""

import json
import os

import lightgbm as lgb
import numpy as np
import onnx
import onnxmltools
import onnxruntime as ort
import pandas as pd
import shap
import skl2onnx
import xgboost as xgb
from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

N_FEATURES = 6
N_ROWS = 200
N_INTERVENTIONAL = 40
N_BACKGROUND = 30


def _ints_not_bools():
    """skl2onnx 1.20 passes HistGradientBoosting's missing-value directions as booleans, which
    onnx 1.23 refuses in an `ints` attribute; hand it integers."""
    import onnx.helper as helper

    original = helper.make_attribute

    def make_attribute(name, value, *args, **kwargs):
        if isinstance(value, (list, tuple, np.ndarray)) and any(isinstance(v, (bool, np.bool_)) for v in value):
            value = [int(v) for v in value]
        return original(name, value, *args, **kwargs)

    helper.make_attribute = make_attribute


_ints_not_bools()


def write_csv(df, path):
    df.to_csv(path, index=False, float_format="%.17g", na_rep="")


def frames(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    x = pd.DataFrame({f"x{i}": np.round(rng.normal(size=n), 3) for i in range(N_FEATURES)})
    # x5 is a small integer code: the pipeline one-hot encodes it, the trees split on it.
    x["x5"] = rng.integers(0, 4, size=n).astype(float)
    signal = x.x0 - 0.7 * x.x1 + 0.5 * x.x2 * x.x3 + 0.4 * (x.x5 == 2)
    return x, signal, rng


def convert_skl(model, name):
    options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
    return skl2onnx.convert_sklearn(
        model,
        name,
        [("X", FloatTensorType([None, N_FEATURES]))],
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )


def score_output(session):
    """The float score output: probabilities for classifiers, the value for regressors."""
    outs = [o for o in session.get_outputs() if o.type == "tensor(float)"]
    return outs[-1].name


def save(dst, name, onnx_model, rows, task):
    path = os.path.join(dst, f"{name}.onnx")
    onnx_model.graph.name = name  # onnxmltools names graphs at random
    onnx.save(onnx_model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = session.run([score_output(session)], {session.get_inputs()[0].name: rows.to_numpy(np.float32)})[0]
    out = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)
    if task == "binary":
        cols = {"prediction": out[:, -1]}
    elif task == "multiclass":
        cols = {f"prediction__class{k}": out[:, k] for k in range(out.shape[1])}
    else:
        cols = {"prediction": out[:, 0]}
    pd.DataFrame(cols).to_csv(os.path.join(dst, f"{name}.pred.csv"), index=False, float_format="%.17g")


def interventional(dst, name, model, rows, background, output):
    """shap's interventional values of one output (a class's probability, or the value)."""
    explainer = shap.TreeExplainer(model, data=background, feature_perturbation="interventional")
    values = np.asarray(explainer.shap_values(rows.iloc[:N_INTERVENTIONAL].to_numpy(np.float32)))
    if values.ndim == 3:
        values = values[:, :, output]
    ref = pd.DataFrame(values, columns=rows.columns)
    ref["base_value"] = float(np.ravel(explainer.expected_value)[output])
    write_csv(ref, os.path.join(dst, f"{name}.interventional.csv"))


def bench_mlp(bench, dst):
    """The bench workload's MLP classifier (20 features), its first rows and onnxruntime's
    probability of class 1 for them."""
    import shutil

    src = os.path.join(bench, "mlp_onnx")
    shutil.copyfile(os.path.join(src, "model.onnx"), os.path.join(dst, "mlp_binary.onnx"))
    write_csv(pd.read_csv(os.path.join(src, "explain.csv")).iloc[:N_ROWS], os.path.join(dst, "mlp_rows.csv"))
    pred = pd.read_csv(os.path.join(src, "predictions.csv")).iloc[:N_ROWS]
    pd.DataFrame({"prediction": pred.prob_1}).to_csv(
        os.path.join(dst, "mlp_binary.pred.csv"), index=False, float_format="%.17g"
    )


def onnx_fixtures(out, bench):
    dst = os.path.join(out, "onnx")
    os.makedirs(dst, exist_ok=True)
    bench_mlp(bench, dst)
    x, signal, rng = frames(11)
    train, rows = x.iloc[:2500], x.iloc[2500 : 2500 + N_ROWS].reset_index(drop=True)
    background = x.iloc[:N_BACKGROUND]
    write_csv(background, os.path.join(dst, "background.csv"))
    y_bin = (signal + rng.normal(size=len(x)) * 0.3 > 0).astype(int).to_numpy()
    y_multi = np.digitize(signal + rng.normal(size=len(x)) * 0.3, [-0.5, 0.5])
    y_reg = (3 * signal + rng.normal(size=len(x)) * 0.2).to_numpy()
    write_csv(rows, os.path.join(dst, "rows.csv"))
    # Missing values where the models track them (HistGradientBoosting, XGBoost, LightGBM).
    missing = x.copy()
    missing.loc[rng.random(len(x)) < 0.15, "x2"] = np.nan
    mtrain, mrows = missing.iloc[:2500], missing.iloc[2500 : 2500 + N_ROWS].reset_index(drop=True)
    write_csv(mrows, os.path.join(dst, "rows_missing.csv"))

    def fit(m, X, y):
        return m.fit(X.to_numpy(np.float32), y)

    rf = fit(RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0), train, y_bin[:2500])
    save(dst, "rf_binary", convert_skl(rf, "rf"), rows, "binary")
    interventional(dst, "rf_binary", rf, rows, background.to_numpy(np.float32), 1)
    rfm = fit(RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0), train, y_multi[:2500])
    save(dst, "rf_multiclass", convert_skl(rfm, "rfm"), rows, "multiclass")
    rfr = fit(RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0), train, y_reg[:2500])
    save(dst, "rf_regression", convert_skl(rfr, "rfr"), rows, "regression")
    interventional(dst, "rf_regression", rfr, rows, background.to_numpy(np.float32), 0)
    et = fit(ExtraTreesRegressor(n_estimators=10, max_depth=6, random_state=0), train, y_reg[:2500])
    save(dst, "et_regression", convert_skl(et, "et"), rows, "regression")
    gb = fit(GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0), train, y_bin[:2500])
    save(dst, "gb_binary", convert_skl(gb, "gb"), rows, "binary")
    gbm = fit(GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0), train, y_multi[:2500])
    save(dst, "gb_multiclass", convert_skl(gbm, "gbm"), rows, "multiclass")
    gbr = fit(GradientBoostingRegressor(n_estimators=20, max_depth=3, random_state=0), train, y_reg[:2500])
    save(dst, "gb_regression", convert_skl(gbr, "gbr"), rows, "regression")
    hgb = fit(HistGradientBoostingClassifier(max_iter=20, max_depth=4, random_state=0), mtrain, y_bin[:2500])
    save(dst, "hgb_binary", convert_skl(hgb, "hgb"), mrows, "binary")
    hgbr = fit(HistGradientBoostingRegressor(max_iter=20, max_depth=4, random_state=0), mtrain, y_reg[:2500])
    save(dst, "hgb_regression", convert_skl(hgbr, "hgbr"), mrows, "regression")

    xb = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1).fit(
        mtrain.to_numpy(np.float32), y_bin[:2500]
    )
    save(
        dst,
        "xgb_binary",
        onnxmltools.convert_xgboost(xb, initial_types=[("X", MlFloat([None, N_FEATURES]))], target_opset=15),
        mrows,
        "binary",
    )
    xm = xgb.XGBClassifier(n_estimators=10, max_depth=3, random_state=0, n_jobs=1).fit(
        train.to_numpy(np.float32), y_multi[:2500]
    )
    save(
        dst,
        "xgb_multiclass",
        onnxmltools.convert_xgboost(xm, initial_types=[("X", MlFloat([None, N_FEATURES]))], target_opset=15),
        rows,
        "multiclass",
    )
    lb = lgb.LGBMClassifier(
        n_estimators=20,
        num_leaves=8,
        random_state=0,
        verbose=-1,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
    ).fit(mtrain.to_numpy(np.float32), y_bin[:2500])
    save(
        dst,
        "lgb_binary",
        onnxmltools.convert_lightgbm(
            lb, initial_types=[("X", MlFloat([None, N_FEATURES]))], target_opset=15, zipmap=False
        ),
        mrows,
        "binary",
    )
    lr = lgb.LGBMRegressor(
        n_estimators=20,
        num_leaves=8,
        random_state=0,
        verbose=-1,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
    ).fit(mtrain.to_numpy(np.float32), y_reg[:2500])
    save(
        dst,
        "lgb_regression",
        onnxmltools.convert_lightgbm(lr, initial_types=[("X", MlFloat([None, N_FEATURES]))], target_opset=15),
        mrows,
        "regression",
    )

    # Graphs for tract: an MLP, and a pipeline that scales, one-hot encodes x5 and classifies.
    mlp = fit(MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=300, random_state=0), train, y_reg[:2500])
    save(dst, "mlp_regression", convert_skl(mlp, "mlp"), rows, "regression")
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), [0, 1, 2, 3, 4]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), [5]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    fit(pipe, train, y_bin[:2500])
    save(dst, "pipeline_binary", convert_skl(pipe, "pipe"), rows, "binary")
    # A classifier exported with skl2onnx's default ZipMap output, which Sextant refuses with a hint.
    zipmap = skl2onnx.convert_sklearn(
        rf, "rfz", [("X", FloatTensorType([None, N_FEATURES]))], target_opset={"": 17, "ai.onnx.ml": 3}
    )
    onnx.save(zipmap, os.path.join(dst, "rf_zipmap.onnx"))

    modes_v3(dst, double=False)
    modes_v3(dst, double=True)
    modes_v5(dst)

    versions = {
        "skl2onnx": skl2onnx.__version__,
        "onnxmltools": onnxmltools.__version__,
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
    }
    with open(os.path.join(dst, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2, sort_keys=True)
        f.write("\n")


MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def mode_rows(thresholds):
    """Values on, just beside (in f32 and in f64) and far from each threshold, NaN and infinities."""
    values = [np.nan, np.inf, -np.inf, 0.0, 3.0, -2.0, 1.0]
    for t in thresholds:
        t32 = np.float32(t)
        values += [
            t,
            float(t32),
            float(np.nextafter(t32, np.float32(np.inf))),
            float(np.nextafter(t32, np.float32(-np.inf))),
            t + 1e-12,
            t - 1e-12,
            t + 1e-9,
            t - 1e-9,
        ]
    rng = np.random.default_rng(5)
    a = np.array(values)
    return pd.DataFrame({"x0": np.concatenate([a, rng.permutation(a)]), "x1": np.concatenate([rng.permutation(a), a])})


def modes_v3(dst, double):
    """One TreeEnsembleRegressor tree per comparison, each with missing values tracked either way,
    and a deeper tree mixing them; leaf weights are powers of two so any wrong turn shows."""
    from onnx import TensorProto, helper

    thresholds = [0.1, 0.5, -0.3, 1.0, 1.0, 0.5]
    nodes = {
        k: []
        for k in [
            "treeids",
            "nodeids",
            "featureids",
            "modes",
            "values",
            "truenodeids",
            "falsenodeids",
            "missing_value_tracks_true",
        ]
    }
    targets = {k: [] for k in ["treeids", "nodeids", "ids", "weights"]}

    def node(tree, nid, feature, mode, value, yes, no, track):
        for k, v in zip(nodes, [tree, nid, feature, mode, value, yes, no, track], strict=False):
            nodes[k].append(v)

    def leaf(tree, nid, weight):
        node(tree, nid, 0, "LEAF", 0.0, 0, 0, 0)
        for k, v in zip(targets, [tree, nid, 0, weight], strict=False):
            targets[k].append(v)

    for i, (mode, t) in enumerate(zip(MODES * 2, thresholds * 2, strict=False)):
        node(i, 0, i % 2, mode, t, 1, 2, i // 6)
        leaf(i, 1, 2.0**i)
        leaf(i, 2, -(2.0**i) / 3)
    deep = 12
    node(deep, 0, 0, "BRANCH_GT", 0.5, 1, 2, 1)
    node(deep, 1, 1, "BRANCH_NEQ", 1.0, 3, 4, 0)
    leaf(deep, 2, 7.0)
    node(deep, 3, 0, "BRANCH_LT", 3.0, 5, 6, 1)
    leaf(deep, 4, 11.0)
    leaf(deep, 5, 13.0)
    leaf(deep, 6, 17.0)
    attrs = {f"nodes_{k}": v for k, v in nodes.items() if k != "values"}
    attrs.update({f"target_{k}": v for k, v in targets.items() if k != "weights"})
    if double:
        attrs["nodes_values_as_tensor"] = helper.make_tensor(
            "v", TensorProto.DOUBLE, [len(nodes["values"])], nodes["values"]
        )
        attrs["target_weights_as_tensor"] = helper.make_tensor(
            "w", TensorProto.DOUBLE, [len(targets["weights"])], targets["weights"]
        )
    else:
        attrs["nodes_values"] = nodes["values"]
        attrs["target_weights"] = targets["weights"]
    elem = TensorProto.DOUBLE if double else TensorProto.FLOAT
    tree = helper.make_node(
        "TreeEnsembleRegressor",
        ["X"],
        ["variable"],
        domain="ai.onnx.ml",
        n_targets=1,
        base_values=[0.25],
        **attrs,
    )
    graph = helper.make_graph(
        [tree],
        "modes",
        [helper.make_tensor_value_info("X", elem, [None, 2])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    name = "modes_double" if double else "modes_float"
    rows = mode_rows(thresholds)
    path = os.path.join(dst, f"{name}.onnx")
    onnx.save(model, path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = session.run(None, {"X": rows.to_numpy(np.float64 if double else np.float32)})[0]
    write_csv(rows, os.path.join(dst, "modes_rows.csv"))
    pd.DataFrame({"prediction": np.asarray(out, dtype=np.float64)[:, 0]}).to_csv(
        os.path.join(dst, f"{name}.pred.csv"), index=False, float_format="%.17g"
    )


def modes_v5(dst):
    """The opset-5 TreeEnsemble: every mode including BRANCH_MEMBER, leaves apart, two targets,
    AVERAGE aggregation."""
    from onnx import TensorProto, helper

    # Tree 0: MEMBER {1, 3} on x0 -> leaf 0 | GTE -0.3 on x1 -> leaves 1 / 2.
    # Tree 1..6: one per mode on x1, leaves for target 1.
    modes, splits, feats, yes, no, yes_leaf, no_leaf, tracks = [], [], [], [], [], [], [], []
    leaf_targets, leaf_weights = [], []

    def leaf(target, weight):
        leaf_targets.append(target)
        leaf_weights.append(weight)
        return len(leaf_weights) - 1

    def branch(mode, split, feature, track):
        modes.append(mode)
        splits.append(split)
        feats.append(feature)
        tracks.append(track)
        for lst in (yes, no, yes_leaf, no_leaf):
            lst.append(0)
        return len(modes) - 1

    roots = []
    root = branch(6, 0.0, 0, 0)
    inner = branch(2, -0.3, 1, 1)
    yes[root], yes_leaf[root] = leaf(0, 5.0), 1
    no[root] = inner
    yes[inner], yes_leaf[inner] = leaf(0, 3.0), 1
    no[inner], no_leaf[inner] = leaf(1, -1.5), 1
    roots.append(root)
    for i, (mode, t) in enumerate(zip(range(6), [0.1, 0.5, -0.3, 1.0, 1.0, 0.5], strict=False)):
        b = branch(mode, t, 1, i % 2)
        yes[b], yes_leaf[b] = leaf(1, 2.0**i), 1
        no[b], no_leaf[b] = leaf(1, -(2.0**i) / 3), 1
        roots.append(b)
    tree = helper.make_node(
        "TreeEnsemble",
        ["X"],
        ["Y"],
        domain="ai.onnx.ml",
        n_targets=2,
        aggregate_function=0,
        post_transform=0,
        tree_roots=roots,
        nodes_featureids=feats,
        nodes_truenodeids=yes,
        nodes_falsenodeids=no,
        nodes_trueleafs=yes_leaf,
        nodes_falseleafs=no_leaf,
        nodes_missing_value_tracks_true=tracks,
        nodes_modes=helper.make_tensor("m", TensorProto.UINT8, [len(modes)], modes),
        nodes_splits=helper.make_tensor("s", TensorProto.FLOAT, [len(splits)], splits),
        membership_values=helper.make_tensor("mv", TensorProto.FLOAT, [3], [1.0, 3.0, np.nan]),
        leaf_targetids=leaf_targets,
        leaf_weights=helper.make_tensor("w", TensorProto.FLOAT, [len(leaf_weights)], leaf_weights),
    )
    graph = helper.make_graph(
        [tree],
        "v5",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)])
    model.ir_version = 10
    path = os.path.join(dst, "modes_v5.onnx")
    onnx.save(model, path)
    rows = pd.read_csv(os.path.join(dst, "modes_rows.csv"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = np.asarray(session.run(None, {"X": rows.to_numpy(np.float32)})[0], dtype=np.float64)
    pd.DataFrame({"prediction__class0": out[:, 0], "prediction__class1": out[:, 1]}).to_csv(
        os.path.join(dst, "modes_v5.pred.csv"), index=False, float_format="%.17g"
    )
