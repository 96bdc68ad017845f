"""Fairness fixtures: fairlearn's measures of the demo model on the demo applicants.

The demo model's probabilities come from XGBoost itself; a row is selected at or above the
threshold. Each case names a protected group and a reference group (the complement, or a second
group; rows in neither are left out) by a segment expression and by the same rows in pandas, and
records what fairlearn computes for them: the `*_difference` and `*_ratio` functions, and
`MetricFrame` by group for the rates. Called by make_fixtures.py after the demo is made; writes
`<out>/fairness/demo.json`.
"""

import json
import os

import fairlearn
import numpy as np
import pandas as pd
import xgboost as xgb
from fairlearn import metrics as fm
from sklearn.metrics import accuracy_score, precision_score

CASES = [
    # name, threshold, protected expression, reference expression (None: the complement)
    ("south_vs_rest", 0.5, 'region == "south"', None),
    ("young_vs_old", 0.3, "age < 30", "age >= 60"),
    ("east_vs_north_or_west", 0.5, 'region == "east"', 'region in ("north", "west")'),
]


def rows_of(df, expression):
    """The rows of a case's expression, in pandas (the few forms CASES uses)."""
    if expression == 'region == "south"':
        return df.region == "south"
    if expression == 'region == "east"':
        return df.region == "east"
    if expression == 'region in ("north", "west")':
        return df.region.isin(["north", "west"])
    if expression == "age < 30":
        return df.age < 30
    if expression == "age >= 60":
        return df.age >= 60
    raise ValueError(expression)


def measures(y, decided, groups):
    """fairlearn's between-group measures, and the rates by group."""
    value = {}
    for name in [
        "demographic_parity",
        "equal_opportunity",
        "equalized_odds",
        "false_positive_rate",
        "false_negative_rate",
        "accuracy_score",
    ]:
        for way in ["difference", "ratio"]:
            f = getattr(fm, f"{name}_{way}")
            value[f"{name}_{way}"] = float(f(y, decided, sensitive_features=groups))
    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
            "false_negative_rate": fm.false_negative_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
            "accuracy": accuracy_score,
        },
        y_true=y,
        y_pred=decided,
        sensitive_features=groups,
    )
    value["predictive_parity_difference"] = float(frame.difference()["precision"])
    value["predictive_parity_ratio"] = float(frame.ratio()["precision"])
    by_group = {g: {k: float(v) for k, v in frame.by_group.loc[g].items()} for g in ["protected", "reference"]}
    for g in by_group:
        by_group[g]["rows"] = int((groups == g).sum())
    return value, by_group


def fairness_fixtures(out, demo):
    applicants = pd.read_csv(os.path.join(demo, "applicants.csv"))
    booster = xgb.Booster(model_file=os.path.join(demo, "credit_model.json"))
    features = booster.feature_names
    x = applicants[features].copy()
    x["region"] = pd.Categorical(x.region, categories=sorted(applicants.region.unique()))
    probability = booster.predict(xgb.DMatrix(x, enable_categorical=True))
    cases = []
    for name, threshold, protected, reference in CASES:
        in_protected = rows_of(applicants, protected)
        in_reference = ~in_protected if reference is None else rows_of(applicants, reference)
        keep = (in_protected | in_reference).to_numpy()
        groups = np.where(in_protected, "protected", "reference")[keep]
        y = applicants.defaulted.to_numpy()[keep]
        decided = (probability[keep] >= threshold).astype(int)
        value, by_group = measures(y, decided, groups)
        cases.append(
            {
                "name": name,
                "threshold": threshold,
                "protected": protected,
                "reference": reference,
                "fairlearn": value,
                "by_group": by_group,
            }
        )
    os.makedirs(os.path.join(out, "fairness"), exist_ok=True)
    with open(os.path.join(out, "fairness", "demo.json"), "w") as f:
        json.dump(
            {"fairlearn_version": fairlearn.__version__, "xgboost_version": xgb.__version__, "cases": cases},
            f,
            indent=2,
        )
        f.write("\n")


if __name__ == "__main__":
    fairness_fixtures("tests/data", "demo")
