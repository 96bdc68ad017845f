"""A project's results as DataFrames: its predictions and influences tables, importance,
metrics, the views reduced for plotting, and the evaluations across groups and models
(:mod:`sextant.evaluation`). :class:`sextant.client.Project` has these methods."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import evaluation

if TYPE_CHECKING:
    from .client import Sextant

#: Rows per page when a segment's rows of a table are read page by page.
_SEGMENT_PAGE = 10_000


class Results:
    """The result readers of a project (mixed into :class:`sextant.client.Project`, which
    gives the connection, the schema and the path)."""

    _client: Sextant
    schema: dict[str, Any]

    @property
    def _path(self) -> str:
        raise NotImplementedError

    def _query(self, data: str, **options: Any) -> dict[str, Any]:
        query = {"dataset": data}
        query.update({k: v for k, v in options.items() if v is not None})
        return query

    def _table(self, model: str, what: str, query: dict[str, Any]) -> pd.DataFrame:
        answer = self._client._send(
            "GET", f"{self._path}/models/{model}/{what}/table", params=query
        )
        frame = pd.read_parquet(io.BytesIO(answer.content))
        index = self.schema.get("id") or "row"
        if index in frame.columns:
            frame = frame.set_index(index)
            if (
                index == "row"
                or frame.index.dtype.kind == "f"
                and (frame.index == frame.index.round()).all()
            ):
                frame.index = frame.index.astype("int64")
        frame.attrs["job"] = answer.headers.get("x-sextant-job")
        return frame

    def _segment_table(self, model: str, what: str, query: dict[str, Any]) -> pd.DataFrame:
        """The rows of a result table in a segment, read page by page (the whole-table download
        has every row)."""
        pages, offset = [], 0
        while True:
            doc = self._client._json(
                "GET",
                f"{self._path}/models/{model}/{what}",
                params={**query, "offset": offset, "limit": _SEGMENT_PAGE},
            )
            pages.extend(doc["rows"])
            offset += len(doc["rows"])
            if offset >= doc["source"]["segment"]["rows"] or not doc["rows"]:
                break
        frame = pd.DataFrame(pages, columns=doc["columns"], dtype="float64")
        index = self.schema.get("id") or "row"
        if index in frame.columns:
            frame = frame.set_index(index)
            if index == "row" or (frame.index == frame.index.round()).all():
                frame.index = frame.index.astype("int64")
        frame.attrs["job"] = doc["source"]["job"]
        frame.attrs["segment"] = doc["source"]["segment"]
        return frame

    def predictions(
        self,
        model: str,
        data: str,
        threshold: float | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Every prediction of a stored result, indexed by the dataset's id column (else the
        row's position): ``margin``, ``prediction`` (per class for multiclass), ``label``.
        With ``segment`` (a segment's name or an expression), only that segment's rows."""
        query = self._query(data, threshold=threshold, rows=rows, job=job)
        if segment is not None:
            return self._segment_table(model, "predictions", {**query, "segment": segment})
        return self._table(model, "predictions", query)

    def influences_table(
        self,
        model: str,
        data: str,
        method: str | None = None,
        background: str | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Every influence of a stored result: one column per feature (per class for
        multiclass), then ``base_value`` and ``margin``; each row's influences plus the base
        value equal its margin. With ``segment``, only that segment's rows."""
        query = self._query(data, method=method, background=background, rows=rows, job=job)
        if segment is not None:
            return self._segment_table(model, "influences", {**query, "segment": segment})
        return self._table(model, "influences", query)

    def importance(
        self,
        model: str,
        data: str,
        method: str | None = None,
        background: str | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Global importance: mean |influence| (``mean_abs``) and mean influence (``mean``) per
        feature, largest first. Sampled influences add ``mean_abs_stderr`` (sampling's standard
        error of ``mean_abs``) and its 95 % interval, ``mean_abs_low`` and ``mean_abs_high``.
        With ``segment``, over that segment's rows only."""
        query = self._query(
            data, method=method, background=background, rows=rows, job=job, segment=segment
        )
        doc = self._client._json("GET", f"{self._path}/models/{model}/importance", params=query)
        return _importance_frame(doc)

    def error_influences_table(
        self,
        model: str,
        data: str,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
        loss: str | None = None,
    ) -> pd.DataFrame:
        """Every error influence of a stored result (see :meth:`Project.error_influences`):
        per feature its influence on the row's loss, then ``base_value`` (the background's mean
        loss against the row's label), ``loss``, a ``<feature>__stderr`` column per feature and
        ``label``; each row's influences plus its base value equal its loss. Rows without a
        label have none. With ``segment``, only that segment's rows; with ``loss``, the newest
        result of that loss (default: the newest result)."""
        query = self._query(data, rows=rows, job=job, loss=loss)
        if segment is not None:
            return self._segment_table(model, "error-influences", {**query, "segment": segment})
        return self._table(model, "error-influences", query)

    def error_importance(
        self,
        model: str,
        data: str,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
        loss: str | None = None,
    ) -> pd.DataFrame:
        """What drives the model's errors: per feature the mean of its influence on each
        labelled row's loss (``mean``: positive where the feature raises the loss on average)
        and of its absolute value (``mean_abs``, with ``mean_abs_stderr`` and its 95 %
        interval), largest ``mean_abs`` first. ``attrs["loss"]`` names the loss. With
        ``segment``, over that segment's rows only; with ``loss``, the newest result of that
        loss (default: the newest result)."""
        query = self._query(data, rows=rows, job=job, segment=segment, loss=loss)
        doc = self._client._json(
            "GET", f"{self._path}/models/{model}/error-importance", params=query
        )
        return _importance_frame(doc)

    def group_importance(
        self,
        model: str,
        data: str,
        method: str | None = None,
        background: str | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Each feature group's importance, largest first: on each row its members' influences
        are summed, and ``mean_abs`` is the mean |sum| (``mean`` the mean sum); ``features``
        lists the members. Empty when the project has no group."""
        query = self._query(
            data, method=method, background=background, rows=rows, job=job, segment=segment
        )
        query["groups"] = "true"
        doc = self._client._json("GET", f"{self._path}/models/{model}/importance", params=query)
        columns = ["group", "mean_abs", "mean", "features"]
        frame = pd.DataFrame(doc.get("groups") or [], columns=columns)
        frame.attrs["job"] = doc["source"]["job"]
        frame.attrs["segment"] = doc["source"].get("segment")
        return frame

    def metrics(
        self,
        model: str,
        data: str,
        threshold: float | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> dict[str, Any]:
        """Quality metrics of a stored predict result on a labelled dataset (accuracy, ROC AUC, …
        for classifiers; RMSE, MAE, R² for regression); with ``segment``, over its rows only."""
        query = self._query(data, threshold=threshold, rows=rows, job=job, segment=segment)
        doc = self._client._json("GET", f"{self._path}/models/{model}/metrics", params=query)
        return doc["result"]

    def compare(
        self,
        models: list[str],
        data: str,
        metric: str | None = None,
        segment: str | None = None,
        disagreements: int | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Several models (2 to 10, each with a predict result on ``data``) compared: a
        leaderboard by ``metric`` (default ``roc_auc``, or ``rmse`` for a regression),
        importance side by side, agreement pair by pair, and the ``disagreements`` rows (default
        20) where they differ most; with ``segment``, over its rows only. See
        :func:`sextant.evaluation.compare` for the frames."""
        return evaluation.compare(
            self, models, data, metric=metric, segment=segment, disagreements=disagreements
        )

    def hotspots(
        self,
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
        """The segments of ``data`` (one or two conditions on its columns) where the model's
        per-row loss (``metric``: ``error_rate`` or ``absolute_error`` by default) is worst,
        ranked by ``rank`` (``excess``, the default: the loss held beyond the overall rate, or
        ``lift``), each of at least ``min_size`` rows with an interval at
        ``confidence``. See :func:`sextant.evaluation.hotspots` for the frame."""
        return evaluation.hotspots(
            self,
            model,
            data,
            metric=metric,
            rank=rank,
            min_size=min_size,
            limit=limit,
            bins=bins,
            columns=columns,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
            job=job,
        )

    def fairness(
        self,
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
        """Fairness of a binary classifier's decisions (a stored predict result, selected at
        ``threshold``) between the ``protected`` group and the ``reference`` group (default:
        every other row), each a segment's name or an expression: fairlearn's measures
        (``demographic_parity_ratio``, ``equalized_odds_difference``, …) with seeded bootstrap
        intervals at ``confidence`` (default 0.95, 1,000 resamples). See
        :func:`sextant.evaluation.fairness` for the frame's columns and ``attrs``."""
        return evaluation.fairness(
            self,
            model,
            data,
            protected,
            reference=reference,
            threshold=threshold,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
            rows=rows,
            job=job,
        )

    def curves(
        self,
        model: str,
        data: str,
        threshold: float | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> dict[str, pd.DataFrame]:
        """Quality curves of a stored predict result on a labelled dataset, reduced on the
        server. A binary classifier's: ``roc`` (``x`` false positive rate, ``y`` true positive
        rate, ``threshold``), ``precision_recall`` (``x`` recall, ``y`` precision,
        ``threshold``), ``calibration`` (``from``, ``to``, ``predicted``, ``observed``,
        ``rows``) and ``thresholds`` (``threshold``, ``tp``, ``fp``, ``tn``, ``fn`` at 0.00,
        0.01, …, 1.00). A regression's: ``points`` (``row``, ``prediction``, ``label``: at most
        2,000 rows) and ``residuals`` (a 40-bin histogram: ``from``, ``to``, ``count``). A
        multiclass model has none (its confusion matrix is in :meth:`metrics`). With
        ``segment``, over its rows only."""
        query = self._query(data, threshold=threshold, rows=rows, job=job, segment=segment)
        doc = self._client._json("GET", f"{self._path}/models/{model}/curves", params=query)
        parts = doc["binary"] or doc["regression"] or {}
        frames = {name: pd.DataFrame(values) for name, values in parts.items()}
        for frame in frames.values():
            frame.attrs.update(job=doc["source"]["job"], labelled=doc["labelled"])
        return frames

    def influence_points(
        self,
        model: str,
        data: str,
        features: list[str] | None = None,
        points: int | None = None,
        class_index: int | None = None,
        method: str | None = None,
        background: str | None = None,
        rows: int | None = None,
        job: str | None = None,
        segment: str | None = None,
    ) -> pd.DataFrame:
        """Stored influences at ``points`` rows spread evenly over the result (default 1,000,
        at most 5,000) for ``features`` (default: the 12 most important), with the data's value
        at each: one row per sampled row and feature (``row``, ``feature``, ``value``,
        ``influence``; ``value`` is a category's name for a categorical feature). What a
        beeswarm or a dependence plot draws, without fetching the whole table. With
        ``segment``, the rows are spread over that segment's rows."""
        query = self._query(
            data,
            features=",".join(features) if features else None,
            points=points,
            **{"class": class_index},
            method=method,
            background=background,
            rows=rows,
            job=job,
            segment=segment,
        )
        doc = self._client._json(
            "GET", f"{self._path}/models/{model}/influences/points", params=query
        )
        records = []
        for f in doc["features"]:
            names = f["categories"]
            for row, value, influence in zip(doc["rows"], f["values"], f["influences"]):
                shown = names[int(value)] if names and value is not None else value
                records.append((row, f["feature"], shown, influence))
        frame = pd.DataFrame(records, columns=["row", "feature", "value", "influence"])
        frame.attrs["job"] = doc["source"]["job"]
        return frame

    def explanation(
        self,
        model: str,
        data: str,
        row: int | None = None,
        id: float | None = None,
        class_index: int | None = None,
        method: str | None = None,
        background: str | None = None,
        job: str | None = None,
    ) -> pd.DataFrame:
        """One row's stored explanation, found by its position (``row``) or by the project's
        id column (``id``): ``feature``, ``value`` (as the data has it), ``influence``, largest
        |influence| first; ``attrs`` hold ``row``, ``id``, ``base_value`` and ``margin``
        (``base_value`` plus the influences)."""
        query = self._query(
            data,
            row=row,
            id=id,
            **{"class": class_index},
            method=method,
            background=background,
            job=job,
        )
        doc = self._client._json("GET", f"{self._path}/models/{model}/explanation", params=query)
        frame = pd.DataFrame(doc["contributions"], columns=["feature", "value", "influence"])
        frame.attrs.update(
            job=doc["source"]["job"],
            row=doc["row"],
            id=doc["id"],
            base_value=doc["base_value"],
            margin=doc["margin"],
        )
        return frame


def _importance_frame(doc: dict[str, Any]) -> pd.DataFrame:
    """An importance report as a frame, largest ``mean_abs`` first; sampled values add their
    standard error and 95 % interval. ``attrs`` hold the job, the segment, the scale and the
    loss (of error influences)."""
    features = pd.DataFrame(doc["result"]["features"])
    if "mean_abs_stderr" in features:
        frame = features[["feature", "mean_abs", "mean", "mean_abs_stderr"]].copy()
        frame["mean_abs_low"] = frame["mean_abs"] - 1.96 * frame["mean_abs_stderr"]
        frame["mean_abs_high"] = frame["mean_abs"] + 1.96 * frame["mean_abs_stderr"]
    else:
        frame = features[["feature", "mean_abs", "mean"]]
    frame = frame.sort_values("mean_abs", ascending=False, ignore_index=True)
    frame.attrs["job"] = doc["source"]["job"]
    frame.attrs["segment"] = doc["source"].get("segment")
    frame.attrs["scale"] = doc["result"]["scale"]
    frame.attrs["loss"] = doc["result"].get("loss")
    return frame
