"""The web GUI's browser tests: a real `sextant serve` on 127.0.0.1 (SEXTANT_BINARY, else
target/debug/sextant) with a fresh data folder, and headless Chromium from Debian's packages
driven by selenium through Debian's chromedriver. Screenshots go to SEXTANT_SCREENSHOTS (default
target/gui-screenshots)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SEXTANT_SCREENSHOTS", REPO / "target" / "gui-screenshots"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process, its admin's token, and API calls as the admin."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="sextant-gui-")
        self.data = Path(self.folder.name) / "data"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(self.folder.name) / "server.log", "wb")
        binary = os.environ.get("SEXTANT_BINARY") or str(REPO / "target" / "debug" / "sextant")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while not self._ready():
            assert time.monotonic() < deadline, "the server did not become ready"
            assert self.process.poll() is None, "the server stopped"
            time.sleep(0.05)
        self.token = (self.data / "admin.token").read_text().strip()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz") as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    def api(self, method: str, path: str, body: object | None = None) -> object:
        """Calls the API as the admin; returns the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request) as r:
            text = r.read()
        return json.loads(text) if text else None

    def user(self, name: str, password: str, admin: bool = False) -> None:
        """Creates a user who signs in with `password`."""
        self.api("POST", "/api/v1/users", {"name": name, "admin": admin, "password": password})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        self.folder.cleanup()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def new_browser() -> webdriver.Chrome:
    """Headless Chromium at 1280×720, its console kept for the checks."""
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,720"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = new_browser()
    yield driver
    driver.quit()


def screenshot(driver: webdriver.Chrome, name: str, full: bool = False) -> None:
    """Saves the page as SCREENSHOTS/name.png (the whole page's height when `full`)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, max(720, int(height)))
        driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    if full:
        driver.set_window_size(1280, 720)
