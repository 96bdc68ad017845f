"""A real `sextant serve` on 127.0.0.1 for the tests: the workspace's binary (SEXTANT_BINARY, else
target/debug/sextant), a fresh data folder, the first admin's token."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


def _binary() -> str:
    return os.environ.get("SEXTANT_BINARY") or str(REPO / "target" / "debug" / "sextant")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process and what the tests need of it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="sextant-sdk-")
        self.data = Path(self.folder.name) / "data"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(self.folder.name) / "server.log", "wb")
        self.process = subprocess.Popen(
            [_binary(), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env={**os.environ, **env},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            assert self.process.poll() is None, "the server stopped"
            time.sleep(0.05)
        self.token = (self.data / "admin.token").read_text().strip()

    def cli(self, *args: str) -> str:
        """Runs the CLI against this server as its admin; returns standard output."""
        env = {
            **os.environ,
            "SEXTANT_TOKEN": self.token,
            "XDG_CONFIG_HOME": str(Path(self.folder.name) / "cli"),
        }
        done = subprocess.run(
            [_binary(), *args, "--server", self.url], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

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
    s = Server({})
    yield s
    s.stop()


@pytest.fixture(scope="session")
def slow_server() -> Iterator[Server]:
    """A server whose analyzers work slowly on purpose (its test hook), for cancels and waits."""
    s = Server({"SEXTANT_ANALYZER_FAULT": "slow"})
    yield s
    s.stop()


@pytest.fixture()
def isolated_config(tmp_path, monkeypatch) -> Path:
    """No saved credentials and no SEXTANT_* variables but those a test sets."""
    for name in ("SEXTANT_SERVER", "SEXTANT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path
