"""In-memory models: which library made one, and the booster inside a scikit-learn wrapper."""

from __future__ import annotations

from typing import Any


def unwrap(model: Any) -> tuple[str | None, Any]:
    """The library of ``model`` (``"xgboost"``, ``"lightgbm"``, or None for anything else) and
    its booster: ``xgboost.XGBModel`` and ``lightgbm.LGBMModel`` hold one."""
    booster = model
    if hasattr(model, "get_booster"):  # xgboost's scikit-learn models
        booster = model.get_booster()
    elif hasattr(model, "booster_"):  # lightgbm's scikit-learn models
        booster = model.booster_
    library = type(booster).__module__.split(".")[0]
    return (library if library in ("xgboost", "lightgbm") else None), booster
