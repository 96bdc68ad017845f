"""Jobs: their state and progress, waiting with a progress bar, cancelling."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import errors
from ._html import table_html

if TYPE_CHECKING:
    from .client import Sextant


class Job:
    """A job: its state and progress as last read (``refresh`` reads them again)."""

    def __init__(self, client: Sextant, doc: dict[str, Any]) -> None:
        self._client = client
        self._doc = doc

    @property
    def id(self) -> str:
        """The job's id."""
        return self._doc["id"]

    @property
    def kind(self) -> str:
        """``predict`` or ``influences``."""
        return self._doc["spec"]["kind"]

    @property
    def spec(self) -> dict[str, Any]:
        """What the job computes: kind, inputs, options (with the server's defaults filled in),
        resources."""
        return self._doc["spec"]

    @property
    def state(self) -> str:
        """The state as last read: queued, starting, running, succeeded, failed, cancelled."""
        return self._doc["state"]

    @property
    def status(self) -> str:
        """The state now (read from the server)."""
        return self.refresh().state

    @property
    def reason(self) -> str | None:
        """Why the job failed or was cancelled."""
        return self._doc.get("reason")

    @property
    def progress(self) -> dict[str, Any]:
        """Phase, rows done and in all, percent, ETA, as last read."""
        return self._doc["progress"]

    @property
    def cached(self) -> bool:
        """Whether the job was answered from a stored identical result."""
        return bool(self._doc.get("cached"))

    def refresh(self) -> Job:
        """Reads the job again."""
        self._doc = self._client._json("GET", f"/api/v1/jobs/{self.id}")
        return self

    def wait(self, timeout: float | None = None, progress: bool = True) -> Job:
        """Waits until the job has finished (raising :class:`sextant.SextantError` with the
        reason if it failed or was cancelled, ``TimeoutError`` after ``timeout`` seconds),
        with a progress bar of the rows done."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=100, desc=f"{self.kind} {self.id[:8]}", unit="%")
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.refresh().state not in ("succeeded", "failed", "cancelled"):
                if bar is not None:
                    bar.n = round(self.progress.get("percent", 0.0), 1)
                    bar.refresh()
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} is still {self.state} after {timeout} s")
                time.sleep(0.2)
            if bar is not None:
                bar.n = 100 if self.state == "succeeded" else bar.n
                bar.refresh()
        finally:
            if bar is not None:
                bar.close()
        if self.state != "succeeded":
            raise errors.SextantError(f"job {self.id} {self.state}: {self.reason}")
        return self

    def cancel(self) -> Job:
        """Cancels the job (a queued one never runs, a running one's analyzer is stopped)."""
        self._doc = self._client._json("DELETE", f"/api/v1/jobs/{self.id}")
        return self

    def __repr__(self) -> str:
        return f"Job({self.id!r}, {self.kind}, {self.state})"

    def _repr_html_(self) -> str:
        p = self.progress
        return table_html(
            ["job", "kind", "state", "rows", "reason"],
            [
                [
                    self.id,
                    self.kind,
                    self.state,
                    f"{p.get('rows_done', 0)}/{p.get('rows_total', 0)}",
                    self.reason or "-",
                ]
            ],
        )
