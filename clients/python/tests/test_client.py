"""The client against a real server: every public call, the errors, and the tables against the
CLI's."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import sextant

DEMO = REPO / "demo"


def fresh(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def applicants() -> pd.DataFrame:
    return pd.read_csv(DEMO / "applicants.csv")


@pytest.fixture(scope="module")
def admin(server) -> sextant.Sextant:
    return sextant.Sextant(server.url, server.token)


@pytest.fixture(scope="module")
def credit(admin, applicants) -> sextant.Project:
    """A project with the demo model, its applicants (a DataFrame) and the background rows (a
    file), predictions and path-dependent influences computed."""
    p = admin.create_project(
        fresh("credit"), task="binary", features=applicants, label="defaulted", id="applicant_id"
    )
    p.add_model("xgb", DEMO / "credit_model.json")
    p.add_data("applicants", applicants, role="test", label="defaulted")
    p.add_data("background", DEMO / "background.csv", role="background")
    p.predict("xgb", "applicants", progress=False)
    p.influences("xgb", "applicants", progress=False)
    return p


def test_connect_reads_arguments_environment_and_saved_credentials(
    server, isolated_config, monkeypatch
):
    s = sextant.connect(server.url, server.token)
    assert s.whoami()["user"]["name"] == "admin"
    monkeypatch.setenv("SEXTANT_SERVER", server.url)
    monkeypatch.setenv("SEXTANT_TOKEN", server.token)
    assert sextant.connect().url == server.url
    monkeypatch.delenv("SEXTANT_SERVER")
    monkeypatch.delenv("SEXTANT_TOKEN")
    saved = isolated_config / "sextant" / "credentials.toml"
    saved.parent.mkdir()
    saved.write_text(
        f'default = "{server.url}"\n\n[servers."{server.url}"]\ntoken = "{server.token}"\n'
    )
    assert sextant.connect().whoami()["user"]["admin"] is True


def test_bad_credentials_and_no_server_raise_their_errors(server, isolated_config):
    with pytest.raises(sextant.Unauthorized, match="not known"):
        sextant.connect(server.url, "sxt_" + "0" * 64)
    with pytest.raises(sextant.Unauthorized, match="needs credentials"):
        sextant.connect(server.url)
    with pytest.raises(sextant.Unreachable, match="cannot reach"):
        sextant.connect("http://127.0.0.1:9", "sxt_" + "0" * 64)


def test_projects_models_and_datasets(admin, credit, applicants):
    assert credit.schema["id"] == "applicant_id"
    types = {f["name"]: f["type"] for f in credit.schema["features"]}
    assert types["region"] == "categorical" and types["age"] == "numeric"
    assert "defaulted" not in types and "applicant_id" not in types
    assert credit.name in [p.name for p in admin.projects()]
    assert admin.project(credit.name).schema == credit.schema
    assert [m["name"] for m in credit.models()] == ["xgb"]
    datasets = credit.datasets()
    assert sorted(d["name"] for d in datasets) == ["applicants", "background"]
    assert {d["name"]: d["summary"]["rows"] for d in datasets}["applicants"] == len(applicants)
    assert "<table>" in credit._repr_html_() and "applicants" in datasets._repr_html_()
    assert "xgb" in credit.models()._repr_html_()


def test_feature_lists_and_mappings_make_schemas(admin):
    p = admin.create_project(fresh("listed"), task="regression", features=["a", "b"])
    assert p.schema["score_type"] == "raw"
    q = admin.create_project(fresh("mapped"), features={"a": "numeric", "c": "categorical"})
    assert [f["type"] for f in q.schema["features"]] == ["numeric", "categorical"]
    with pytest.raises(sextant.Conflict, match="already exists"):
        admin.create_project(p.name, features=["a"])
    with pytest.raises(sextant.BadRequest, match="give the features"):
        admin.create_project(fresh("none"))


def test_bad_input_raises_typed_errors_with_the_servers_message(admin, credit, applicants):
    with pytest.raises(sextant.NotFound, match='project "no-such-project" does not exist'):
        admin.project("no-such-project")
    narrow = admin.create_project(fresh("narrow"), features=["age", "income"])
    with pytest.raises(sextant.InvalidInput, match="debt_ratio"):
        narrow.add_model("xgb", DEMO / "credit_model.json")
    with pytest.raises(sextant.InvalidInput, match="income"):
        credit.add_data("partial", applicants.drop(columns=["income"]), role="test")
    with pytest.raises(sextant.InvalidInput, match="no column 'defaulted'"):
        credit.add_data("unlabelled", applicants.drop(columns=["defaulted"]), label="defaulted")
    with pytest.raises(sextant.NoResult, match="run an influences job first|interventional"):
        credit.influences_table("xgb", "applicants", method="interventional")
    with pytest.raises(sextant.BadRequest, match="XGBoost or LightGBM"):
        credit.add_model("odd", object())


def test_jobs_and_their_results(admin, credit, applicants, server, tmp_path):
    job = credit.predict("xgb", "applicants", progress=False)
    assert job.state == "succeeded" and job.cached, "answered from the stored result"
    assert job.status == "succeeded" and job.kind == "predict"
    assert job.id in [j.id for j in credit.jobs()] and job.id in [j.id for j in admin.jobs()]
    assert admin.job(job.id).state == "succeeded" and "<table>" in job._repr_html_()

    predictions = credit.predictions("xgb", "applicants")
    assert predictions.index.name == "applicant_id"
    assert list(predictions.index[:3]) == list(applicants["applicant_id"][:3])
    assert len(predictions) == len(applicants)
    assert ((predictions["prediction"] > 0) & (predictions["prediction"] < 1)).all()
    assert (predictions["label"].to_numpy() == applicants["defaulted"].to_numpy()).all()

    table = credit.influences_table("xgb", "applicants")
    features = [f["name"] for f in credit.schema["features"]]
    total = table[features].sum(axis=1) + table["base_value"]
    assert np.allclose(total, table["margin"], atol=1e-9), "influences add up to the margin"

    # The same tables and documents as the CLI's.
    path = tmp_path / "influences.parquet"
    server.cli(
        "influences",
        credit.name,
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--output",
        str(path),
    )
    cli = pd.read_parquet(path).set_index("applicant_id")
    cli.index = cli.index.astype("int64")
    pd.testing.assert_frame_equal(table, cli, check_exact=True)
    importance = credit.importance("xgb", "applicants")
    assert list(importance.columns) == ["feature", "mean_abs", "mean"]
    assert importance["mean_abs"].is_monotonic_decreasing
    mean_abs = table[features].abs().mean()
    for row in importance.itertuples():
        assert abs(row.mean_abs - mean_abs[row.feature]) < 1e-12
    metrics = credit.metrics("xgb", "applicants")
    assert 0.5 < metrics["roc_auc"] <= 1.0 and metrics["rows"] == len(applicants)


def test_interventional_influences_against_a_background(credit):
    job = credit.influences(
        "xgb",
        "applicants",
        method="interventional",
        background="background",
        rows=50,
        progress=False,
    )
    table = credit.influences_table(
        "xgb", "applicants", method="interventional", background="background", rows=50
    )
    assert len(table) == 50 and table.attrs["job"] == job.id
    # With a background and no method, jobs and queries mean interventional, as the server does.
    again = credit.influences("xgb", "applicants", background="background", rows=50, progress=False)
    assert again.cached
    importance = credit.importance("xgb", "applicants", background="background", rows=50)
    assert importance.attrs["job"] == again.id, "the newest job of that result"


def test_a_model_in_memory(admin):
    lightgbm = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["y"] = (frame["a"] + 0.5 * frame["b"] > 0).astype(int)
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4},
        lightgbm.Dataset(frame[["a", "b"]], frame["y"]),
        num_boost_round=10,
    )
    p = admin.create_project(fresh("memory"), features=frame, label="y")
    model = p.add_model("lgb", booster)
    assert model["summary"]["format"] == "lightgbm-text"
    p.add_data("train", frame, role="train", label="y")
    p.influences("lgb", "train", progress=False)
    table = p.influences_table("lgb", "train")
    assert len(table) == 400 and table.index.name == "row"
    assert list(table.index[:3]) == [0, 1, 2]


def test_roles_are_the_servers(admin, credit, server):
    made = admin._json("POST", "/api/v1/users", json={"name": fresh("viewer")})
    admin._send(
        "PUT",
        f"/api/v1/projects/{credit.name}/members/{made['user']['name']}",
        json={"role": "viewer"},
    )
    viewer = sextant.connect(server.url, made["token"])
    mine = viewer.project(credit.name)
    assert len(mine.predictions("xgb", "applicants")) == 1000
    with pytest.raises(sextant.Forbidden, match="this needs editor"):
        mine.predict("xgb", "applicants", progress=False)


def test_cancel_and_wait(slow_server, applicants):
    s = sextant.Sextant(slow_server.url, slow_server.token)
    p = s.create_project("slow", features=applicants, label="defaulted", id="applicant_id")
    p.add_model("xgb", DEMO / "credit_model.json")
    p.add_data("applicants", applicants, label="defaulted")
    job = p.influences("xgb", "applicants", wait=False)
    assert job.state in ("queued", "starting", "running")
    with pytest.raises(TimeoutError, match="still"):
        job.wait(timeout=0.5, progress=False)
    job.cancel()
    assert job.state == "cancelled" and job.status == "cancelled"
    with pytest.raises(sextant.SextantError, match="cancelled"):
        job.wait(progress=False)
    with pytest.raises(sextant.Conflict, match="already"):
        job.cancel()


def test_plots_render_and_share_figures(credit, applicants):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from sextant import plot

    influences = credit.influences_table("xgb", "applicants")
    predictions = credit.predictions("xgb", "applicants")
    features = len(credit.schema["features"])

    def png(ax) -> bytes:
        out = io.BytesIO()
        ax.figure.savefig(out, format="png")
        assert out.getvalue().startswith(b"\x89PNG")
        return out.getvalue()

    fig, (left, right) = plt.subplots(1, 2)
    assert plot.importance(credit.importance("xgb", "applicants"), ax=left) is left
    assert len(left.patches) == features
    assert plot.dependence(influences, applicants, "age", color_by="income", ax=right) is right
    assert right.collections[0].get_offsets().shape == (len(applicants), 2)
    png(left)
    ax = plot.dependence(influences, applicants, "region")
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(applicants["region"].unique())
    png(ax)
    ax = plot.beeswarm(influences, applicants, top=5)
    assert len(ax.collections) == 5 and len(ax.get_yticklabels()) == 5
    png(ax)
    ax = plot.waterfall(influences, applicants["applicant_id"][0], top=3)
    assert len(ax.patches) == 4, "3 features and the rest"
    png(ax)
    assert len(plot.waterfall(influences, applicants["applicant_id"][1]).patches) == features
    ax = plot.roc(predictions)
    assert len(ax.lines) == 2 and "AUC" in ax.get_legend().get_texts()[0].get_text()
    png(ax)
    assert len(plot.calibration(predictions, bins=5).lines) == 2
    ax = plot.confusion(predictions)
    counts = sorted(int(t.get_text()) for t in ax.texts)
    assert len(ax.images) == 1 and sum(counts) == len(applicants)
    png(ax)
    with pytest.raises(KeyError, match="no column 'nope'"):
        plot.dependence(influences, applicants, "nope")
    plt.close("all")


def test_views_reduced_for_plots(credit, applicants):
    credit.predict("xgb", "applicants", progress=False)
    credit.influences("xgb", "applicants", progress=False)
    curves = credit.curves("xgb", "applicants")
    assert set(curves) == {"roc", "precision_recall", "calibration", "thresholds"}
    half = curves["thresholds"].set_index("threshold").loc[0.5]
    metrics = credit.metrics("xgb", "applicants")
    assert [[half.tn, half.fp], [half["fn"], half.tp]] == metrics["confusion_matrix"]
    assert curves["calibration"]["rows"].sum() == len(applicants) == curves["roc"].attrs["labelled"]

    table = credit.influences_table("xgb", "applicants")
    points = credit.influence_points("xgb", "applicants", features=["age", "region"], points=50)
    assert list(points.columns) == ["row", "feature", "value", "influence"]
    assert len(points) == 100 and set(points["feature"]) == {"age", "region"}
    age = points[points["feature"] == "age"]
    ids = applicants["applicant_id"].to_numpy()[age["row"].to_numpy()]
    assert np.array_equal(age["influence"].to_numpy(), table.loc[ids, "age"].to_numpy())
    assert np.array_equal(age["value"].to_numpy(), applicants["age"].to_numpy()[age["row"]])
    region = points[points["feature"] == "region"]
    assert list(region["value"]) == list(applicants["region"].to_numpy()[region["row"]])

    row = credit.explanation("xgb", "applicants", id=42)
    assert row.attrs["row"] == 41 and row.attrs["id"] == 42
    assert abs(row["influence"].sum() + row.attrs["base_value"] - row.attrs["margin"]) < 1e-9
    assert row["influence"].abs().is_monotonic_decreasing
    features = [f["name"] for f in credit.schema["features"]]
    by_feature = row.set_index("feature")["influence"]
    assert np.array_equal(by_feature[features].to_numpy(), table.loc[42, features].to_numpy())
    with pytest.raises(sextant.SextantError, match="give row or id"):
        credit.explanation("xgb", "applicants")


def test_sampled_influences_carry_error_bars(credit, applicants):
    # A budget under exact enumeration's 2^7 x 100 evaluations, so that the values are sampled.
    job = credit.influences(
        "xgb",
        "applicants",
        method="sampled",
        background="background",
        rows=20,
        max_evals=2000,
        seed=5,
        progress=False,
    )
    assert job.spec["options"]["method"] == "sampled"
    assert job.spec["options"]["max_evals"] == 2000
    table = credit.influences_table(
        "xgb", "applicants", method="sampled", background="background", rows=20
    )
    assert "age__stderr" in table.columns and (table["age__stderr"] > 0).all()
    importance = credit.importance(
        "xgb", "applicants", method="sampled", background="background", rows=20
    )
    assert (importance["mean_abs_low"] < importance["mean_abs"]).all()
    assert (importance["mean_abs"] < importance["mean_abs_high"]).all()
    # TreeSHAP's importance has no interval.
    credit.influences("xgb", "applicants", background="background", rows=50, progress=False)
    exact = credit.importance(
        "xgb", "applicants", method="interventional", background="background", rows=50
    )
    assert "mean_abs_stderr" not in exact.columns
    # The local mode samples as the server does: the same seed gives the same table.
    model = sextant.load_model(DEMO / "credit_model.json")
    background = pd.read_csv(DEMO / "background.csv")
    local = model.explain(
        applicants.set_index("applicant_id").iloc[:20],
        method="sampled",
        background=background,
        max_evals=2000,
        seed=5,
    )
    assert list(local.columns) == [c for c in table.columns if c in local.columns]
    np.testing.assert_allclose(
        local.to_numpy(), table[local.columns].to_numpy(), rtol=0, atol=1e-12
    )
    ours = sextant.importance(local).set_index("feature")
    theirs = importance.set_index("feature").loc[ours.index, ours.columns]
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9)


def test_segments_filter_every_report(credit, applicants):
    expression = 'age >= 50 and region != "north"'
    added = credit.add_segment(fresh("older"), expression, group="age", protected=True)
    name = added["name"]
    listed = credit.segments()
    assert name in list(listed["name"])
    assert bool(listed.set_index("name").loc[name, "protected"])

    inside = (applicants["age"] >= 50) & (applicants["region"] != "north")
    ids = applicants.loc[inside, "applicant_id"].to_numpy()
    assert 50 < len(ids) < len(applicants)

    # Tables: the whole table's rows where the segment holds, value for value.
    whole = credit.predictions("xgb", "applicants")
    part = credit.predictions("xgb", "applicants", segment=name)
    assert part.attrs["segment"]["rows"] == len(ids)
    pd.testing.assert_frame_equal(part, whole.loc[ids], check_exact=True)
    table = credit.influences_table("xgb", "applicants")
    part = credit.influences_table("xgb", "applicants", segment=expression)
    pd.testing.assert_frame_equal(part, table.loc[ids], check_exact=True)

    # Documents: computed over the segment's rows.
    features = [f["name"] for f in credit.schema["features"]]
    importance = credit.importance("xgb", "applicants", segment=name)
    assert importance.attrs["segment"]["name"] == name
    mean_abs = table.loc[ids, features].abs().mean()
    for row in importance.itertuples():
        assert abs(row.mean_abs - mean_abs[row.feature]) < 1e-12
    metrics = credit.metrics("xgb", "applicants", segment=name)
    rows = whole.loc[ids]
    accuracy = ((rows["prediction"] >= 0.5) == (rows["label"] == 1)).mean()
    assert metrics["rows"] == len(ids) and abs(metrics["accuracy"] - accuracy) < 1e-12
    curves = credit.curves("xgb", "applicants", segment=name)
    assert curves["roc"].attrs["labelled"] == len(ids)
    points = credit.influence_points("xgb", "applicants", segment=name, points=5000)
    assert set(points["row"]) == set(np.flatnonzero(inside.to_numpy()))

    with pytest.raises(sextant.InvalidInput, match="position 5"):
        credit.add_segment(fresh("bad"), "age => 3")
    with pytest.raises(sextant.InvalidInput, match='unknown column "agee"'):
        credit.metrics("xgb", "applicants", segment="agee > 3 and age < 9")
    with pytest.raises(sextant.NotFound, match="no segment named"):
        credit.metrics("xgb", "applicants", segment="nosuch")
    assert credit.remove_segment(name)["expression"] == expression
    assert name not in list(credit.segments()["name"])


def test_hotspots_are_the_worst_segments_with_their_own_error_rates(credit, applicants):
    frame = credit.hotspots("xgb", "applicants", limit=5)
    assert list(frame.columns) == sextant.evaluation.HOTSPOT_COLUMNS
    assert 0 < len(frame) <= 5 and frame.attrs["metric"] == "error_rate"
    assert list(frame["excess"]) == sorted(frame["excess"], reverse=True)
    # Each hotspot's rows and error rate, from the predictions table and pandas' own query.
    table = credit.predictions("xgb", "applicants")
    wrong = (table["prediction"] >= 0.5).astype(int) != table["label"]
    data = applicants.set_index("applicant_id").loc[table.index]
    overall = wrong.mean()
    assert abs(frame.attrs["overall"] - overall) < 1e-12
    for hotspot in frame.itertuples():
        inside = data.eval(hotspot.expression).to_numpy()
        assert hotspot.rows == inside.sum() >= frame.attrs["min_size"]
        assert abs(hotspot.value - wrong[inside].mean()) < 1e-12
        assert hotspot.low < hotspot.value < hotspot.high
        assert abs(hotspot.excess - (hotspot.value - overall) * hotspot.rows) < 1e-9
    searched = frame.attrs["columns"].set_index("column")
    assert "defaulted" not in searched.index and "applicant_id" not in searched.index
    assert searched.loc["region", "kind"] == "categorical"
    by_loss = credit.hotspots("xgb", "applicants", metric="log_loss", columns=["age"], limit=2)
    assert by_loss.attrs["interval"] == "bootstrap"
    assert all("age" in e for e in by_loss["expression"])
    by_lift = credit.hotspots("xgb", "applicants", rank="lift")
    assert by_lift.attrs["rank"] == "lift"
    assert list(by_lift["lift"]) == sorted(by_lift["lift"], reverse=True)
    with pytest.raises(sextant.BadRequest, match="not a loss of a binary model"):
        credit.hotspots("xgb", "applicants", metric="squared_error")
    ax = sextant.plot.hotspots(frame)
    assert len(ax.get_yticklabels()) == len(frame)


def test_fairness_measures_the_decisions_of_each_group(credit, applicants):
    frame = credit.fairness("xgb", "applicants", 'region == "south"', threshold=0.4)
    assert list(frame.columns) == ["value", "low", "high"]
    assert (frame["low"] <= frame["value"]).all() and (frame["value"] <= frame["high"]).all()
    # The same figures from the predictions table, in pandas.
    table = credit.predictions("xgb", "applicants")
    south = (applicants.set_index("applicant_id").loc[table.index, "region"] == "south").to_numpy()
    chosen = (table["prediction"] >= 0.4).to_numpy()
    positive = (table["label"] == 1).to_numpy()

    def rates(inside):
        return {
            "selection": chosen[inside].mean(),
            "tpr": chosen[inside & positive].mean(),
            "fpr": chosen[inside & ~positive].mean(),
        }

    p, r = rates(south), rates(~south)
    parity = abs(p["selection"] - r["selection"])
    assert abs(frame.loc["demographic_parity_difference", "value"] - parity) < 1e-12
    low, high = sorted([p["selection"], r["selection"]])
    assert abs(frame.loc["demographic_parity_ratio", "value"] - low / high) < 1e-12
    odds = max(abs(p["tpr"] - r["tpr"]), abs(p["fpr"] - r["fpr"]))
    assert abs(frame.loc["equalized_odds_difference", "value"] - odds) < 1e-12
    groups = frame.attrs["groups"]
    assert groups.loc["protected", "rows"] == south.sum()
    assert abs(groups.loc["reference", "true_positive_rate"] - r["tpr"]) < 1e-12
    assert frame.attrs["four_fifths_rule_violated"] == (low / high < 0.8)
    assert frame.attrs["reference"]["expression"] == 'not (region == "south")'
    # A second group instead of the complement; rows in neither are left out.
    two = credit.fairness("xgb", "applicants", "age < 30", reference="age >= 60", seed=4)
    assert two.attrs["protected"]["rows"] + two.attrs["reference"]["rows"] < len(applicants)
    with pytest.raises(sextant.InvalidInput, match="one group only"):
        credit.fairness("xgb", "applicants", "age < 30", reference="age < 50")
    ax = sextant.plot.fairness(frame)
    assert len(ax.get_yticklabels()) == 7


def test_models_compared_side_by_side(credit):
    name = fresh("twin")
    credit.add_model(name, str(REPO / "demo" / "credit_model.json"))
    credit.predict(name, "applicants")
    frames = credit.compare(["xgb", name], "applicants", disagreements=5)
    board = frames["leaderboard"]
    assert list(board["model"]) == ["xgb", name] and list(board["rank"]) == [1, 2]
    metrics = credit.metrics("xgb", "applicants")
    assert abs(board.loc[0, "value"] - metrics["roc_auc"]) < 1e-12
    assert abs(board.loc[0, "accuracy"] - metrics["accuracy"]) < 1e-12
    # The same model twice agrees everywhere.
    pair = frames["agreement"].iloc[0]
    assert pair["decision_agreement"] == 1.0 and pair["mean_abs_difference"] == 0.0
    assert list(frames["disagreements"]["spread"]) == [0.0] * 5
    importance = frames["importance"]
    assert list(importance.columns) == ["xgb", name]
    own = credit.importance("xgb", "applicants").set_index("feature")["mean_abs"]
    assert (importance["xgb"] - own.loc[importance.index]).abs().max() < 1e-12
    assert importance[name].isna().all()
    assert any(name in note for note in board.attrs["notes"])
    with pytest.raises(sextant.BadRequest, match="not a metric"):
        credit.compare(["xgb", name], "applicants", metric="rmse")
    credit._client._json("DELETE", f"{credit._path}/models/{name}")


def test_feature_groups_sum_their_members(credit):
    name = fresh("money")
    credit.add_feature_group(name, ["income", "debt_ratio"])
    assert name in list(credit.feature_groups()["name"])
    table = credit.influences_table("xgb", "applicants")
    groups = credit.group_importance("xgb", "applicants").set_index("group")
    summed = table["income"] + table["debt_ratio"]
    assert abs(groups.loc[name, "mean_abs"] - summed.abs().mean()) < 1e-12
    assert abs(groups.loc[name, "mean"] - summed.mean()) < 1e-12
    assert groups.loc[name, "features"] == ["income", "debt_ratio"]
    over = credit.group_importance("xgb", "applicants", segment="applicant_id <= 300")
    part = summed[summed.index <= 300]
    assert over.attrs["segment"]["rows"] == len(part)
    assert abs(over.set_index("group").loc[name, "mean_abs"] - part.abs().mean()) < 1e-12
    with pytest.raises(sextant.InvalidInput, match="not a feature"):
        credit.add_feature_group(fresh("bad"), ["income", "salary"])
    credit.remove_feature_group(name)
    assert name not in list(credit.feature_groups()["name"])


def test_error_influences_add_up_to_each_rows_loss(credit, applicants):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sextant import plot

    with pytest.raises(sextant.InvalidInput, match="need a background dataset"):
        credit._run(
            {"kind": "error-influences", "model": "xgb", "dataset": "applicants"}, False, False
        )
    with pytest.raises(sextant.InvalidInput, match="squared_error does not apply"):
        credit.error_influences("xgb", "applicants", "background", loss="squared_error")
    with pytest.raises(sextant.InvalidInput, match="has no label column"):
        credit.error_influences("xgb", "background", "background")
    job = credit.error_influences("xgb", "applicants", "background", rows=100, progress=False)
    assert job.status == "succeeded" and job.spec["options"]["loss"] == "log_loss"
    table = credit.error_influences_table("xgb", "applicants", rows=100)
    predictions = credit.predictions("xgb", "applicants").loc[table.index]
    p, y = predictions["prediction"], predictions["label"]
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(table["loss"], loss, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(table["label"], y)
    features = [f["name"] for f in credit.schema["features"]]
    np.testing.assert_allclose(
        table[features].sum(axis=1) + table["base_value"], table["loss"], rtol=0, atol=1e-9
    )
    # The base value is the background's mean loss against the row's own label: one per class.
    assert table.groupby("label")["base_value"].nunique().eq(1).all()
    assert table["base_value"].nunique() == 2
    importance = credit.error_importance("xgb", "applicants", rows=100)
    assert importance.attrs["scale"] == "loss" and importance.attrs["loss"] == "log_loss"
    by_feature = importance.set_index("feature")
    np.testing.assert_allclose(by_feature.loc[features, "mean"], table[features].mean(), atol=1e-12)
    np.testing.assert_allclose(
        by_feature.loc[features, "mean_abs"], table[features].abs().mean(), atol=1e-12
    )
    east = applicants.set_index("applicant_id").loc[table.index, "region"] == "east"
    segment = credit.error_importance("xgb", "applicants", rows=100, segment='region == "east"')
    assert segment.attrs["segment"]["rows"] == east.sum()
    np.testing.assert_allclose(
        segment.set_index("feature").loc[features, "mean"],
        table.loc[east, features].mean(),
        atol=1e-12,
    )
    # Another loss over the same rows: the newest by default, either by name.
    credit.error_influences(
        "xgb", "applicants", "background", loss="brier", rows=100, progress=False
    )
    assert credit.error_importance("xgb", "applicants", rows=100).attrs["loss"] == "brier"
    again = credit.error_importance("xgb", "applicants", rows=100, loss="log_loss")
    assert again.attrs["loss"] == "log_loss" and again.attrs["job"] == importance.attrs["job"]
    squares = credit.error_influences_table("xgb", "applicants", rows=100, loss="brier")
    np.testing.assert_allclose(squares["loss"], (p - y) ** 2, rtol=0, atol=1e-12)
    ax = plot.importance(importance)
    assert ax.get_title() == "what drives the errors" and "log_loss" in ax.get_xlabel()
    ax = plot.waterfall(table, table.index[0])
    assert ax.get_xlabel().startswith("loss: base")
    plt.close("all")


def test_drift_flags_the_planted_features_and_its_contributors_add_up(credit):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sextant import plot

    credit.add_data(
        "production", REPO / "tests" / "data" / "drift" / "production.csv", role="production"
    )
    frame = credit.drift("xgb", "applicants", "production", progress=False)
    assert list(frame.index[frame["drifted"]]) == ["income", "region"]
    assert frame.attrs["drifted"] == 2 and frame.attrs["rows_current"] == 1500
    assert frame.loc["region", "new_categories"].keys() == {"central"}
    assert frame.loc["income", "psi"] >= 0.2 and frame.loc["age", "psi"] < 0.2
    parts = frame.attrs["contributors"]
    change = frame.attrs["attribution"]["change"][0]
    assert abs(parts["contribution"].sum() - change) < 1e-9
    bins = frame.attrs["bins"]["income"]
    assert abs(bins["reference"].sum() - 1.0) < 1e-12
    assert list(frame.attrs["score"].index) == ["score"]
    # A threshold changes the verdicts and computes nothing again.
    strict = credit.drift("xgb", "applicants", "production", psi=0.0, progress=False)
    assert strict["drifted"].all() and strict.loc["income", "psi"] == frame.loc["income", "psi"]
    with pytest.raises(sextant.BadRequest, match="missing must be between 0 and 1"):
        credit.drift("xgb", "applicants", "production", missing=2.0, progress=False)
    with pytest.raises(sextant.NotFound, match="nowhere"):
        credit.drift("xgb", "applicants", "nowhere", progress=False)
    assert len(plot.drift(frame).patches) == len(frame)
    regions = frame.attrs["bins"]["region"]
    assert len(plot.drift_histogram(frame, "region").patches) == 2 * len(regions) == 10
    assert len(plot.contributors(frame).patches) == len(frame)
