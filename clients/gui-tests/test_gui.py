"""The web GUI in a real browser: sign in, create a project, upload the demo, run jobs and watch
them finish, every plot of the model page drawn, the report and the comparison, and what
viewers and strangers may not see or do."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from conftest import REPO, Server, new_browser, screenshot

DEMO = REPO / "demo"
FEATURES = "age, income, debt_ratio, credit_lines, late_payments, months_employed, region:categorical"
PROJECT = "credit"
MODEL_PAGE = f"/ui/projects/{PROJECT}/models/xgb?dataset=applicants"


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    """Waits until `check()` is truthy; fails naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def sign_in(driver: WebDriver, server: Server, user: str, password: str) -> None:
    driver.get(f"{server.url}/ui/signin")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "section.signin button[type=submit]").click()
    wait_for("the projects page", lambda: driver.current_url.endswith("/ui/projects"))


def wait_drawn(driver: WebDriver, what: str) -> None:
    """Waits until the page's script has drawn every plot."""
    wait_for(what, lambda: driver.execute_script("return document.body.dataset.plotsDrawn"))


def run_jobs(server: Server, project: str, model: str, dataset: str) -> None:
    """Runs a predict and an influences job through the API and waits for both."""
    for kind in ("predict", "influences"):
        job = server.api(
            "POST", f"/api/v1/projects/{project}/jobs", {"kind": kind, "model": model, "dataset": dataset}
        )
        assert isinstance(job, dict)
        wait_for(f"{project}'s {kind} job", lambda job=job: _state(server, job["id"]) == "succeeded")


def console_errors(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def upload(driver: WebDriver, kind: str, name: str, path: Path, role: str | None = None) -> None:
    driver.find_element(By.ID, f"{kind}-name").send_keys(name)
    if role:
        Select(driver.find_element(By.ID, f"{kind}-role")).select_by_value(role)
    driver.find_element(By.ID, f"{kind}-file").send_keys(str(path))
    driver.find_element(By.ID, f"{kind}-file").find_element(By.XPATH, "./ancestor::form").submit()
    wait_for(f"the {kind} {name} listed", lambda: name in driver.find_element(By.TAG_NAME, "main").text)


def run_job(driver: WebDriver, kind: str, background: str = "") -> None:
    Select(driver.find_element(By.ID, "job-kind")).select_by_value(kind)
    Select(driver.find_element(By.ID, "job-background")).select_by_value(background)
    driver.find_element(By.ID, "job-kind").find_element(By.XPATH, "./ancestor::form").submit()


def plot(driver: WebDriver, plot_id: str) -> dict[str, int]:
    """What a plot's SVG holds: its traces and its scatter points."""
    counts: dict[str, int] = driver.execute_script(
        """const e = document.getElementById(arguments[0]);
        return {traces: e.querySelectorAll('g.trace').length,
                points: e.querySelectorAll('path.point').length,
                bars: e.querySelectorAll('g.point').length,
                heatmaps: e.querySelectorAll('g.hm image, g.hm').length,
                drawn: Number(e.dataset.drawn || 0)};""",
        plot_id,
    )
    return counts


@pytest.fixture(scope="module")
def admin_password(server: Server) -> str:
    password = "correct horse battery staple"
    server.api("PATCH", "/api/v1/users/admin", {"password": password})
    return password


def test_a_project_from_sign_in_to_results(server: Server, admin_password: str) -> None:
    driver = new_browser()
    try:
        driver.get(f"{server.url}/ui/projects")
        wait_for("the sign-in page", lambda: "/ui/signin" in driver.current_url)
        screenshot(driver, "signin")
        sign_in(driver, server, "admin", admin_password)

        driver.find_element(By.ID, "name").send_keys(PROJECT)
        driver.find_element(By.ID, "features").send_keys(FEATURES)
        driver.find_element(By.ID, "label").send_keys("defaulted")
        driver.find_element(By.ID, "id").send_keys("applicant_id")
        driver.find_element(By.ID, "name").find_element(By.XPATH, "./ancestor::form").submit()
        wait_for("the project page", lambda: driver.current_url.endswith(f"/ui/projects/{PROJECT}"))

        upload(driver, "model", "xgb", DEMO / "credit_model.json")
        upload(driver, "dataset", "applicants", DEMO / "applicants.csv", "test")
        upload(driver, "dataset", "background", DEMO / "background.csv", "background")

        run_job(driver, "predict")
        wait_for("the prediction job", lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-job]"))
        run_job(driver, "influences")
        # The page is not reloaded: the marker set now survives only if the progress comes
        # through the event stream.
        driver.execute_script("window.sextantMarker = 1;")
        rows = driver.find_elements(By.CSS_SELECTOR, "tr[data-job]")
        assert len(rows) == 2
        for row in rows:
            wait_for(
                "a job at 100 %",
                lambda row=row: row.find_element(By.CSS_SELECTOR, "span.state").text == "succeeded"
                and row.find_element(By.CSS_SELECTOR, ".percent").text == "100 %"
                and row.find_element(By.TAG_NAME, "progress").get_attribute("value") == "100",
            )
        assert driver.execute_script("return window.sextantMarker") == 1
        screenshot(driver, "project", full=True)
        assert console_errors(driver) == []

        started = time.monotonic()
        driver.get(server.url + MODEL_PAGE)
        wait_drawn(driver, "every plot drawn")
        print(f"model page drawn in {time.monotonic() - started:.2f} s")
        assert plot(driver, "plot-roc")["traces"] == 2
        assert plot(driver, "plot-pr")["traces"] == 1
        calibration = plot(driver, "plot-calibration")
        assert calibration["traces"] == 2 and calibration["points"] >= 5
        assert plot(driver, "plot-confusion")["drawn"] == 1
        importance = plot(driver, "plot-importance")
        assert importance["traces"] == 1 and importance["bars"] == 7
        beeswarm = plot(driver, "plot-beeswarm")
        assert beeswarm["traces"] == 1 and beeswarm["points"] == 7 * 500
        assert plot(driver, "plot-dependence")["points"] == 500
        assert plot(driver, "plot-waterfall")["traces"] == 1
        assert console_errors(driver) == []
        screenshot(driver, "model", full=True)

        # The threshold moves the confusion matrix: at 0 every row is called positive.
        slider = driver.find_element(By.ID, "threshold")
        driver.execute_script(
            "arguments[0].value = 0; arguments[0].dispatchEvent(new Event('input'));", slider
        )
        wait_for("the threshold shown", lambda: driver.find_element(By.ID, "threshold-value").text == "0.00")
        cells = driver.execute_script("return document.getElementById('plot-confusion').data[0].z;")
        assert cells[0][0] == 0 and cells[1][0] == 0 and sum(map(sum, cells)) == 1000

        # Another feature: 1,000 rows of it from the API.
        Select(driver.find_element(By.ID, "dep-feature")).select_by_visible_text("age")
        wait_for("age's dependence", lambda: plot(driver, "plot-dependence")["points"] == 1000)
        assert "age" in driver.find_element(By.ID, "plot-dependence").text

        # One row by its id: the waterfall names it.
        driver.find_element(By.ID, "wf-id").send_keys("42")
        driver.find_element(By.ID, "waterfall-form").submit()
        wait_for(
            "row 41 explained",
            lambda: "row 41 (id 42)" in driver.find_element(By.ID, "plot-waterfall").text,
        )

        driver.get(f"{server.url}/ui/projects/{PROJECT}/models/xgb/table?kind=influences&dataset=applicants")
        header = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "table.results th")]
        assert header[:3] == ["row", "applicant_id", "age"], header
        assert len(driver.find_elements(By.CSS_SELECTOR, "table.results tbody tr")) == 50
        driver.find_element(By.XPATH, "//button[text()='margin']").click()
        margins = [
            float(td.get_attribute("data-value"))
            for td in driver.find_elements(By.CSS_SELECTOR, "table.results tbody td:last-child")
        ]
        assert margins == sorted(margins, reverse=True)
        screenshot(driver, "table")

        driver.get(f"{server.url}/ui/projects/{PROJECT}/models/xgb/report?dataset=applicants")
        wait_drawn(driver, "the report's plots")
        text = driver.find_element(By.TAG_NAME, "main").text
        for part in ("Provenance", "sha256", "Top features", "debt_ratio", "ROC AUC", "+algo."):
            assert part in text, part
        screenshot(driver, "report", full=True)
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_models_compared(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    base = f"/api/v1/projects/{PROJECT}"
    model = server.api("GET", f"{base}/models/xgb")
    assert isinstance(model, dict)
    # A second model: the demo model re-uploaded is enough to compare side by side.
    _upload(server, f"{base}/models", {"name": "xgb-copy"}, DEMO / "credit_model.json")
    run_jobs(server, PROJECT, "xgb-copy", "applicants")
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/{PROJECT}/compare?dataset=applicants")
        wait_drawn(driver, "the comparison drawn")
        assert plot(driver, "plot-compare-importance")["traces"] == 2
        header = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "table.compare thead th")]
        assert header == ["metric", "xgb", "xgb-copy"], header
        auc = driver.find_element(By.XPATH, "//table[contains(@class,'compare')]//tr[th='ROC AUC']")
        assert auc.text.split()[-2:] == ["0.8811", "0.8811"], auc.text
        # The leaderboard, agreement and disagreements, as the API answers them.
        board = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
        assert [r.text.split()[:2] for r in board] == [["1", "xgb"], ["2", "xgb-copy"]], [
            r.text for r in board
        ]
        assert board[0].text.split()[-1] == "0.8811", board[0].text
        pair = driver.find_element(By.CSS_SELECTOR, "#agreement tbody tr").text
        assert pair.startswith("xgb · xgb-copy 1 1 0"), pair
        spreads = driver.find_elements(By.CSS_SELECTOR, "#disagreements tbody tr td:last-child")
        assert len(spreads) == 20 and {td.text for td in spreads} == {"0"}
        screenshot(driver, "compare", full=True)
        Select(driver.find_element(By.ID, "metric")).select_by_visible_text("log_loss")
        driver.find_element(By.ID, "leaderboard-form").submit()
        wait_for("the board by log loss", lambda: "metric=log_loss" in driver.current_url)
        heading = driver.find_element(By.CSS_SELECTOR, "#leaderboard thead").text
        assert "log_loss (lower is better)" in heading, heading
        assert console_errors(driver) == []

        # Deleting the copy from the project page asks first; declined, nothing changes.
        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        delete = "form.delete[action$='/models/xgb-copy/delete'] button"
        driver.find_element(By.CSS_SELECTOR, delete).click()
        alert = driver.switch_to.alert
        assert "Delete model xgb-copy" in alert.text
        alert.dismiss()
        assert driver.find_elements(By.CSS_SELECTOR, delete)
        driver.find_element(By.CSS_SELECTOR, delete).click()
        driver.switch_to.alert.accept()
        wait_for("the copy gone", lambda: not driver.find_elements(By.CSS_SELECTOR, delete))
        models = server.api("GET", f"{base}/models")
        assert isinstance(models, list) and [m["name"] for m in models] == ["xgb"]
    finally:
        driver.quit()


def test_segments_added_and_every_report_shown_over_one(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        driver.find_element(By.ID, "segment-name").send_keys("young")
        driver.find_element(By.ID, "segment-expression").send_keys('age < 30 and region != "north"')
        driver.find_element(By.ID, "segment-group").send_keys("age")
        driver.find_element(By.ID, "segment-protected").click()
        driver.find_element(By.ID, "segment-form").submit()
        listed = lambda: "young" in driver.find_element(By.CSS_SELECTOR, "section.segments").text  # noqa: E731
        wait_for("the segment listed", listed)
        row = driver.find_element(By.XPATH, "//section[contains(@class,'segments')]//tr[td='young']")
        assert 'age < 30 and region != "north"' in row.text and "yes" in row.text, row.text

        # A mistake comes back on the page, naming the column; nothing is added.
        driver.find_element(By.ID, "segment-name").send_keys("typo")
        driver.find_element(By.ID, "segment-expression").send_keys("agee < 30")
        driver.find_element(By.ID, "segment-form").submit()
        message = wait_for("the error", lambda: driver.find_elements(By.CSS_SELECTOR, "p.error"))[0].text
        assert 'unknown column "agee"' in message and "position 1" in message, message
        # The browser logs the refusal (422) as an error of its own; that one is expected.
        assert all("422" in e for e in console_errors(driver))
        segments = server.api("GET", f"/api/v1/projects/{PROJECT}/segments")
        assert isinstance(segments, list) and [x["name"] for x in segments] == ["young"]

        # The model page over the segment: its metrics, plots and the line that says so.
        asked = f"/api/v1/projects/{PROJECT}/models/xgb/metrics?dataset=applicants&segment=young"
        metrics = server.api("GET", asked)
        assert isinstance(metrics, dict)
        rows = metrics["result"]["rows"]
        assert 20 < rows < 1000
        driver.get(server.url + MODEL_PAGE + "&segment=young")
        wait_drawn(driver, "the plots over the segment")
        line = driver.find_element(By.CSS_SELECTOR, "p.segment").text
        assert "young" in line and f"{rows:,} of 1,000 rows" in line, line
        shown = driver.find_element(By.XPATH, "//table[contains(@class,'metrics')]//tr[th='rows']/td").text
        assert shown == f"{rows:,}", shown
        heading = driver.find_element(By.XPATH, "//h2[starts-with(normalize-space(.), 'Influences')]").text
        assert f"{rows:,} rows" in heading, heading
        assert plot(driver, "plot-roc")["traces"] >= 1 and plot(driver, "plot-beeswarm")["points"] > 0
        screenshot(driver, "segment", full=True)

        # An expression typed in the form wins over the segment chosen.
        Select(driver.find_element(By.ID, "segment")).select_by_value("")
        driver.find_element(By.ID, "expression").send_keys("region == 'west'")
        driver.find_element(By.ID, "expression").find_element(By.XPATH, "./ancestor::form").submit()
        wait_for("the page over the expression", lambda: "expression=" in driver.current_url)
        wait_drawn(driver, "the plots over the expression")
        line = driver.find_element(By.CSS_SELECTOR, "p.segment").text
        assert "region == 'west'" in line and "236 of 1,000 rows" in line, line
        driver.find_element(By.LINK_TEXT, "Prediction table").click()
        wait_for("the segment's table", lambda: "/table" in driver.current_url)
        assert "236 of 1,000 rows" in driver.find_element(By.CSS_SELECTOR, "p.segment").text
        assert console_errors(driver) == []

        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        remove = "form.delete[action$='/segments/young/delete'] button"
        driver.find_element(By.CSS_SELECTOR, remove).click()
        assert "Remove segment young" in driver.switch_to.alert.text
        driver.switch_to.alert.accept()
        wait_for("the segment gone", lambda: not driver.find_elements(By.CSS_SELECTOR, remove))
    finally:
        driver.quit()


def test_feature_groups_added_and_their_importance_shown(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        driver.find_element(By.ID, "group-name").send_keys("money")
        driver.find_element(By.ID, "group-features").send_keys("income, debt_ratio")
        driver.find_element(By.ID, "group-form").submit()
        listed = lambda: "money" in driver.find_element(By.CSS_SELECTOR, "section.groups").text  # noqa: E731
        wait_for("the group listed", listed)
        driver.find_element(By.ID, "group-name").send_keys("bad")
        driver.find_element(By.ID, "group-features").send_keys("income, salary")
        driver.find_element(By.ID, "group-form").submit()
        message = wait_for("the error", lambda: driver.find_elements(By.CSS_SELECTOR, "p.error"))[0].text
        assert '"salary" is not a feature' in message, message
        assert all("422" in e for e in console_errors(driver))

        asked = f"/api/v1/projects/{PROJECT}/models/xgb/importance?dataset=applicants&groups=true"
        report = server.api("GET", asked)
        assert isinstance(report, dict)
        money = report["groups"][0]
        driver.get(server.url + MODEL_PAGE)
        wait_drawn(driver, "the model page")
        row = driver.find_element(By.XPATH, "//table[contains(@class,'groups')]//tr[td='money']")
        shown = float(row.find_elements(By.TAG_NAME, "td")[1].text)
        assert abs(shown - money["mean_abs"]) <= 1e-3 * max(1.0, money["mean_abs"]), row.text
        assert "income, debt_ratio" in row.text, row.text
        assert console_errors(driver) == []

        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        remove = "form.delete[action$='/feature-groups/money/delete'] button"
        driver.find_element(By.CSS_SELECTOR, remove).click()
        driver.switch_to.alert.accept()
        wait_for("the group gone", lambda: not driver.find_elements(By.CSS_SELECTOR, remove))
    finally:
        driver.quit()


def test_fairness_between_a_protected_segment_and_the_rest(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    segment = {"name": "south", "expression": 'region == "south"', "protected": True}
    server.api("POST", f"/api/v1/projects/{PROJECT}/segments", segment)
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(server.url + MODEL_PAGE)
        driver.find_element(By.LINK_TEXT, "Fairness").click()
        # The first protected segment is chosen, against every other row.
        verdict = wait_for("the verdict", lambda: driver.find_elements(By.ID, "four-fifths"))[0]
        asked = f"/api/v1/projects/{PROJECT}/models/xgb/fairness?dataset=applicants&protected=south"
        report = server.api("GET", asked)
        assert isinstance(report, dict)
        ratio = report["demographic_parity_ratio"]["value"]
        assert ("violated" in verdict.text) == (ratio < 0.8), verdict.text
        assert f"{ratio:.4f}" in verdict.text, verdict.text
        groups = driver.find_element(By.CSS_SELECTOR, "p.groups").text
        rows = report["protected"]["rows"]
        assert f"{rows:,} of 1,000 rows" in groups and 'not (region == "south")' in groups, groups
        measures = driver.find_element(By.ID, "fairness-measures")
        for name in ["demographic_parity_difference", "equalized_odds_ratio"]:
            row = measures.find_element(By.XPATH, f".//tr[td/code='{name}']")
            shown = float(row.find_elements(By.TAG_NAME, "td")[1].text)
            assert abs(shown - report[name]["value"]) < 1e-3, row.text
            low, high = (float(x) for x in row.find_elements(By.TAG_NAME, "td")[2].text.split(" – "))
            assert abs(low - report[name]["low"]) < 1e-3 and abs(high - report[name]["high"]) < 1e-3
        selected = driver.find_element(By.XPATH, "//table[@id='fairness-groups']//tr[th='protected']")
        assert f"{report['groups']['protected']['selected']:,}" in selected.text, selected.text
        chart = driver.find_element(By.ID, "fairness-chart")
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle.value")) == 7
        screenshot(driver, "fairness", full=True)

        # Two groups typed as expressions, at another threshold.
        driver.find_element(By.ID, "protected-expression").send_keys("age < 30")
        driver.find_element(By.ID, "reference-expression").send_keys("age >= 60")
        driver.find_element(By.ID, "threshold").send_keys("0.3")
        driver.find_element(By.ID, "fairness-form").submit()
        wait_for("the page over the expressions", lambda: "protected_expression=" in driver.current_url)
        asked = (
            f"/api/v1/projects/{PROJECT}/models/xgb/fairness?dataset=applicants"
            "&protected=age%20%3C%2030&reference=age%20%3E%3D%2060&threshold=0.3"
        )
        report = server.api("GET", asked)
        assert isinstance(report, dict)
        groups = driver.find_element(By.CSS_SELECTOR, "p.groups").text
        assert f"{report['reference']['rows']:,} of 1,000 rows" in groups, groups
        ratio_row = "//table[@id='fairness-measures']//tr[td/code='demographic_parity_ratio']"
        shown = float(driver.find_element(By.XPATH, ratio_row).find_elements(By.TAG_NAME, "td")[1].text)
        assert abs(shown - report["demographic_parity_ratio"]["value"]) < 1e-3

        # Groups that overlap are refused beside the form.
        driver.find_element(By.ID, "reference-expression").clear()
        driver.find_element(By.ID, "reference-expression").send_keys("age < 40")
        driver.find_element(By.ID, "fairness-form").submit()
        message = wait_for("the error", lambda: driver.find_elements(By.CSS_SELECTOR, "p.error"))[0].text
        assert "a row must be in one group only" in message, message
        assert console_errors(driver) == []
    finally:
        driver.quit()
        server.api("DELETE", f"/api/v1/projects/{PROJECT}/segments/south")


def test_hotspots_found_and_one_saved_as_a_segment(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(server.url + MODEL_PAGE)
        driver.find_element(By.LINK_TEXT, "Hotspots").click()
        table = wait_for("the hotspots", lambda: driver.find_elements(By.ID, "hotspots"))[0]
        report = server.api("GET", f"/api/v1/projects/{PROJECT}/models/xgb/hotspots?dataset=applicants")
        assert isinstance(report, dict)
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == len(report["hotspots"]) > 0
        first, shown = report["hotspots"][0], rows[0].find_elements(By.TAG_NAME, "td")
        assert shown[1].text == first["expression"], shown[1].text
        assert shown[2].text == f"{first['rows']:,}"
        assert abs(float(shown[4].text) - first["value"]) < 1e-3
        low, high = (float(x) for x in shown[5].text.split(" – "))
        assert abs(low - first["low"]) < 1e-3 and abs(high - first["high"]) < 1e-3
        meta = driver.find_element(By.CSS_SELECTOR, "p.meta").text
        assert "error rate over 1,000 labelled rows" in meta and "Clopper" in meta, meta
        chart = driver.find_element(By.ID, "hotspot-chart")
        assert len(chart.find_elements(By.CSS_SELECTOR, "circle.value")) == len(rows)
        screenshot(driver, "hotspots", full=True)

        # Another loss, ranked by lift, and a larger minimum size.
        Select(driver.find_element(By.ID, "metric")).select_by_value("log_loss")
        Select(driver.find_element(By.ID, "rank")).select_by_value("lift")
        driver.find_element(By.ID, "min-size").send_keys("150")
        driver.find_element(By.ID, "hotspot-form").submit()
        wait_for("the page by log loss", lambda: "metric=log_loss" in driver.current_url)
        meta = driver.find_element(By.CSS_SELECTOR, "p.meta").text
        assert "log loss" in meta and "bootstrap" in meta, meta
        assert "Ranked by lift" in driver.find_element(By.ID, "ranking").text
        lifts = [
            float(row.find_elements(By.TAG_NAME, "td")[6].text)
            for row in driver.find_elements(By.CSS_SELECTOR, "#hotspots tbody tr")
        ]
        assert lifts == sorted(lifts, reverse=True), lifts
        for row in driver.find_elements(By.CSS_SELECTOR, "#hotspots tbody tr"):
            assert int(row.find_elements(By.TAG_NAME, "td")[2].text.replace(",", "")) >= 150

        # The first hotspot saved as a segment lands on the project page.
        save = driver.find_element(By.CSS_SELECTOR, "#hotspots tbody tr form.save")
        expression = save.find_element(By.NAME, "expression").get_attribute("value")
        save.find_element(By.NAME, "name").send_keys("worst")
        save.submit()
        wait_for("the project page", lambda: driver.find_elements(By.CSS_SELECTOR, "section.segments"))
        saved = server.api("GET", f"/api/v1/projects/{PROJECT}/segments/worst")
        assert isinstance(saved, dict) and saved["expression"] == expression

        # A loss of another task is refused beside the form.
        driver.get(
            f"{server.url}/ui/projects/{PROJECT}/models/xgb/hotspots?dataset=applicants&metric=squared_error"
        )
        message = wait_for("the error", lambda: driver.find_elements(By.CSS_SELECTOR, "p.error"))[0].text
        assert "not a loss of a binary model" in message, message
        assert console_errors(driver) == []
    finally:
        driver.quit()
        server.api("DELETE", f"/api/v1/projects/{PROJECT}/segments/worst")


def test_error_influences_run_and_what_drives_the_errors_shown(server: Server, admin_password: str) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    driver = new_browser()
    api = f"/api/v1/projects/{PROJECT}/models/xgb/error-importance?dataset=applicants"
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(server.url + MODEL_PAGE)
        driver.find_element(By.LINK_TEXT, "Error influences").click()
        form = wait_for("the form", lambda: driver.find_elements(By.ID, "error-job"))[0]
        assert "run an error-influences job first" in driver.find_element(By.CSS_SELECTOR, "p.note").text
        Select(form.find_element(By.ID, "error-background")).select_by_visible_text("background")
        Select(form.find_element(By.ID, "error-loss")).select_by_value("log_loss")
        form.submit()
        wait_for("the project page", lambda: driver.current_url.endswith(f"/ui/projects/{PROJECT}"))
        jobs = server.api("GET", f"/api/v1/projects/{PROJECT}/jobs")
        assert isinstance(jobs, list)
        job = next(j for j in jobs if j["spec"]["kind"] == "error-influences")
        assert job["spec"]["options"]["loss"] == "log_loss"
        wait_for("the job", lambda: _state(server, job["id"]) == "succeeded", seconds=180)

        driver.get(f"{server.url}/ui/projects/{PROJECT}/models/xgb/errors?dataset=applicants")
        table = wait_for("the importance", lambda: driver.find_elements(By.ID, "error-importance"))[0]
        report = server.api("GET", api)
        assert isinstance(report, dict)
        features = report["result"]["features"]
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == len(features) == 7
        for row, feature in zip(rows, features, strict=True):
            cells = row.find_elements(By.TAG_NAME, "td")
            assert cells[0].text == feature["feature"]
            assert abs(float(cells[1].text) - feature["mean"]) < 1e-6
        meta = driver.find_element(By.CSS_SELECTOR, "p.meta").text
        assert "log loss" in meta and "1,000 labelled rows" in meta and "background" in meta, meta
        bars = driver.find_elements(By.CSS_SELECTOR, "#error-chart rect.bar")
        assert len(bars) == 7
        raising = [b for b in bars if b.get_attribute("fill") == "#d62728"]
        assert len(raising) == sum(1 for f in features if f["mean"] > 0)
        screenshot(driver, "errors", full=True)

        # Over a segment: the rows and figures the API gives for it.
        driver.find_element(By.ID, "segment").send_keys('region == "east"')
        driver.find_element(By.ID, "error-form").submit()
        wait_for("the segment", lambda: "segment=" in driver.current_url)
        scoped = server.api("GET", api + "&segment=region%20%3D%3D%20%22east%22")
        assert isinstance(scoped, dict)
        first = driver.find_elements(By.CSS_SELECTOR, "#error-importance tbody tr")[0]
        cells = first.find_elements(By.TAG_NAME, "td")
        assert cells[0].text == scoped["result"]["features"][0]["feature"]
        assert (
            f"{scoped['result']['rows']:,} labelled rows"
            in driver.find_element(By.CSS_SELECTOR, "p.meta").text
        )

        # Every row's values, with each row's loss.
        driver.find_element(By.ID, "error-table").click()
        header = wait_for("the table", lambda: driver.find_elements(By.CSS_SELECTOR, "table.results thead"))[
            0
        ]
        columns = header.text.split()
        assert "loss" in columns and "base_value" in columns and "age__stderr" in columns, columns
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_drift_computed_and_its_verdicts_histograms_and_contributors_shown(
    server: Server, admin_password: str
) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    driver = new_browser()
    api = f"/api/v1/projects/{PROJECT}/models/xgb/drift?reference=applicants&dataset=production"
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        upload(
            driver,
            "dataset",
            "production",
            REPO / "tests" / "data" / "drift" / "production.csv",
            "production",
        )
        driver.get(server.url + MODEL_PAGE)
        driver.find_element(By.LINK_TEXT, "Drift").click()
        form = wait_for("the form", lambda: driver.find_elements(By.ID, "drift-job"))[0]
        assert "run a drift job first" in driver.find_element(By.CSS_SELECTOR, "p.note").text
        assert Select(driver.find_element(By.ID, "reference")).first_selected_option.text == "applicants"
        assert Select(driver.find_element(By.ID, "dataset")).first_selected_option.text == "production"
        form.submit()
        wait_for("the project page", lambda: driver.current_url.endswith(f"/ui/projects/{PROJECT}"))
        jobs = server.api("GET", f"/api/v1/projects/{PROJECT}/jobs")
        assert isinstance(jobs, list)
        job = next(j for j in jobs if j["spec"]["kind"] == "drift")
        wait_for("the job", lambda: _state(server, job["id"]) == "succeeded", seconds=180)

        driver.get(
            f"{server.url}/ui/projects/{PROJECT}/models/xgb/drift?reference=applicants&dataset=production"
        )
        table = wait_for("the features", lambda: driver.find_elements(By.ID, "drift-features"))[0]
        report = server.api("GET", api)
        assert isinstance(report, dict)
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == len(report["features"]) == 7
        for row, feature in zip(rows, report["features"], strict=True):
            cells = row.find_elements(By.TAG_NAME, "td")
            assert cells[0].text == feature["feature"]
            assert abs(float(cells[1].text) - feature["psi"]) <= 1e-3 * max(1.0, feature["psi"])
            assert ("drifted" in (row.get_attribute("class") or "")) == feature["drifted"]
        drifted = [
            r.find_element(By.TAG_NAME, "a").text for r in table.find_elements(By.CSS_SELECTOR, "tr.drifted")
        ]
        assert drifted == ["income", "region"]
        assert "2 of 7 features drifted" in driver.find_element(By.ID, "drift-summary").text
        assert "central" in rows[6].text
        # The histogram of the largest PSI first (region), then of a feature chosen.
        assert driver.find_element(By.CSS_SELECTOR, "section h2").text == "Histogram of region"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#drift-histogram rect.current")) == 5
        bars = driver.find_elements(By.CSS_SELECTOR, "#drift-contributors rect.bar")
        assert len(bars) == 7
        screenshot(driver, "drift", full=True)
        table.find_element(By.LINK_TEXT, "age").click()
        wait_for("age's histogram", lambda: "feature=age" in driver.current_url)
        assert driver.find_element(By.CSS_SELECTOR, "section h2").text == "Histogram of age"
        assert len(driver.find_elements(By.CSS_SELECTOR, "#drift-histogram rect.reference")) == 10

        # A stricter threshold: every feature drifts, nothing is computed again.
        driver.find_element(By.ID, "psi").send_keys("0")
        driver.find_element(By.ID, "drift-form").submit()
        wait_for("the threshold", lambda: "psi=0" in driver.current_url)
        assert "7 of 7 features drifted" in driver.find_element(By.ID, "drift-summary").text
        jobs = server.api("GET", f"/api/v1/projects/{PROJECT}/jobs")
        assert isinstance(jobs, list)
        assert sum(1 for j in jobs if j["spec"]["kind"] == "drift") == 1
        assert console_errors(driver) == []
    finally:
        driver.quit()


def _has_results(server: Server) -> bool:
    try:
        jobs = server.api("GET", f"/api/v1/projects/{PROJECT}/jobs")
    except urllib.error.HTTPError:
        return False
    return isinstance(jobs, list) and any(j["state"] == "succeeded" for j in jobs)


def _state(server: Server, job: str) -> str:
    answer = server.api("GET", f"/api/v1/jobs/{job}")
    assert isinstance(answer, dict)
    return str(answer["state"])


def test_viewers_see_no_forms_and_strangers_no_project(server: Server) -> None:
    wait_for("the first test's project", lambda: _has_results(server))
    server.user("vera", "viewer password 1")
    server.user("sam", "stranger password 1")
    server.api("PUT", f"/api/v1/projects/{PROJECT}/members/vera", {"role": "viewer"})
    driver = new_browser()
    try:
        sign_in(driver, server, "vera", "viewer password 1")
        driver.get(f"{server.url}/ui/projects/{PROJECT}")
        assert "your role: viewer" in driver.find_element(By.CSS_SELECTOR, "p.meta").text
        assert driver.find_elements(By.CSS_SELECTOR, "input[type=file]") == []
        assert driver.find_elements(By.CSS_SELECTOR, "form[action$='/jobs']") == []
        assert driver.find_elements(By.CSS_SELECTOR, "form[action$='/members']") == []
        assert driver.find_elements(By.CSS_SELECTOR, "#segment-form") == []
        assert driver.find_elements(By.CSS_SELECTOR, "#group-form") == []
        assert driver.find_elements(By.CSS_SELECTOR, "form.delete") == []
        assert driver.find_elements(By.CSS_SELECTOR, "tr[data-job]"), "a viewer sees the jobs"
        screenshot(driver, "viewer")
        driver.get(server.url + MODEL_PAGE)
        wait_drawn(driver, "the viewer's plots")
        driver.delete_all_cookies()

        sign_in(driver, server, "sam", "stranger password 1")
        assert PROJECT not in driver.find_element(By.TAG_NAME, "main").text
        for page in (
            f"/ui/projects/{PROJECT}",
            MODEL_PAGE,
            f"/ui/projects/{PROJECT}/compare?dataset=applicants",
        ):
            driver.get(server.url + page)
            message = driver.find_element(By.CSS_SELECTOR, "p.error").text
            assert "credit" in message and "does not exist" in message, message
            assert "xgb" not in driver.find_element(By.TAG_NAME, "main").text.replace(message, "")
    finally:
        driver.quit()


def test_forms_refuse_a_wrong_security_token(server: Server, admin_password: str) -> None:
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.execute_script(
            "document.querySelector(\"form[action='/ui/projects'] input[name=csrf]\").value = 'forged';"
        )
        driver.find_element(By.ID, "name").send_keys("forged-project")
        driver.find_element(By.ID, "features").send_keys("a")
        driver.find_element(By.ID, "name").find_element(By.XPATH, "./ancestor::form").submit()
        message = driver.find_element(By.CSS_SELECTOR, "p.error").text
        assert "security token" in message, message
        projects = server.api("GET", "/api/v1/projects")
        assert isinstance(projects, list)
        assert all(p["name"] != "forged-project" for p in projects)
        # The API's own message is shown for a refused change: a project that exists.
        driver.find_element(By.ID, "name").send_keys(PROJECT)
        driver.find_element(By.ID, "features").send_keys("a")
        driver.find_element(By.ID, "name").find_element(By.XPATH, "./ancestor::form").submit()
        assert PROJECT in driver.find_element(By.CSS_SELECTOR, "p.error").text
    finally:
        driver.quit()


def test_pages_carry_a_strict_content_security_policy(server: Server) -> None:
    with urllib.request.urlopen(f"{server.url}/ui/signin") as r:
        policy = r.headers["Content-Security-Policy"]
        html = r.read().decode()
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "<script>" not in html and "<script src=" in html
    with urllib.request.urlopen(f"{server.url}/ui/signin") as r:
        assert r.headers["X-Frame-Options"] == "DENY"


def _labelled(name: str, label: Callable[[list[float]], float], folder: Path) -> Path:
    """A small fixture's rows with a label `y` computed from the model's own predictions."""
    small = REPO / "tests" / "data" / "small"
    rows = (small / f"{name}.csv").read_text().splitlines()
    predictions = (small / f"{name}.pred.csv").read_text().splitlines()[1:]
    out = [rows[0] + ",y"]
    for row, prediction in zip(rows[1:], predictions, strict=True):
        out.append(f"{row},{label([float(v) for v in prediction.split(',')])}")
    path = folder / f"{name}.csv"
    path.write_text("\n".join(out) + "\n")
    return path


def _task_project(server: Server, name: str, task: dict[str, object], model: str, data: Path) -> None:
    features = [{"name": f, "type": "numeric"} for f in data.read_text().split("\n", 1)[0].split(",")[:-1]]
    schema = {"features": features, "label": "y", **task}
    server.api("POST", "/api/v1/projects", {"name": name, "schema": schema})
    _upload(
        server, f"/api/v1/projects/{name}/models", {"name": "m"}, REPO / "tests" / "data" / "small" / model
    )
    _upload(server, f"/api/v1/projects/{name}/datasets", {"name": "d", "role": "test"}, data)
    run_jobs(server, name, "m", "d")


def _upload(server: Server, path: str, fields: dict[str, str], file: Path) -> None:
    boundary = "sextant-test-boundary"
    body = b""
    for key, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n\r\n'
    ).encode()
    body += file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{server.url}{path}", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {server.token}")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        urllib.request.urlopen(request).close()
    except urllib.error.HTTPError as e:
        raise AssertionError(f"uploading {file.name}: HTTP {e.code}: {e.read().decode()}") from e


def test_regression_and_multiclass_pages(server: Server, admin_password: str, tmp_path: Path) -> None:
    regression = _labelled("xgb_poisson", lambda p: p[1] + 0.5, tmp_path)
    _task_project(
        server, "counts", {"task": "regression", "score_type": "raw"}, "xgb_poisson.json", regression
    )
    multiclass = _labelled("xgb_multiclass", lambda p: max(range(3), key=lambda k: p[3 + k]), tmp_path)
    _task_project(
        server,
        "classes",
        {"task": "multiclass", "classes": 3, "score_type": "probability"},
        "xgb_multiclass.json",
        multiclass,
    )
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/counts/models/m?dataset=d")
        wait_drawn(driver, "the regression's plots")
        residuals = plot(driver, "plot-residuals")
        assert residuals["traces"] == 2 and residuals["points"] > 0
        assert plot(driver, "plot-residual-histogram")["bars"] == 40
        assert "RMSE" in driver.find_element(By.CSS_SELECTOR, "table.metrics").text
        assert driver.find_elements(By.ID, "plot-roc") == []
        screenshot(driver, "regression", full=True)
        assert console_errors(driver) == []

        driver.get(f"{server.url}/ui/projects/classes/models/m?dataset=d")
        wait_drawn(driver, "the classifier's plots")
        cells = driver.execute_script("return document.getElementById('plot-confusion').data[0].z;")
        assert len(cells) == 3 and all(cells[a][p] == 0 for a in range(3) for p in range(3) if a != p)
        assert plot(driver, "plot-beeswarm")["traces"] > 0
        # Another class's influences: the page's points and first explanation are of class 2.
        Select(driver.find_element(By.ID, "class")).select_by_value("2")
        driver.find_element(By.ID, "class").find_element(By.XPATH, "./ancestor::form").submit()
        wait_drawn(driver, "class 2's plots")
        shown = driver.execute_script("return JSON.parse(document.getElementById('sx-model').textContent);")
        assert shown["class"] == 2 and shown["explanation"]["class"] == 2
        assert "class=2" in driver.current_url
        assert plot(driver, "plot-waterfall")["traces"] == 1
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_sampled_influences_draw_their_intervals(server: Server, admin_password: str, tmp_path: Path) -> None:
    """An ONNX MLP (20 features, so its values are sampled): run from the form with the sampled
    method, its importance bars carry 95 % intervals and its table an interval column."""
    onnx = REPO / "tests" / "data" / "onnx"
    rows = (onnx / "mlp_rows.csv").read_text().splitlines()
    scores = (onnx / "mlp_binary.pred.csv").read_text().splitlines()[1:]
    labelled = [rows[0] + ",y"] + [
        f"{r},{int(float(s) > 0.5)}" for r, s in zip(rows[1:], scores, strict=True)
    ]
    data, background = tmp_path / "scored.csv", tmp_path / "background.csv"
    data.write_text("\n".join(labelled[:41]) + "\n")
    background.write_text("\n".join(rows[:1] + rows[101:151]) + "\n")
    features = [{"name": f, "type": "numeric"} for f in rows[0].split(",")]
    schema = {"features": features, "label": "y", "task": "binary", "score_type": "probability"}
    server.api("POST", "/api/v1/projects", {"name": "mlp", "schema": schema})
    _upload(server, "/api/v1/projects/mlp/models", {"name": "net"}, onnx / "mlp_binary.onnx")
    _upload(server, "/api/v1/projects/mlp/datasets", {"name": "d", "role": "test"}, data)
    _upload(server, "/api/v1/projects/mlp/datasets", {"name": "bg", "role": "background"}, background)
    driver = new_browser()
    try:
        sign_in(driver, server, "admin", admin_password)
        driver.get(f"{server.url}/ui/projects/mlp")
        Select(driver.find_element(By.ID, "job-kind")).select_by_value("influences")
        Select(driver.find_element(By.ID, "job-dataset")).select_by_visible_text("d")
        Select(driver.find_element(By.ID, "job-background")).select_by_visible_text("bg")
        Select(driver.find_element(By.ID, "job-method")).select_by_value("sampled")
        driver.find_element(By.ID, "job-kind").find_element(By.XPATH, "./ancestor::form").submit()
        wait_for("the sampled job listed", lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-job]"))
        job = driver.find_element(By.CSS_SELECTOR, "tr[data-job]").get_attribute("data-job")
        wait_for("the sampled job", lambda: _state(server, str(job)) == "succeeded", seconds=300)

        # A binary classifier's graph gives the positive class's probability: its metrics too.
        scored = server.api(
            "POST", "/api/v1/projects/mlp/jobs", {"kind": "predict", "model": "net", "dataset": "d"}
        )
        assert isinstance(scored, dict)
        wait_for("the predict job", lambda: _state(server, scored["id"]) == "succeeded")
        driver.get(f"{server.url}/ui/projects/mlp/models/net?dataset=d&method=sampled&background=bg")
        wait_drawn(driver, "the sampled influences' plots")
        assert "sampled" in driver.find_element(By.CSS_SELECTOR, "section.influences h2").text
        bars = driver.execute_script(
            """const p = document.getElementById('plot-importance');
            return {errors: p.data[0].error_x && p.data[0].error_x.array,
                    drawn: p.querySelectorAll('g.errorbar').length};"""
        )
        assert bars["drawn"] == 20 and all(e > 0 for e in bars["errors"]), bars
        assert "AUC" in driver.find_element(By.CSS_SELECTOR, "table.metrics").text
        header = driver.find_element(By.CSS_SELECTOR, "section.influences table.list thead").text
        assert "95 % interval (sampling)" in header
        first = driver.find_element(By.CSS_SELECTOR, "section.influences table.list tbody tr").text
        assert "±" in first or "–" in first, first
        screenshot(driver, "sampled", full=True)
        assert console_errors(driver) == []
    finally:
        driver.quit()
