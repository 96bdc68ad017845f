"""Drift of a model's data and score between a reference dataset and a current one, as
DataFrames: :meth:`sextant.client.Project.drift` runs the drift job (answered at once when its
result is stored) and reads the report with :func:`report`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .results import Results

#: The columns of a drift frame (one row per feature, or per output of the score), in order.
COLUMNS = [
    "kind",
    "psi",
    "ks",
    "ks_pvalue",
    "wasserstein",
    "jensen_shannon",
    "chi2",
    "chi2_pvalue",
    "missing_reference",
    "missing_current",
    "out_of_range",
    "new_categories",
    "vanished_categories",
    "exact",
    "drifted",
    "reasons",
    "problem",
]

#: The thresholds a drift report can be read against, as the query names them.
THRESHOLDS = ("psi", "jensen_shannon", "pvalue", "missing", "new_values")


def _frame(columns: list[dict[str, Any]]) -> pd.DataFrame:
    records = []
    for c in columns:
        record = {k: c.get(k) for k in COLUMNS}
        # A category name with its share of the side that has it.
        for side in ("new_categories", "vanished_categories"):
            record[side] = {s["category"]: s["share"] for s in c.get(side, [])}
        records.append(record)
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.index = pd.Index([c["feature"] for c in columns], name="feature")
    return frame


def _bins(columns: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    return {
        c["feature"]: pd.DataFrame(
            c["bins"], columns=["lower", "upper", "category", "reference", "current"]
        )
        for c in columns
    }


def report(
    project: Results,
    model: str,
    reference: str,
    data: str,
    job: str | None = None,
    **thresholds: float | None,
) -> pd.DataFrame:
    """The drift report of ``model`` from ``reference`` to ``data`` (the newest, or ``job``'s),
    verdicts against ``thresholds`` (:data:`THRESHOLDS`; the defaults where not given): one row
    per feature with :data:`COLUMNS`, in the model's order. ``attrs`` hold ``score`` (the same
    columns, one row per output of the model's score), ``bins`` (per feature and per output, a
    DataFrame of ``lower``, ``upper`` or ``category``, and the ``reference`` and ``current``
    shares: the histogram the PSI is over), ``contributors`` (``feature``, ``output``,
    ``contribution``, ``share``: each feature's part of the change of the mean margin, largest
    first), ``attribution`` (how they were computed, and the ``change`` they add up to),
    ``metrics`` (``reference``, ``current``, ``change`` per metric, when both are labelled),
    ``mean_reference``, ``mean_current``, ``thresholds``, ``drifted``, ``rows_reference``,
    ``rows_current`` and ``job``."""
    unknown = set(thresholds) - set(THRESHOLDS)
    if unknown:
        raise TypeError(f"unknown drift thresholds {sorted(unknown)}; known: {list(THRESHOLDS)}")
    query: dict[str, Any] = {"dataset": data, "reference": reference}
    options = {"job": job, **thresholds}
    query.update({k: v for k, v in options.items() if v is not None})
    doc = project._client._json("GET", f"{project._path}/models/{model}/drift", params=query)
    frame = _frame(doc["features"])
    score = doc["score"]
    contributors = pd.DataFrame(
        doc["contributors"], columns=["feature", "output", "contribution", "share"]
    )
    metrics = pd.DataFrame(
        score.get("metric_changes", []), columns=["metric", "reference", "current", "change"]
    ).set_index("metric")
    frame.attrs.update(
        score=_frame(score["outputs"]),
        bins={**_bins(doc["features"]), **_bins(score["outputs"])},
        contributors=contributors,
        attribution=doc.get("attribution"),
        metrics=metrics,
        mean_reference=score["mean_reference"],
        mean_current=score["mean_current"],
        thresholds=doc["thresholds"],
        drifted=doc["drifted"],
        model=doc["model"],
        reference=doc["reference"],
        dataset=doc["dataset"],
        rows_reference=doc["rows_reference"],
        rows_current=doc["rows_current"],
        job=doc.get("job"),
    )
    return frame
