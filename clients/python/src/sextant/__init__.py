"""Sextant's Python client: projects, models, datasets, jobs and their results as pandas
DataFrames, against a Sextant server.

>>> import sextant
>>> s = sextant.connect()                      # SEXTANT_SERVER / SEXTANT_TOKEN / `sextant login`
>>> p = s.project("credit-demo")
>>> p.importance("credit-xgb", "applicants")   # a DataFrame: feature, mean_abs, mean

Plots (matplotlib, ``pip install ./clients/python[plot]``) are in :mod:`sextant.plot`.
"""

from . import plot
from .client import DEFAULT_SERVER, Job, Listing, Project, Sextant, connect
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

__all__ = [
    "plot",
    "DEFAULT_SERVER",
    "Job",
    "Listing",
    "Project",
    "Sextant",
    "connect",
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
