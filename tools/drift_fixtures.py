"""Drift fixtures: a production dataset with planted drift, and SciPy's statistics of it against
the demo applicants.

`production.csv` holds 1,500 new applicants of the demo's population (`make_fixtures.demo_frame`
with another seed, so every feature differs from the applicants by sampling noise alone), then two
planted drifts: every income is 1.4 times larger, and 15% of the rows are in a region the model
never saw, `central`. Each feature's statistics of the applicants (reference) against it
(current), over the present values, are recorded in `demo.json`:

- numeric: `scipy.stats.ks_2samp(method="asymp")`'s statistic and p-value, the asymptotic
  Kolmogorov p-value `kstwobign.sf(sqrt(nm/(n+m)) * D)`, `scipy.stats.wasserstein_distance`, and
  the population stability index and Jensen-Shannon distance (`scipy.spatial.distance.
  jensenshannon`, base 2) over bins at the reference's deciles, computed here;
- categorical: `scipy.stats.chi2_contingency(correction=False)` of the 2 x k table of counts, and
  the PSI and Jensen-Shannon distance over the categories;
- the score (XGBoost's probability of default on each dataset), as a numeric column.

Called by make_fixtures.py after the demo is made; writes `<out>/drift/`.
"""

import json
import os

import numpy as np
import pandas as pd
import scipy
import xgboost as xgb
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_FLOOR = 1e-4
BINS = 10


def decile_edges(reference):
    """The k-th edge is the smallest value at or below which k tenths of the reference lie (numpy's
    `inverted_cdf` quantile, computed in integers so that no rounding moves an edge); repeats
    merged."""
    v = np.sort(reference)
    n = len(v)
    edges = []
    for k in range(1, BINS):
        edge = float(v[(k * n + BINS - 1) // BINS - 1])
        if not edges or edges[-1] != edge:
            edges.append(edge)
    return edges


def psi(p, q):
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric(reference, current):
    edges = decile_edges(reference)
    bins = len(edges) + 1
    # Bin i holds edges[i-1] < x <= edges[i].
    share = [np.bincount(np.searchsorted(edges, x, side="left"), minlength=bins) / len(x) for x in (reference, current)]
    ks = stats.ks_2samp(reference, current, method="asymp")
    n, m = len(reference), len(current)
    return {
        "kind": "numeric",
        "ks": float(ks.statistic),
        "ks_pvalue_scipy": float(ks.pvalue),
        "ks_pvalue": float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * ks.statistic)),
        "wasserstein": float(stats.wasserstein_distance(reference, current)),
        "edges": edges,
        "reference_shares": share[0].tolist(),
        "current_shares": share[1].tolist(),
        "psi": psi(share[0], share[1]),
        "jensen_shannon": float(jensenshannon(share[0], share[1], base=2)),
        "out_of_range": float(np.mean((current < reference.min()) | (current > reference.max()))),
    }


def categorical(reference, current):
    categories = sorted(set(reference) | set(current))
    counts = np.array([[np.sum(x == c) for c in categories] for x in (reference, current)])
    chi2 = stats.chi2_contingency(counts, correction=False)
    share = counts / counts.sum(axis=1, keepdims=True)
    return {
        "kind": "categorical",
        "categories": categories,
        "reference_counts": counts[0].tolist(),
        "current_counts": counts[1].tolist(),
        "chi2": float(chi2.statistic),
        "chi2_pvalue": float(chi2.pvalue),
        "dof": int(chi2.dof),
        "psi": psi(share[0], share[1]),
        "jensen_shannon": float(jensenshannon(share[0], share[1], base=2)),
        "new_categories": [c for c in categories if c not in set(reference)],
    }


def production(out):
    """The new applicants, drift planted."""
    import make_fixtures

    df, y = make_fixtures.demo_frame(seed=2026, n=1500)
    rng = np.random.default_rng(16)
    df["income"] = np.round(df.income * 1.4, 0)
    region = df.region.astype(str).to_numpy()
    region[rng.random(len(df)) < 0.15] = "central"
    df["region"] = region
    df.insert(0, "applicant_id", np.arange(100001, 100001 + len(df)))
    df["defaulted"] = y
    make_fixtures.write_csv(df, os.path.join(out, "drift", "production.csv"))


def probability(booster, frame, regions):
    """XGBoost's probabilities with each region as its code: the model's categories first, in
    order, then the ones it never saw (so `central` takes the branch of a category outside every
    split's set, as in Sextant; a missing region would take the default branch instead)."""
    x = frame[booster.feature_names].copy()
    x["region"] = x.region.map({r: float(i) for i, r in enumerate(regions)})
    types = ["c" if f == "region" else "q" for f in booster.feature_names]
    matrix = xgb.DMatrix(
        x.to_numpy(dtype=np.float64),
        feature_names=booster.feature_names,
        feature_types=types,
        enable_categorical=True,
    )
    return booster.predict(matrix).astype(np.float64)


def drift_fixtures(out, demo):
    os.makedirs(os.path.join(out, "drift"), exist_ok=True)
    production(out)
    reference = pd.read_csv(os.path.join(demo, "applicants.csv"))
    current = pd.read_csv(os.path.join(out, "drift", "production.csv"))
    booster = xgb.Booster(model_file=os.path.join(demo, "credit_model.json"))
    features = {}
    for name in booster.feature_names:
        r, c = reference[name].dropna().to_numpy(), current[name].dropna().to_numpy()
        is_numeric = pd.api.types.is_numeric_dtype(reference[name])
        value = numeric(r, c) if is_numeric else categorical(r, c)
        value["missing_reference"] = float(reference[name].isna().mean())
        value["missing_current"] = float(current[name].isna().mean())
        features[name] = value
    # The model's categories are the training data's, in order; `central` comes after them.
    regions = sorted(reference.region.unique()) + ["central"]
    score = numeric(probability(booster, reference, regions), probability(booster, current, regions))
    with open(os.path.join(out, "drift", "demo.json"), "w") as f:
        json.dump(
            {
                "scipy_version": scipy.__version__,
                "xgboost_version": xgb.__version__,
                "reference": "demo/applicants.csv",
                "current": "tests/data/drift/production.csv",
                "planted": ["income", "region"],
                "features": features,
                "score": score,
            },
            f,
            indent=2,
        )
        f.write("\n")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    drift_fixtures("tests/data", "demo")
