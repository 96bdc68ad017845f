"""The client: a connection to a Sextant server, its projects, their models, data and results."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import httpx
import pandas as pd

from . import drift as _drift
from . import errors
from ._boosters import unwrap
from ._html import Listing, table_html
from .jobs import Job
from .results import Results

DEFAULT_SERVER = "http://127.0.0.1:8640"

PathLike = Union[str, "os.PathLike[str]"]  # noqa: UP007 (a runtime alias: Python 3.9)


def _credentials_file() -> Path | None:
    base = os.environ.get("XDG_CONFIG_HOME") or (
        os.path.join(os.environ["HOME"], ".config") if os.environ.get("HOME") else None
    )
    return Path(base, "sextant", "credentials.toml") if base else None


def _saved_credentials() -> dict[str, Any]:
    """What ``sextant login`` saved: ``{"default": url, "servers": {url: {"token": …}}}``."""
    path = _credentials_file()
    if path is None or not path.exists():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def connect(url: str | None = None, token: str | None = None, timeout: float = 300.0) -> Sextant:
    """Connects to a Sextant server.

    ``url`` defaults to ``SEXTANT_SERVER``, then the server ``sextant login`` saved, then
    ``http://127.0.0.1:8640``; ``token`` to ``SEXTANT_TOKEN``, then the token saved for that
    server. The token is checked at once: a wrong one raises :class:`sextant.Unauthorized`.
    """
    saved = _saved_credentials()
    url = (
        url or os.environ.get("SEXTANT_SERVER") or saved.get("default") or DEFAULT_SERVER
    ).rstrip("/")
    if token is None:
        token = os.environ.get("SEXTANT_TOKEN") or (
            saved.get("servers", {}).get(url, {}).get("token")
        )
    client = Sextant(url, token, timeout)
    client.whoami()
    return client


class Sextant:
    """A connection to one Sextant server (made by :func:`connect`)."""

    def __init__(self, url: str, token: str | None, timeout: float = 300.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"Sextant({self.url!r})"

    def close(self) -> None:
        """Closes the connection."""
        self._http.close()

    def __enter__(self) -> Sextant:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise errors.Unreachable(f"cannot reach the Sextant server at {self.url}: {e}") from e
        if answer.status_code >= 400:
            try:
                body = answer.json()
            except ValueError:
                body = None
            raise errors.from_answer(answer.status_code, body, answer.text)
        return answer

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._send(method, path, **kwargs)
        return answer.json() if answer.content else None

    # -- the server ---------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """The caller (``user``) and their roles (``roles``)."""
        return self._json("GET", "/api/v1/me")

    def projects(self) -> list[Project]:
        """The projects the caller may see."""
        return [Project(self, p) for p in self._json("GET", "/api/v1/projects")]

    def project(self, name: str) -> Project:
        """One project (:class:`sextant.NotFound` if it does not exist for the caller)."""
        return Project(self, self._json("GET", f"/api/v1/projects/{name}"))

    def create_project(
        self,
        name: str,
        task: str = "binary",
        features: None | Sequence[str] | Mapping[str, str] | pd.DataFrame = None,
        label: str | None = None,
        id: str | None = None,
        classes: int | None = None,
        score_type: str | None = None,
    ) -> Project:
        """Creates a project; the caller owns it.

        ``features``: a list of names (numeric features), a mapping of name to ``"numeric"`` or
        ``"categorical"``, or a DataFrame whose columns (but ``label`` and ``id``) become the
        features (categorical where the column holds text or categories).
        """
        if features is None:
            raise errors.BadRequest("give the features: a list of names, a mapping or a DataFrame")
        if isinstance(features, pd.DataFrame):
            spec = [
                {
                    "name": str(c),
                    "type": "numeric"
                    if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                    else "categorical",
                }
                for c, t in features.dtypes.items()
                if c not in (label, id)
            ]
        elif isinstance(features, Mapping):
            spec = [{"name": n, "type": t} for n, t in features.items()]
        else:
            spec = [{"name": n, "type": "numeric"} for n in features]
        schema: dict[str, Any] = {
            "features": spec,
            "task": task,
            "score_type": score_type or ("raw" if task == "regression" else "probability"),
        }
        if label is not None:
            schema["label"] = label
        if id is not None:
            schema["id"] = id
        if classes is not None:
            schema["classes"] = classes
        body = {"name": name, "schema": schema}
        return Project(self, self._json("POST", "/api/v1/projects", json=body))

    def jobs(self, limit: int = 50) -> list[Job]:
        """Recent jobs of every project the caller may see, newest first."""
        return [Job(self, j) for j in self._json("GET", "/api/v1/jobs", params={"limit": limit})]

    def job(self, id: str) -> Job:
        """One job, by id."""
        return Job(self, self._json("GET", f"/api/v1/jobs/{id}"))


def _save_model(model: Any, folder: str) -> str:
    """A model object saved to a file the server reads: XGBoost as JSON, LightGBM as text."""
    kind, booster = unwrap(model)
    if kind == "xgboost":
        path = os.path.join(folder, "model.json")
        booster.save_model(path)
        return path
    if kind == "lightgbm":
        path = os.path.join(folder, "model.txt")
        booster.save_model(path)
        return path
    raise errors.BadRequest(
        f"cannot send a {type(model).__name__}: give a file path, or an XGBoost or LightGBM model"
    )


# Rows read at a time when a segment's table is read page by page (the API's largest page).
class Project(Results):
    """A project: its schema, models, datasets, jobs and results."""

    def __init__(self, client: Sextant, doc: dict[str, Any]) -> None:
        self._client = client
        self.name: str = doc["name"]
        self.schema: dict[str, Any] = doc["schema"]
        self.created_at: str = doc.get("created_at", "")

    def __repr__(self) -> str:
        return f"Project({self.name!r}, task={self.schema['task']!r})"

    def _repr_html_(self) -> str:
        features = ", ".join(f["name"] for f in self.schema["features"])
        return table_html(
            ["project", "task", "label", "id", "features"],
            [
                [
                    self.name,
                    self.schema["task"],
                    self.schema.get("label") or "-",
                    self.schema.get("id") or "-",
                    features,
                ]
            ],
        )

    @property
    def _path(self) -> str:
        return f"/api/v1/projects/{self.name}"

    def models(self) -> Listing:
        """The project's models."""
        return Listing("model", self._client._json("GET", f"{self._path}/models"))

    def datasets(self) -> Listing:
        """The project's datasets."""
        return Listing("dataset", self._client._json("GET", f"{self._path}/datasets"))

    def segments(self) -> pd.DataFrame:
        """The project's segments: ``name``, ``expression``, ``group``, ``protected``."""
        docs = self._client._json("GET", f"{self._path}/segments")
        columns = ["name", "expression", "group", "protected", "created_at", "created_by"]
        return pd.DataFrame(docs, columns=columns)

    def add_segment(
        self, name: str, expression: str, group: str | None = None, protected: bool = False
    ) -> dict[str, Any]:
        """Adds a segment: a named filter over the project's datasets, e.g.
        ``'age >= 30 and region in ("EU", "UK")'``, ``'income is missing'``. Any report takes
        its name (or an expression) as ``segment=``. A mistake raises
        :class:`sextant.InvalidInput` naming the column or the position."""
        body: dict[str, Any] = {"name": name, "expression": expression, "protected": protected}
        if group is not None:
            body["group"] = group
        return self._client._json("POST", f"{self._path}/segments", json=body)

    def feature_groups(self) -> pd.DataFrame:
        """The project's feature groups: ``name``, ``features`` (a list)."""
        docs = self._client._json("GET", f"{self._path}/feature-groups")
        return pd.DataFrame(docs, columns=["name", "features", "created_at", "created_by"])

    def add_feature_group(self, name: str, features: list[str]) -> dict[str, Any]:
        """Adds a feature group: features whose influences :meth:`group_importance` reports
        together (summed on each row), e.g. one variable's one-hot columns."""
        body = {"name": name, "features": list(features)}
        return self._client._json("POST", f"{self._path}/feature-groups", json=body)

    def remove_feature_group(self, name: str) -> dict[str, Any]:
        """Removes a feature group."""
        return self._client._json("DELETE", f"{self._path}/feature-groups/{name}")

    def remove_segment(self, name: str) -> dict[str, Any]:
        """Removes a segment (results are kept: they are keyed by row, not by segment)."""
        return self._client._json("DELETE", f"{self._path}/segments/{name}")

    def jobs(self, limit: int = 50) -> list[Job]:
        """The project's recent jobs, newest first."""
        docs = self._client._json("GET", f"{self._path}/jobs", params={"limit": limit})
        return [Job(self._client, j) for j in docs]

    def _upload(self, what: str, fields: dict[str, str], path: str) -> dict[str, Any]:
        with open(path, "rb") as f:
            files = {"file": (os.path.basename(path), f, "application/octet-stream")}
            return self._client._json("POST", f"{self._path}/{what}", data=fields, files=files)

    def add_model(self, name: str, model: Any, format: str | None = None) -> dict[str, Any]:
        """Uploads a model: a file path (XGBoost JSON, LightGBM text, ONNX), or an in-memory
        XGBoost or LightGBM model (``Booster``, ``XGBClassifier``, ``LGBMClassifier``, …). It is
        checked against the project's schema (:class:`sextant.InvalidInput` names what does not
        fit); an ONNX file that names no features takes the project's, in order."""
        fields = {"name": name}
        if format:
            fields["format"] = format
        if isinstance(model, (str, os.PathLike)):
            return self._upload("models", fields, os.fspath(model))
        with tempfile.TemporaryDirectory() as folder:
            return self._upload("models", fields, _save_model(model, folder))

    def add_data(
        self,
        name: str,
        data: pd.DataFrame | PathLike,
        role: str = "test",
        label: str | None = None,
    ) -> dict[str, Any]:
        """Uploads a dataset: a DataFrame (sent as Parquet) or a CSV or Parquet file. ``role`` is
        train, test, production, background or custom; ``label`` (optional) must be the
        project's label column, and the data must then hold it."""
        if label is not None and label != self.schema.get("label"):
            raise errors.InvalidInput(
                f"project {self.name!r} has label {self.schema.get('label')!r}, not {label!r}"
            )
        if label is not None and isinstance(data, pd.DataFrame) and label not in data.columns:
            raise errors.InvalidInput(f"the data has no column {label!r} (the label)")
        fields = {"name": name, "role": role}
        if not isinstance(data, pd.DataFrame):
            return self._upload("datasets", fields, os.fspath(data))
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, f"{name}.parquet")
            data.to_parquet(path, index=False)
            return self._upload("datasets", fields, path)

    def _run(self, body: dict[str, Any], wait: bool, progress: bool) -> Job:
        job = Job(self._client, self._client._json("POST", f"{self._path}/jobs", json=body))
        if wait:
            job.wait(progress=progress)
        return job

    def predict(
        self,
        model: str,
        data: str,
        threshold: float | None = None,
        rows: int | None = None,
        wait: bool = True,
        progress: bool = True,
    ) -> Job:
        """Runs a predict job (predictions, and metrics when the data is labelled). With
        ``wait`` it returns once the job has finished, showing a progress bar."""
        options: dict[str, Any] = {}
        if threshold is not None:
            options["threshold"] = threshold
        if rows is not None:
            options["rows"] = rows
        return self._run(
            {"kind": "predict", "model": model, "dataset": data, "options": options}, wait, progress
        )

    def influences(
        self,
        model: str,
        data: str,
        method: str | None = None,
        background: str | None = None,
        rows: int | None = None,
        wait: bool = True,
        progress: bool = True,
        target_stderr: float | None = None,
        max_evals: int | None = None,
        seed: int | None = None,
    ) -> Job:
        """Runs an influences job: the Shapley value of every feature for every row.
        ``method`` is ``"path-dependent"`` or ``"interventional"`` (exact TreeSHAP, for tree
        ensembles; interventional needs a ``background`` dataset) or ``"sampled"`` (any
        model, against a ``background``: sampled Shapley values with a ``<feature>__stderr``
        column each, stopped at ``target_stderr`` or after ``max_evals`` model evaluations a
        row, reproducible by ``seed``). By default: for a tree ensemble interventional when a
        background is given, else path-dependent; for any other model (an ONNX graph)
        sampled. The result queries below default the same way."""
        options: dict[str, Any] = {}
        if method is not None:
            options["method"] = method
        if rows is not None:
            options["rows"] = rows
        options.update(_sampling(target_stderr, max_evals, seed))
        body: dict[str, Any] = {
            "kind": "influences",
            "model": model,
            "dataset": data,
            "options": options,
        }
        if background is not None:
            body["background"] = background
        return self._run(body, wait, progress)

    def error_influences(
        self,
        model: str,
        data: str,
        background: str,
        loss: str | None = None,
        rows: int | None = None,
        wait: bool = True,
        progress: bool = True,
        target_stderr: float | None = None,
        max_evals: int | None = None,
        seed: int | None = None,
    ) -> Job:
        """Runs an error-influences job on a labelled dataset: which features drive each
        row's error. The Shapley values of each row's ``loss`` against its label (``"log_loss"``,
        the default, or ``"brier"`` for classifiers; ``"squared_error"``, the default, or
        ``"absolute_error"`` for regressions), sampled against the ``background`` rows (exact
        for few features) with a standard error each. A row's values add up to its loss minus
        its base value, the background's mean loss against the row's label. Read them with
        :meth:`error_influences_table` and :meth:`error_importance`."""
        options: dict[str, Any] = _sampling(target_stderr, max_evals, seed)
        if loss is not None:
            options["loss"] = loss
        if rows is not None:
            options["rows"] = rows
        body = {
            "kind": "error-influences",
            "model": model,
            "dataset": data,
            "background": background,
            "options": options,
        }
        return self._run(body, wait, progress)

    def drift(
        self,
        model: str,
        reference: str,
        data: str,
        background: str | None = None,
        method: str | None = None,
        contributor_rows: int | None = None,
        rows: int | None = None,
        psi: float | None = None,
        jensen_shannon: float | None = None,
        pvalue: float | None = None,
        missing: float | None = None,
        new_values: float | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Drift of ``model``'s data and score from the ``reference`` dataset (training or test
        data, last quarter's) to ``data`` (production): runs the drift job (answered at once when
        its result is stored) and returns one row per feature, with its population stability
        index, Kolmogorov–Smirnov statistic and p-value, Wasserstein and Jensen–Shannon distances
        (χ² for categories), missing shares, new categories and verdict. A feature drifted when
        any threshold is crossed: ``psi`` (default 0.2), ``jensen_shannon`` and ``pvalue`` (not
        used by default), ``missing`` (a change of the missing share, default 0.05),
        ``new_values`` (a share of new categories or of values outside the reference's range,
        default 0.01); changing one computes nothing again. The features' parts of the change
        of the mean margin (``attrs["contributors"]``) are interventional influences of
        ``contributor_rows`` rows of each dataset (default 1,000) against one ``background``
        (default: 100 rows of the reference); ``method`` is ``"interventional"`` (trees) or
        ``"sampled"`` (any model). See :func:`sextant.drift.report` for the ``attrs``."""
        options: dict[str, Any] = {}
        for name, value in [
            ("method", method),
            ("contributor_rows", contributor_rows),
            ("rows", rows),
        ]:
            if value is not None:
                options[name] = value
        body: dict[str, Any] = {
            "kind": "drift",
            "model": model,
            "dataset": data,
            "reference": reference,
            "options": options,
        }
        if background is not None:
            body["background"] = background
        job = self._run(body, wait=True, progress=progress)
        return _drift.report(
            self,
            model,
            reference,
            data,
            job=job.id,
            psi=psi,
            jensen_shannon=jensen_shannon,
            pvalue=pvalue,
            missing=missing,
            new_values=new_values,
        )


def _sampling(
    target_stderr: float | None, max_evals: int | None, seed: int | None
) -> dict[str, Any]:
    """The sampling options given (of sampled influences and error influences)."""
    given = {"target_stderr": target_stderr, "max_evals": max_evals, "seed": seed}
    return {name: value for name, value in given.items() if value is not None}
