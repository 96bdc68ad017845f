"""Local mode: predictions and Shapley values computed in this process, with no server.

The numbers come from the same Rust code the server's analyzers run (the ``sextant._native``
extension in this wheel), so a local result equals the server's for the same model and rows.
Each call releases the GIL and uses every core (or ``threads`` of them).

>>> import sextant
>>> phi = sextant.explain("model.json", X)          # a DataFrame: one column per feature,
>>> phi.head()                                      # then base_value and margin
>>> sextant.predict(booster, X)                     # a Series (a DataFrame for multiclass)
>>> model = sextant.load_model(booster)             # parse once, call many times
>>> model.explain(X, background=X.sample(100))      # interventional
>>> sextant.explain("mlp.onnx", X, background=B)    # any model: sampled, with __stderr columns

``model`` is a file path (XGBoost JSON, LightGBM text, ONNX), an in-memory ``xgboost.Booster``,
``xgboost.XGBModel``, ``lightgbm.Booster`` or ``lightgbm.LGBMModel``, or a :class:`LocalModel`.
``X`` is a pandas DataFrame (columns matched to the model's features by name; others ignored)
or a 2-D NumPy array (columns in the model's feature order). Cells are read as the server reads
a data file: numbers as they are, missing values as missing, and for a categorical feature the
category names the model records (a pandas ``category`` column, or strings).
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
import pandas as pd

from . import _native
from ._boosters import unwrap

Matrix = Union[pd.DataFrame, np.ndarray]
"""Rows to compute on: a DataFrame (columns matched by name) or a 2-D array (feature order)."""
METHODS = ("path-dependent", "interventional", "sampled")
"""How ``explain`` computes: exact TreeSHAP with absent features following the training cover or
the background, or sampled Shapley values against the background (any model)."""
OUTPUTS = ("prediction", "margin", "both")
"""What ``predict`` returns: the response, the raw score, or both as the server's table."""


class LocalModel:
    """A model parsed once for local calls: its features, outputs and link, and
    :meth:`predict` and :meth:`explain`."""

    def __init__(self, native: Any, source: str) -> None:
        self._native = native
        self.source = source

    @property
    def features(self) -> list[str]:
        """The feature names, in the model's order (the columns of a NumPy ``X``)."""
        return list(self._native.feature_names)

    @property
    def categories(self) -> dict[str, list[str]]:
        """The categorical features and the category names the model records (in code order)."""
        names = self._native.feature_names
        return {n: c for n, c in zip(names, self._native.categories) if c is not None}

    @property
    def n_outputs(self) -> int:
        """Margins per row: the number of classes of a multiclass model, else 1."""
        return int(self._native.n_outputs)

    @property
    def link(self) -> str:
        """How a margin becomes a prediction: identity, logistic, softmax or exp."""
        return str(self._native.link)

    @property
    def info(self) -> dict[str, Any]:
        """The file format, the producing library's version, the objective and the trees."""
        fmt, version, objective = self._native.info
        trees, leaves, depth = self._native.shape or (0, 0, 0)
        return {
            "format": fmt,
            "library_version": version,
            "objective": objective,
            "trees": trees,
            "leaves": leaves,
            "max_depth": depth,
        }

    def __repr__(self) -> str:
        i = self.info
        return (
            f"<LocalModel {self.source}: {i['format']}, {i['trees']} trees, "
            f"{len(self.features)} features, {self.link}>"
        )

    def matrix(self, X: Matrix, what: str = "X") -> np.ndarray:
        """``X`` as the float64 matrix the computations take: the model's features in order."""
        if isinstance(X, pd.DataFrame):
            return self._frame_matrix(X, what)
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(
                f"{what} must be 2-D (rows × features), not {array.ndim}-D; "
                "for one row use X.reshape(1, -1)"
            )
        if array.shape[1] != len(self.features):
            raise ValueError(
                f"{what} has {array.shape[1]} columns; the model has {len(self.features)} "
                f"features ({_names(self.features)})"
            )
        if array.dtype.kind in "biuf":
            return np.ascontiguousarray(array, dtype=np.float64)
        columns = [self._column(array[:, j], j, f"column {j}") for j in range(array.shape[1])]
        return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)

    def _frame_matrix(self, X: pd.DataFrame, what: str) -> np.ndarray:
        columns = [str(c) for c in X.columns]
        missing = [f for f in self.features if f not in columns]
        if missing:
            hint = "pass X.to_numpy() to match them by position"
            if self.features == [f"f{j}" for j in range(len(self.features))]:
                hint += ", or name them: load_model(path, feature_names=X.columns)"
            raise ValueError(
                f"{what} lacks the model's features {_names(missing)} (columns are matched by "
                f"name; {hint})"
            )
        by_name = dict(zip(columns, range(len(columns))))
        picked = X.iloc[:, [by_name[f] for f in self.features]]
        if all(_plain_number(t) for t in picked.dtypes):
            # One conversion of the whole block, not a column at a time.
            values = picked.to_numpy(dtype=np.float64, na_value=np.nan)
            return np.ascontiguousarray(values)
        out = np.empty((len(X), len(self.features)), dtype=np.float64)
        for j, name in enumerate(self.features):
            out[:, j] = self._column(X.iloc[:, by_name[name]], j, name)
        return out

    def _column(self, column: Any, j: int, name: str) -> np.ndarray:
        """One column's values: numbers as they are; text and categories by the server's rules."""
        series = pd.Series(column, copy=False)
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy()
            if len(dtype.categories) == 0:
                return np.full(len(codes), np.nan)
            distinct = self._column(pd.Series(dtype.categories), j, name)
            return np.where(codes >= 0, distinct[np.maximum(codes, 0)], np.nan)
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        if dtype.kind in "OSU" or pd.api.types.is_string_dtype(dtype):
            cells = [None if _is_na(v) else str(v) for v in series.tolist()]
            return np.asarray(self._native.encode(j, name, cells), dtype=np.float64)
        raise ValueError(
            f'column "{name}" holds {dtype} values; the model needs numbers or categories'
        )

    def predict(
        self, X: Matrix, output: str = "prediction", threads: int | None = None
    ) -> pd.Series | pd.DataFrame:
        """The model's predictions for every row of ``X``: a Series (a DataFrame with one column
        per class for multiclass models), indexed like ``X``. ``output="margin"`` gives the raw
        scores instead; ``"both"`` a DataFrame with the server's prediction table columns
        (``margin``, then ``prediction``)."""
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, not {output!r}")
        table = self._native.predict(self.matrix(X), threads=threads)
        frame = pd.DataFrame(table, columns=self._native.prediction_columns(), index=_index(X))
        if output == "both":
            return frame
        k = self.n_outputs
        picked = frame.iloc[:, :k] if output == "margin" else frame.iloc[:, k:]
        return picked.iloc[:, 0] if k == 1 else picked

    def explain(
        self,
        X: Matrix,
        method: str | None = None,
        background: Matrix | None = None,
        threads: int | None = None,
        target_stderr: float = 1e-3,
        max_evals: int = 100_000,
        seed: int = 0,
        exact_max_features: int = 12,
    ) -> pd.DataFrame:
        """Shapley values of every feature for every row of ``X``: one column per feature (per
        class, with a ``__class<k>`` suffix, for multiclass models), then ``base_value`` and
        ``margin``; influences plus base value equal the margin.

        ``method`` is ``"path-dependent"`` (exact TreeSHAP, absent features follow the training
        cover), ``"interventional"`` (exact TreeSHAP, absent features take ``background``'s
        values) or ``"sampled"`` (sampled Shapley values of the interventional game, for any
        model, with one ``<feature>__stderr`` column per feature after the others). By default
        a tree ensemble is explained by TreeSHAP (interventional when a background is given,
        else path-dependent) and any other model by sampling.

        Sampling stops a row once every value's standard error is at most ``target_stderr``
        (margin units) or ``max_evals`` model rows are spent; ``seed`` and each row's position
        in ``X`` seed it, so a call is reproducible; with at most ``exact_max_features``
        features (and the enumeration within ``max_evals``) every coalition is enumerated and
        the values are exact (standard errors 0)."""
        if method is None:
            if self.info["trees"] == 0:
                method = "sampled"
            else:
                method = "interventional" if background is not None else "path-dependent"
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if method in ("interventional", "sampled") and background is None:
            raise ValueError(
                f"method={method!r} needs a background (the rows that stand in for absent features)"
            )
        rows = self.matrix(X)
        if method == "sampled":
            table = self._native.explain_sampled(
                rows,
                self.matrix(background, "background"),
                float(target_stderr),
                _whole(max_evals, "max_evals"),
                _whole(seed, "seed"),
                _whole(exact_max_features, "exact_max_features"),
                threads=threads,
            )
            columns = self._native.explanation_columns() + self._native.stderr_columns()
            return pd.DataFrame(table, columns=columns, index=_index(X))
        reference = self.matrix(background, "background") if method == "interventional" else None
        table = self._native.explain(rows, background=reference, threads=threads)
        return pd.DataFrame(table, columns=self._native.explanation_columns(), index=_index(X))


def _whole(value: Any, name: str) -> int:
    """``value`` as a whole number of at least 0, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number at or above 0, not {value!r}")
    return int(value)


def load_model(
    model: Any,
    feature_names: list[str] | None = None,
    cover_data: Matrix | None = None,
) -> LocalModel:
    """Parses ``model`` once for local calls: a file path (XGBoost JSON, LightGBM text or ONNX),
    an in-memory XGBoost or LightGBM model (booster or scikit-learn wrapper), or a
    :class:`LocalModel` (returned as it is).

    ``feature_names`` names the features of an ONNX file that names none (they are ``f0``,
    ``f1``, … otherwise); ``cover_data`` (the training data, rows like ``X``) counts the node
    covers of ONNX trees, which path-dependent TreeSHAP needs and their files do not hold."""
    loaded = _load(model)
    if feature_names is not None:
        loaded = LocalModel(loaded._native.named([str(n) for n in feature_names]), loaded.source)
    if cover_data is not None:
        covered = loaded._native.with_covers(loaded.matrix(cover_data, "cover_data"))
        loaded = LocalModel(covered, loaded.source)
    return loaded


def _load(model: Any) -> LocalModel:
    if isinstance(model, LocalModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        return LocalModel(_native.Model.load(path), os.path.basename(path))
    kind, booster = unwrap(model)
    if kind == "xgboost":
        raw = bytes(booster.save_raw(raw_format="json"))
        return LocalModel(_native.Model.parse(raw, "xgboost.Booster"), "xgboost.Booster")
    if kind == "lightgbm":
        text = booster.model_to_string().encode()
        return LocalModel(_native.Model.parse(text, "lightgbm.Booster"), "lightgbm.Booster")
    raise TypeError(
        f"cannot use a {type(model).__name__} as a model: give a file path, or an XGBoost or "
        "LightGBM model"
    )


def predict(
    model: Any, X: Matrix, output: str = "prediction", threads: int | None = None
) -> pd.Series | pd.DataFrame:
    """The predictions of ``model`` for every row of ``X``, computed here (see
    :meth:`LocalModel.predict`)."""
    return load_model(model).predict(X, output=output, threads=threads)


def explain(
    model: Any,
    X: Matrix,
    method: str | None = None,
    background: Matrix | None = None,
    threads: int | None = None,
    target_stderr: float = 1e-3,
    max_evals: int = 100_000,
    seed: int = 0,
    exact_max_features: int = 12,
) -> pd.DataFrame:
    """Shapley values of ``model`` for every row of ``X``, computed here (see
    :meth:`LocalModel.explain`)."""
    return load_model(model).explain(
        X,
        method=method,
        background=background,
        threads=threads,
        target_stderr=target_stderr,
        max_evals=max_evals,
        seed=seed,
        exact_max_features=exact_max_features,
    )


def importance(influences: pd.DataFrame) -> pd.DataFrame:
    """Global importance from an influence table (local or the server's): mean |influence|
    (``mean_abs``) and mean influence (``mean``) per feature, largest first; for multiclass
    models both are averaged over the classes, as the server does. A sampled table (with
    ``__stderr`` columns) adds, as the server's importance does, ``mean_abs_stderr`` (the
    standard error of ``mean_abs`` that sampling leaves, the rows taken as given) and its 95 %
    interval, ``mean_abs_low`` and ``mean_abs_high``."""
    classes = sorted(
        int(c[len("base_value__class") :])
        for c in influences.columns
        if str(c).startswith("base_value__class")
    )
    suffixes = [f"__class{k}" for k in classes] or [""]
    first = suffixes[0]
    features = [
        str(c)[: len(str(c)) - len(first)]
        for c in influences.columns
        if str(c).endswith(first)
        and not str(c).endswith("__stderr")
        and str(c) not in (f"base_value{first}", f"margin{first}")
        and str(c) not in ("row", "label", "prediction")
    ]
    sampled = all(f"{f}{s}__stderr" in influences.columns for f in features for s in suffixes)
    sampled = sampled and bool(features)
    rows = []
    for f in features:
        block = influences[[f + s for s in suffixes]].to_numpy(dtype=np.float64)
        row = {
            "feature": f,
            "mean_abs": float(np.abs(block).mean(axis=0).mean()),
            "mean": float(block.mean(axis=0).mean()),
        }
        if sampled:
            se = influences[[f"{f}{s}__stderr" for s in suffixes]].to_numpy(dtype=np.float64)
            # Each |φ| moves with its value's sampling error: the mean's variance is the sum of
            # theirs over the count squared.
            row["mean_abs_stderr"] = float(np.sqrt(np.square(se).sum()) / se.size)
        rows.append(row)
    columns = ["feature", "mean_abs", "mean"] + (["mean_abs_stderr"] if sampled else [])
    frame = pd.DataFrame(rows, columns=columns)
    if sampled:
        frame["mean_abs_low"] = frame["mean_abs"] - 1.96 * frame["mean_abs_stderr"]
        frame["mean_abs_high"] = frame["mean_abs"] + 1.96 * frame["mean_abs_stderr"]
    return frame.sort_values("mean_abs", ascending=False, ignore_index=True)


def _index(X: Matrix) -> pd.Index:
    return X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _names(names: list[str]) -> str:
    shown = ", ".join(f'"{n}"' for n in names[:6])
    return shown + (", …" if len(names) > 6 else "")


def _plain_number(dtype: Any) -> bool:
    """Whether a column of this dtype converts to float64 as it is (no categories, no text)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
