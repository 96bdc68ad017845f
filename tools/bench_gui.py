"""The GUI's model page for a large result, timed in headless Chromium: tools/bench-gui.sh runs it.

Makes a project from a shared workload (lgb_cls: LightGBM, 1,000 trees, 100 features), its
explain rows repeated to ROWS rows with a label drawn from the model's own probability (seeded),
runs a predict and an influences job on a real server, then loads the model page RUNS times cold
(browser cache cleared) and RUNS times warm, and prints the median time until every plot is drawn
(from the start of navigation) and the bytes transferred (the page, its scripts and the API calls
its script makes), beside the goals.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

GOAL_SECONDS = 1.5
GOAL_BYTES = 2_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def call(self, method: str, path: str, body: bytes | None = None, kind: str = "application/json") -> object:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", kind)
        with urllib.request.urlopen(request, timeout=600) as r:
            text = r.read()
        return json.loads(text) if text else None

    def json(self, method: str, path: str, body: object) -> object:
        return self.call(method, path, json.dumps(body).encode())

    def upload(self, path: str, fields: dict[str, str], file: Path) -> None:
        boundary = "sextant-bench-boundary"
        parts = b""
        for name, value in fields.items():
            parts += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        parts += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n\r\n'
        ).encode()
        body = parts + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        self.call("POST", path, body, f"multipart/form-data; boundary={boundary}")

    def run(self, project: str, job: dict[str, object]) -> None:
        made = self.json("POST", f"/api/v1/projects/{project}/jobs", job)
        assert isinstance(made, dict)
        while True:
            state = self.call("GET", f"/api/v1/jobs/{made['id']}")
            assert isinstance(state, dict)
            if state["state"] == "succeeded":
                return
            assert state["state"] not in ("failed", "cancelled"), state
            time.sleep(0.5)


def labelled_rows(workload: Path, rows: int, out: Path) -> None:
    """The workload's explain rows repeated to `rows`, with a label `y` drawn from the model's
    probability."""
    lines = (workload / "explain.csv").read_text().splitlines()
    probabilities = [float(line.split(",")[0]) for line in (workload / "predictions.csv").read_text().splitlines()[1:]]
    body = lines[1:]
    draw = random.Random(7)
    with out.open("w") as f:
        f.write(lines[0] + ",y\n")
        for i in range(rows):
            k = i % len(body)
            f.write(f"{body[k]},{int(draw.random() < probabilities[k])}\n")


def measure(driver: webdriver.Chrome, url: str, cold: bool) -> tuple[float, int]:
    if cold:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get(url)
    deadline = time.monotonic() + 60
    while not driver.execute_script("return document.body.dataset.plotsDrawn"):
        assert time.monotonic() < deadline, "the plots were not drawn in 60 s"
        time.sleep(0.02)
    drawn_ms = float(driver.execute_script("return Number(document.body.dataset.drawnMs)"))
    transferred = int(
        driver.execute_script(
            "return performance.getEntries().filter(e => 'transferSize' in e).reduce((s, e) => s + e.transferSize, 0);"
        )
    )
    if os.environ.get("SEXTANT_BENCH_DETAIL"):
        for entry in driver.execute_script(
            "return performance.getEntries().filter(e => 'transferSize' in e)"
            ".map(e => [e.name.split('/').slice(-2).join('/').slice(0, 60), Math.round(e.startTime),"
            " Math.round(e.responseEnd), e.transferSize]);"
        ):
            print("   ", entry)
    return drawn_ms / 1000.0, transferred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--workload", required=True, type=Path)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    folder = tempfile.TemporaryDirectory(prefix="sextant-bench-gui-")
    data_dir = Path(folder.name) / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(folder.name) / "server.log", "wb")
    server = subprocess.Popen(
        [args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while not (data_dir / "admin.token").exists():
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.1)
        time.sleep(0.5)
        api = Api(url, (data_dir / "admin.token").read_text().strip())
        workload = json.loads((args.workload / "workload.json").read_text())
        categorical = set(workload.get("categorical_features", []))
        header = (args.workload / "explain.csv").read_text().split("\n", 1)[0].split(",")
        features = [{"name": f, "type": "categorical" if f in categorical else "numeric"} for f in header]
        schema = {"features": features, "label": "y", "task": "binary", "score_type": "probability"}
        api.json("POST", "/api/v1/projects", {"name": "bench", "schema": schema})
        data = Path(folder.name) / "rows.csv"
        labelled_rows(args.workload, args.rows, data)
        model_file = args.workload / workload["model_file"]
        api.upload("/api/v1/projects/bench/models", {"name": "m", "format": workload["model_format"]}, model_file)
        api.upload("/api/v1/projects/bench/datasets", {"name": "d", "role": "test"}, data)
        started = time.monotonic()
        for kind in ("predict", "influences"):
            api.run("bench", {"kind": kind, "model": "m", "dataset": "d"})
        print(f"jobs (predict, influences) on {args.rows} rows: {time.monotonic() - started:.1f} s")
        password = "bench password 1"
        api.json("PATCH", "/api/v1/users/admin", {"password": password})

        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,720"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        try:
            driver.get(f"{url}/ui/signin")
            driver.find_element(By.ID, "user").send_keys("admin")
            driver.find_element(By.ID, "password").send_keys(password)
            driver.find_element(By.CSS_SELECTOR, "section.signin button[type=submit]").click()
            page = f"{url}/ui/projects/bench/models/m?dataset=d"
            measure(driver, page, cold=False)  # the server's first reads of the tables
            cold = [measure(driver, page, cold=True) for _ in range(args.runs)]
            warm = [measure(driver, page, cold=False) for _ in range(args.runs)]
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        folder.cleanup()

    print(f"model page of {args.rows} rows x {len(header)} features, median of {args.runs} loads, headless Chromium")
    columns = ("load", "plots drawn (s)", "range (s)", "goal", "transferred (bytes)", "goal")
    widths = (-6, 16, 12, 6, 20, 10)
    print(" ".join(f"{c:<{-w}}" if w < 0 else f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for name, runs in (("cold", cold), ("warm", warm)):
        times = [r[0] for r in runs]
        seconds = statistics.median(times)
        spread = f"{min(times):.2f}-{max(times):.2f}"
        transferred = int(statistics.median(r[1] for r in runs))
        print(f"{name:<6} {seconds:>16.2f} {spread:>12} {GOAL_SECONDS:>6} {transferred:>20,} {GOAL_BYTES:>10,}")


if __name__ == "__main__":
    os.environ.setdefault("SE_AVOID_STATS", "true")
    main()
