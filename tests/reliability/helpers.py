"""What the reliability tests share: publishing versions, waiting, load in a thread, reading metrics."""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from benchmarks.openloop import Report


def publish(src: Path, model_dir: Path, version: int) -> None:
    """Copy ``src`` in under a hidden name, then rename it to the version: an atomic publish."""
    tmp = model_dir / f".tmp-{version}"
    shutil.copytree(src, tmp)
    tmp.rename(model_dir / str(version))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Seconds until ``predicate()`` held; AssertionError after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout} s")


class LoadThread(threading.Thread):
    """Runs one load coroutine (an open- or closed-loop run) on its own event loop."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Report]]) -> None:
        super().__init__(daemon=True)
        self.make = make
        self.report: Report | None = None
        self.error: BaseException | None = None
        self.started_at = 0.0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.report = asyncio.run(self.make())
        except BaseException as exc:  # handed to the test by result()
            self.error = exc

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def result(self, timeout: float) -> Report:
        self.join(timeout)
        assert not self.is_alive(), "the load did not finish"
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the Prometheus text ``text`` (labels matched exactly), or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def version_status(url: str, model: str) -> dict[str, dict[str, Any]]:
    """``GET /v1/models/MODEL``'s versions, by version string."""
    body = httpx.get(f"{url}/v1/models/{model}", timeout=10).json()
    return {s["version"]: s for s in body["model_version_status"]}
