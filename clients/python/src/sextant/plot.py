"""Plots of results, with matplotlib. Each takes the DataFrames the client returns, draws on
``ax`` (a new figure's when none is given) and returns the ``Axes``, so plots can sit side by
side::

    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    sextant.plot.importance(p.importance("xgb", "applicants"), ax=left)
    sextant.plot.dependence(p.influences_table("xgb", "applicants"), data, "age", ax=right)

``data`` (the feature values: the DataFrame that was uploaded) is matched to an influence table
row by row, in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NOT_FEATURES = ("row", "base_value", "margin", "prediction", "label", "loss")


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))[1]


def _features(influences: pd.DataFrame) -> list[str]:
    """The feature columns of an influence table (for multiclass tables, every class's)."""
    return [c for c in influences.columns if c not in NOT_FEATURES and not c.endswith("__stderr")]


def _ranked(influences: pd.DataFrame, top: int) -> list[str]:
    features = _features(influences)
    order = influences[features].abs().mean().sort_values(ascending=False)
    return list(order.index[:top])


def _values(data: pd.DataFrame, feature: str, rows: int) -> np.ndarray:
    """A feature's values as numbers (categories as their codes), row by row."""
    if feature not in data.columns:
        raise KeyError(f"the data has no column {feature!r}")
    column = data[feature].reset_index(drop=True)
    if len(column) != rows:
        raise ValueError(f"the data has {len(column)} rows and the influences {rows}")
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float)
    return column.astype("category").cat.codes.to_numpy(dtype=float)


def importance(frame: pd.DataFrame, top: int = 20, ax: Axes | None = None) -> Axes:
    """Global importance (:meth:`Project.importance`): mean |influence| per feature, largest on
    top, as horizontal bars. Given :meth:`Project.error_importance`, the bars are the mean
    |influence| on each row's loss, and a dot marks each feature's mean influence (right of
    zero: it raises the loss on average)."""
    ax = _axes(ax)
    shown = frame.sort_values("mean_abs", ascending=False).head(top).iloc[::-1]
    ax.barh(shown["feature"], shown["mean_abs"], color="#1f77b4")
    if frame.attrs.get("scale") == "loss":
        loss = frame.attrs.get("loss") or "loss"
        ax.scatter(shown["mean"], shown["feature"], color="#d62728", zorder=3, label="mean")
        ax.axvline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel(f"influence on each row's {loss}: mean |φ| (bars), mean φ (dots)")
        ax.set_title("what drives the errors")
        ax.legend(loc="lower right")
    else:
        ax.set_xlabel("mean |influence|")
        ax.set_title("feature importance")
    return ax


def beeswarm(
    influences: pd.DataFrame,
    data: pd.DataFrame | None = None,
    top: int = 20,
    ax: Axes | None = None,
    seed: int = 0,
) -> Axes:
    """Every row's influence of the ``top`` features (by mean |influence|), one line of points
    per feature, coloured by the feature's value when ``data`` is given (blue low, red high)."""
    ax = _axes(ax)
    rng = np.random.default_rng(seed)
    features = _ranked(influences, top)
    points = None
    for rank, feature in enumerate(reversed(features)):
        phi = influences[feature].to_numpy(dtype=float)
        y = rank + rng.uniform(-0.3, 0.3, size=len(phi))
        if data is not None:
            values = _values(data, feature.split("__class")[0], len(phi))
            low, high = np.nanmin(values), np.nanmax(values)
            scale = (values - low) / (high - low) if high > low else np.zeros_like(values)
            points = ax.scatter(phi, y, c=scale, cmap="coolwarm", s=6, vmin=0, vmax=1)
        else:
            ax.scatter(phi, y, color="#1f77b4", s=6)
    if points is not None:
        bar = ax.figure.colorbar(points, ax=ax, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    ax.set_yticks(range(len(features)))
    ax.set_yticklabels(list(reversed(features)))
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("influence (margin)")
    ax.set_title("influences of every row")
    return ax


def dependence(
    influences: pd.DataFrame,
    data: pd.DataFrame,
    feature: str,
    color_by: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A feature's influence against its value, one point per row; ``color_by`` colours the
    points by another feature's value."""
    ax = _axes(ax)
    if feature not in influences.columns:
        raise KeyError(f"the influences have no column {feature!r}")
    phi = influences[feature].to_numpy(dtype=float)
    x = _values(data, feature, len(phi))
    colours: dict[str, Any] = {"color": "#1f77b4"}
    if color_by is not None:
        colours = {"c": _values(data, color_by, len(phi)), "cmap": "coolwarm"}
    points = ax.scatter(x, phi, s=8, **colours)
    if color_by is not None:
        ax.figure.colorbar(points, ax=ax, label=color_by)
    column = data[feature]
    if not pd.api.types.is_numeric_dtype(column):
        categories = column.astype("category").cat.categories
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels([str(c) for c in categories])
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(feature)
    ax.set_ylabel(f"influence of {feature}")
    return ax


def waterfall(influences: pd.DataFrame, row: Any, top: int = 10, ax: Axes | None = None) -> Axes:
    """How one row's prediction is built: from the base value, each feature's influence (the
    ``top`` largest, the rest summed) to the row's margin. ``row`` is the table's index label
    (the dataset's id, else its position). Given an error influences table
    (:meth:`Project.error_influences_table`), how the row's loss is built instead."""
    ax = _axes(ax)
    if row not in influences.index:
        raise KeyError(f"no row {row!r} in the influences")
    line = influences.loc[row]
    features = [f for f in _features(influences) if "__class" not in f]
    phi = line[features].astype(float)
    order = phi.abs().sort_values(ascending=False).index
    shown = list(order[:top])
    steps = [(f, float(phi[f])) for f in shown]
    rest = order[top:]
    if len(rest):
        steps.append((f"{len(rest)} other features", float(phi[rest].sum())))
    end = "margin" if "margin" in influences.columns else "loss"
    base, margin = float(line["base_value"]), float(line[end])
    start = base
    ends = [base, margin]
    for i, (_, value) in enumerate(steps):
        ax.barh(i, value, left=start, color="#d62728" if value > 0 else "#1f77b4")
        ax.text(
            start + value,
            i,
            f" {value:+.3f} ",
            va="center",
            ha="left" if value > 0 else "right",
            fontsize=8,
        )
        start += value
        ends.append(start)
    # Room for the base, the margin and the labels beyond the bars' ends.
    low, high = min(ends), max(ends)
    pad = 0.25 * (high - low or 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_yticks(range(len(steps)))
    ax.set_yticklabels([name for name, _ in steps])
    ax.invert_yaxis()
    ax.axvline(base, color="grey", linewidth=0.8, linestyle=":")
    ax.axvline(margin, color="black", linewidth=0.8)
    ax.set_xlabel(f"{end}: base {base:.3f} → {margin:.3f}")
    ax.set_title(f"row {row}")
    return ax


def _labelled(predictions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "label" not in predictions.columns or "prediction" not in predictions.columns:
        raise ValueError("these plots need predictions of a labelled binary model")
    keep = predictions["label"].notna()
    return (
        predictions.loc[keep, "label"].to_numpy(dtype=float),
        predictions.loc[keep, "prediction"].to_numpy(dtype=float),
    )


def roc(predictions: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The ROC curve of a binary model's predictions (:meth:`Project.predictions`), with its
    area under the curve."""
    ax = _axes(ax)
    label, score = _labelled(predictions)
    order = np.argsort(-score, kind="mergesort")
    label, score = label[order], score[order]
    distinct = np.r_[np.nonzero(np.diff(score))[0], len(score) - 1]
    tp = np.cumsum(label)[distinct]
    fp = (distinct + 1) - tp
    tpr = np.r_[0.0, tp / max(tp[-1], 1)]
    fpr = np.r_[0.0, fp / max(fp[-1], 1)]
    # numpy 2 names it trapezoid; numpy 1 (the package allows >= 1.22) only trapz.
    trapezoid = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009
    auc = float(trapezoid(tpr, fpr))
    ax.plot(fpr, tpr, label=f"AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return ax


def calibration(predictions: pd.DataFrame, bins: int = 10, ax: Axes | None = None) -> Axes:
    """Predicted probability against the observed frequency of class 1, in ``bins`` equal
    bins of the prediction."""
    ax = _axes(ax)
    label, score = _labelled(predictions)
    which = np.minimum((score * bins).astype(int), bins - 1)
    used = [b for b in range(bins) if (which == b).any()]
    predicted = [score[which == b].mean() for b in used]
    observed = [label[which == b].mean() for b in used]
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="perfect")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="upper left")
    return ax


def confusion(predictions: pd.DataFrame, threshold: float = 0.5, ax: Axes | None = None) -> Axes:
    """The confusion matrix of a binary model's predictions at ``threshold``: counts, rows the
    actual class, columns the predicted one."""
    ax = _axes(ax)
    label, score = _labelled(predictions)
    predicted = (score >= threshold).astype(int)
    actual = label.astype(int)
    counts = np.zeros((2, 2), dtype=int)
    np.add.at(counts, (actual, predicted), 1)
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            str(n),
            ha="center",
            va="center",
            color="white" if n > counts.max() / 2 else "black",
        )
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    ax.set_xlabel(f"predicted (threshold {threshold})")
    ax.set_ylabel("actual")
    ax.set_title("confusion matrix")
    return ax


def hotspots(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Hotspots (:meth:`Project.hotspots`): each segment's mean loss as a dot with its
    confidence interval as a bar, worst (most excess) at the top, beside the overall mean."""
    ax = _axes(ax)
    shown = frame.iloc[::-1]
    values = shown["value"].to_numpy(dtype=float)
    below = values - shown["low"].to_numpy(dtype=float)
    above = shown["high"].to_numpy(dtype=float) - values
    names = [f"{e} ({n} rows)" for e, n in zip(shown["expression"], shown["rows"], strict=True)]
    ax.errorbar(values, names, xerr=[below, above], fmt="o", color="#d62728", capsize=3)
    overall = frame.attrs.get("overall")
    if overall is not None:
        ax.axvline(overall, color="grey", lw=0.8, ls="--", label="overall")
        ax.legend(loc="lower right")
    metric = str(frame.attrs.get("metric", "loss")).replace("_", " ")
    ax.set_xlabel(f"{metric} ({frame.attrs.get('confidence', 0.95):.0%} interval)")
    ax.set_title("hotspots")
    return ax


def fairness(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """A fairness report (:meth:`Project.fairness`): each ``*_difference`` as a dot with its
    confidence interval as a bar; 0 is parity. The title says whether the four-fifths rule is
    violated."""
    ax = _axes(ax)
    shown = frame[frame.index.str.endswith("_difference")].iloc[::-1]
    values = shown["value"].to_numpy(dtype=float)
    below = values - shown["low"].to_numpy(dtype=float)
    above = shown["high"].to_numpy(dtype=float) - values
    names = [m.removesuffix("_difference").replace("_", " ") for m in shown.index]
    ax.errorbar(values, names, xerr=[below, above], fmt="o", color="#d62728", capsize=3)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_xlabel(f"|protected − reference| ({frame.attrs.get('confidence', 0.95):.0%} interval)")
    violated = frame.attrs.get("four_fifths_rule_violated")
    rule = {True: "violated", False: "met", None: "undefined"}[violated]
    ax.set_title(f"fairness: four-fifths rule {rule}")
    return ax


def drift(frame: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """A drift report (:meth:`Project.drift`): each feature's population stability index as a
    bar, red where the feature drifted, beside the PSI threshold."""
    ax = _axes(ax)
    shown = frame.iloc[::-1]
    colours = ["#d62728" if d else "#7f8c8d" for d in shown["drifted"]]
    ax.barh(list(shown.index), shown["psi"].fillna(0.0).to_numpy(dtype=float), color=colours)
    threshold = frame.attrs.get("thresholds", {}).get("psi")
    if threshold is not None:
        ax.axvline(threshold, color="grey", lw=0.8, ls="--", label=f"threshold {threshold}")
        ax.legend(loc="lower right")
    ax.set_xlabel("population stability index (red: drifted)")
    ax.set_title(f"drift: {frame.attrs.get('drifted', 0)} of {len(frame)} features")
    return ax


def drift_histogram(frame: pd.DataFrame, feature: str, ax: Axes | None = None) -> Axes:
    """One feature's (or score output's) histogram in a drift report: each bin's share of the
    reference's and of the current dataset's present values, side by side."""
    bins = frame.attrs.get("bins", {})
    if feature not in bins:
        raise KeyError(f"the drift report has no feature or output {feature!r}")
    ax = _axes(ax)
    shares = bins[feature]
    if shares["category"].notna().any():
        names = list(shares["category"])
    else:
        names = [
            f"≤ {u:.4g}" if pd.notna(u) else f"> {lo:.4g}"
            for lo, u in zip(shares["lower"], shares["upper"], strict=True)
        ]
    at = np.arange(len(names))
    ax.bar(at - 0.2, shares["reference"], width=0.4, color="#7f8c8d", label="reference")
    ax.bar(at + 0.2, shares["current"], width=0.4, color="#d35400", label="current")
    ax.set_xticks(at, names, rotation=45, ha="right")
    ax.set_ylabel("share of the present values")
    ax.set_title(f"{feature}: reference against current")
    ax.legend()
    return ax


def contributors(frame: pd.DataFrame, output: int = 0, ax: Axes | None = None) -> Axes:
    """The features' parts of the change of the mean margin in a drift report, as bars from
    zero (right: raised it); they add up to the change, in the title."""
    ax = _axes(ax)
    parts = frame.attrs["contributors"]
    parts = parts[parts["output"] == output].iloc[::-1]
    values = parts["contribution"].to_numpy(dtype=float)
    ax.barh(list(parts["feature"]), values, color=np.where(values > 0, "#d62728", "#1f77b4"))
    ax.axvline(0.0, color="grey", lw=0.8)
    attribution = frame.attrs.get("attribution") or {}
    change = (attribution.get("change") or [float("nan")])[output]
    ax.set_xlabel("part of the change of the mean margin")
    ax.set_title(f"what moved the score: mean margin {change:+.4f}")
    return ax
