"""``moorings serve --workers N``: one shared REST socket, clean shutdown, no silent restarts."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support import onnx_models
from tests.support.server import running_server

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid`` that run a spawned worker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and b"spawn_main" in cmdline and fields[0] != "Z":
            found.append(int(entry))
    return found


def _gone(pids: list[int], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat[stat.rindex(")") + 2 :].split()[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    return tmp_path / "repo"


def test_workers_share_the_port_and_stop_cleanly(repo: Path) -> None:
    with running_server(repo, "--workers", "2") as server:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        for _ in range(20):  # a new connection each time: the kernel hands them to either worker
            response = httpx.post(f"{server.url}/v1/models/mlp:predict", json={"instances": [[1, 2, 3, 4]]})
            assert response.status_code == 200
            assert len(response.json()["predictions"][0]) == 3
        # ready means one worker is ready; the other may still be finishing its first load
        both = ("moorings-worker-0", "moorings-worker-1")
        deadline = time.monotonic() + 60
        while not all(name in server.log() for name in both) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(name in server.log() for name in both), server.log()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        assert _gone(workers)


def test_a_dead_worker_is_not_restarted_silently(repo: Path) -> None:
    with running_server(repo, "--workers", "2") as server:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert server.process.wait(timeout=60) != 0
        assert _gone(workers)
        assert "exited with status -9" in server.log()
        assert "not restarted" in server.log()
