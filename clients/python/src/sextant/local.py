"""Local mode: predictions and exact Shapley values computed in this process, with no server.

The numbers come from the same Rust code the server's analyzers run (the ``sextant._native``
extension in this wheel), so a local result equals the server's for the same model and rows.
Each call releases the GIL and uses every core (or ``threads`` of them).

>>> import sextant
>>> phi = sextant.explain("model.json", X)          # a DataFrame: one column per feature,
>>> phi.head()                                      # then base_value and margin
>>> sextant.predict(booster, X)                     # a Series (a DataFrame for multiclass)
>>> model = sextant.load_model(booster)             # parse once, call many times
>>> model.explain(X, background=X.sample(100))      # interventional

``model`` is a file path (XGBoost JSON, LightGBM text), an in-memory ``xgboost.Booster``,
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
METHODS = ("path-dependent", "interventional")
"""The games ``explain`` plays: absent features follow the training cover, or the background."""
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
            raise ValueError(
                f"{what} lacks the model's features {_names(missing)} (columns are matched by "
                "name; pass X.to_numpy() to match them by position)"
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
    ) -> pd.DataFrame:
        """Exact Shapley values (TreeSHAP) of every feature for every row of ``X``: one column
        per feature (per class, with a ``__class<k>`` suffix, for multiclass models), then
        ``base_value`` and ``margin``; influences plus base value equal the margin. ``method``
        is ``"path-dependent"`` (absent features follow the training cover) or
        ``"interventional"`` (absent features take ``background``'s values); by default
        interventional when a background is given, else path-dependent."""
        if method is None:
            method = "interventional" if background is not None else "path-dependent"
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if method == "interventional" and background is None:
            raise ValueError(
                "method='interventional' needs a background (the rows that stand in for "
                "absent features)"
            )
        rows = self.matrix(X)
        reference = self.matrix(background, "background") if method == "interventional" else None
        table = self._native.explain(rows, background=reference, threads=threads)
        return pd.DataFrame(table, columns=self._native.explanation_columns(), index=_index(X))


def load_model(model: Any) -> LocalModel:
    """Parses ``model`` once for local calls: a file path (XGBoost JSON or LightGBM text), an
    in-memory XGBoost or LightGBM model (booster or scikit-learn wrapper), or a
    :class:`LocalModel` (returned as it is)."""
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
) -> pd.DataFrame:
    """Exact Shapley values of ``model`` for every row of ``X``, computed here (see
    :meth:`LocalModel.explain`)."""
    return load_model(model).explain(X, method=method, background=background, threads=threads)


def importance(influences: pd.DataFrame) -> pd.DataFrame:
    """Global importance from an influence table (local or the server's): mean |influence|
    (``mean_abs``) and mean influence (``mean``) per feature, largest first; for multiclass
    models both are averaged over the classes, as the server does."""
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
        and str(c) not in (f"base_value{first}", f"margin{first}")
        and str(c) not in ("row", "label", "prediction")
    ]
    rows = []
    for f in features:
        block = influences[[f + s for s in suffixes]].to_numpy(dtype=np.float64)
        rows.append(
            {
                "feature": f,
                "mean_abs": float(np.abs(block).mean(axis=0).mean()),
                "mean": float(block.mean(axis=0).mean()),
            }
        )
    frame = pd.DataFrame(rows, columns=["feature", "mean_abs", "mean"])
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
