"""Sextant's Python client: projects, models, datasets, jobs and their results as pandas
DataFrames, against a Sextant server; and a local mode that computes predictions and exact
Shapley values in this process, with no server.

>>> import sextant
>>> s = sextant.connect()                      # SEXTANT_SERVER / SEXTANT_TOKEN / `sextant login`
>>> p = s.project("credit-demo")
>>> p.importance("credit-xgb", "applicants")   # a DataFrame: feature, mean_abs, mean

>>> sextant.explain("model.json", X)              # local mode: a DataFrame of influences

Plots (matplotlib, ``pip install ./clients/python[plot]``) are in :mod:`sextant.plot`.
"""

from . import plot
from ._html import Listing
from .client import DEFAULT_SERVER, Project, Sextant, connect
from .errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NoResult,
    NotFound,
    PayloadTooLarge,
    ServerError,
    SextantError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from .jobs import Job
from .local import LocalModel, explain, importance, load_model, predict

__all__ = [
    "plot",
    "DEFAULT_SERVER",
    "Job",
    "Listing",
    "Project",
    "Sextant",
    "connect",
    "LocalModel",
    "explain",
    "importance",
    "load_model",
    "predict",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NoResult",
    "NotFound",
    "PayloadTooLarge",
    "SextantError",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "Unreachable",
]
__version__ = "0.1.0"
