"""Evaluation across groups of rows and across models: the hotspots where a model fails,
fairness of a binary classifier between a protected group and a reference group, and several
models compared on one dataset. :meth:`Project.hotspots`, :meth:`Project.fairness` and
:meth:`Project.compare` call these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .results import Results

#: The measures of a fairness report, in the order they are listed (fairlearn's names where
#: fairlearn has the measure; ``predictive_parity_*`` compares precision).
MEASURES = [
    f"{name}_{way}"
    for name in [
        "demographic_parity",
        "equal_opportunity",
        "equalized_odds",
        "false_positive_rate",
        "false_negative_rate",
        "accuracy_score",
        "predictive_parity",
    ]
    for way in ["difference", "ratio"]
]


#: The columns of a hotspots frame, in order.
HOTSPOT_COLUMNS = ["expression", "rows", "share", "value", "low", "high", "lift", "excess"]


def hotspots(
    project: Results,
    model: str,
    data: str,
    metric: str | None = None,
    rank: str | None = None,
    min_size: int | None = None,
    limit: int | None = None,
    bins: int | None = None,
    columns: list[str] | None = None,
    confidence: float | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    job: str | None = None,
) -> pd.DataFrame:
    """The hotspots, best ranked first (by ``excess``, or ``lift`` with ``rank="lift"``), one row
    each: ``expression`` (save it with
    :meth:`Project.add_segment`), ``rows``, ``share``, ``value`` (the mean loss), ``low`` and
    ``high`` (its interval), ``lift`` (over the overall mean) and ``excess``; ``attrs`` hold
    ``metric``, ``rank``, ``overall``, ``rows``, ``min_size``, ``bins``, ``confidence``,
    ``interval``, ``candidates``, ``columns`` (a DataFrame of each column searched and its cuts),
    ``conditions`` (each hotspot's list) and ``job``."""
    query: dict[str, Any] = {"dataset": data}
    options = {
        "metric": metric,
        "rank": rank,
        "min_size": min_size,
        "limit": limit,
        "bins": bins,
        "columns": ",".join(columns) if columns is not None else None,
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "job": job,
    }
    query.update({k: v for k, v in options.items() if v is not None})
    doc = project._client._json("GET", f"{project._path}/models/{model}/hotspots", params=query)
    found = doc["hotspots"]
    frame = pd.DataFrame(
        [{c: h[c] for c in HOTSPOT_COLUMNS} for h in found], columns=HOTSPOT_COLUMNS
    )
    frame = frame.astype({c: float for c in HOTSPOT_COLUMNS if c not in ("expression", "rows")})
    frame["rows"] = frame["rows"].astype("int64")
    frame.attrs.update(
        metric=doc["metric"],
        rank=doc["rank"],
        overall=doc["overall"],
        rows=doc["rows"],
        min_size=doc["min_size"],
        bins=doc["bins"],
        confidence=doc["confidence"],
        interval=doc["interval"],
        candidates=doc["candidates"],
        columns=pd.DataFrame(doc["columns"], columns=["column", "kind", "cuts"]),
        conditions=[h["conditions"] for h in found],
        job=doc["source"]["job"],
    )
    return frame


def fairness(
    project: Results,
    model: str,
    data: str,
    protected: str,
    reference: str | None = None,
    threshold: float | None = None,
    confidence: float | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    rows: int | None = None,
    job: str | None = None,
) -> pd.DataFrame:
    """The measures between the groups, one row each (``value``, ``low``, ``high``), indexed by
    ``measure``; ``attrs`` hold ``groups`` (a DataFrame of each group's rates), ``protected``
    and ``reference`` (segment, expression, rows), ``threshold``, ``confidence``,
    ``resamples``, ``seed``, ``four_fifths_rule_violated`` and ``job``."""
    query: dict[str, Any] = {"dataset": data, "protected": protected}
    options = {
        "reference": reference,
        "threshold": threshold,
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
        "rows": rows,
        "job": job,
    }
    query.update({k: v for k, v in options.items() if v is not None})
    doc = project._client._json("GET", f"{project._path}/models/{model}/fairness", params=query)
    frame = pd.DataFrame(
        [{"measure": m, **doc[m]} for m in MEASURES], columns=["measure", "value", "low", "high"]
    ).set_index("measure")
    frame = frame.astype(float)
    groups = pd.DataFrame([doc["groups"]["protected"], doc["groups"]["reference"]])
    groups.index = pd.Index(["protected", "reference"], name="group")
    frame.attrs.update(
        groups=groups,
        protected=doc["protected"],
        reference=doc["reference"],
        threshold=doc["threshold"],
        confidence=doc["confidence"],
        resamples=doc["resamples"],
        seed=doc["seed"],
        four_fifths_rule_violated=doc["four_fifths_rule_violated"],
        job=doc["source"]["job"],
    )
    return frame


def compare(
    project: Results,
    models: list[str],
    data: str,
    metric: str | None = None,
    segment: str | None = None,
    disagreements: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Several models on one dataset, as DataFrames: ``leaderboard`` (``model``, ``rank``,
    ``value`` of the metric ranked by, then every metric; best first), ``importance`` (mean
    |influence|, one row per feature and one column per model), ``agreement`` (``a``, ``b``,
    ``decision_agreement``, ``score_correlation``, ``mean_abs_difference``) and
    ``disagreements`` (``row``, ``id``, ``label``, one score or predicted class column per
    model, ``spread``; widest first). Each frame's ``attrs`` hold ``metric``,
    ``higher_is_better``, ``rows``, ``segment`` and ``notes``."""
    query: dict[str, Any] = {"models": ",".join(models), "dataset": data}
    options = {"metric": metric, "segment": segment, "disagreements": disagreements}
    query.update({k: v for k, v in options.items() if v is not None})
    doc = project._client._json("GET", f"{project._path}/compare", params=query)
    names = doc["models"]
    board = pd.DataFrame(
        [
            {"model": e["model"], "rank": e["rank"], "value": e["value"], **(e["metrics"] or {})}
            for e in doc["leaderboard"]
        ]
    )
    importance = pd.DataFrame(
        [s["mean_abs"] for s in doc["importance"]],
        index=pd.Index([s["feature"] for s in doc["importance"]], name="feature"),
        columns=names,
        dtype=float,
    )
    agreement = pd.DataFrame(
        doc["agreement"],
        columns=["a", "b", "decision_agreement", "score_correlation", "mean_abs_difference"],
    )
    records = []
    for d in doc["disagreements"]:
        each = d["scores"] if d["scores"] is not None else d["decisions"]
        records.append(
            {
                "row": d["row"],
                "id": d["id"],
                "label": d["label"],
                **dict(zip(names, each)),
                "spread": d["spread"],
            }
        )
    rows = pd.DataFrame(records, columns=["row", "id", "label", *names, "spread"])
    frames = {
        "leaderboard": board,
        "importance": importance,
        "agreement": agreement,
        "disagreements": rows,
    }
    for frame in frames.values():
        frame.attrs.update(
            metric=doc["metric"],
            higher_is_better=doc["higher_is_better"],
            rows=doc["rows"],
            segment=doc.get("segment"),
            notes=doc["notes"],
        )
    return frames
