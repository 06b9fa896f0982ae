"""``moorings serve --workers N``: one REST port, connections spread over the workers, clean shutdown."""

from __future__ import annotations

import os
import select
import signal
import socket
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


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _listening_sockets(port: int) -> int:
    """How many TCP sockets listen on ``port`` (from /proc/net/tcp: state 0A is LISTEN)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            count += 1
    return count


def _burst_of_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections opened at once (non-blocking connects), as a load generator opens them."""
    connections = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        connections.append(sock)
    for sock in connections:
        select.select([], [sock], [], 10)
        sock.setblocking(True)
        sock.settimeout(30)
    return connections


def test_connections_are_spread_over_the_workers(repo: Path) -> None:
    with running_server(repo, "--workers", "2") as server:
        workers = _children(server.process.pid)
        deadline = time.monotonic() + 60
        while server.log().count("moorings.server: REST API on") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # both workers listening
        before = [_cpu_seconds(pid) for pid in workers]
        connections = _burst_of_connections(server.rest_port, 32)
        body = b'{"instances": [[1, 2, 3, 4]]}'
        request = b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )
        for _ in range(60):
            for sock in connections:
                sock.sendall(request)
            for sock in connections:
                answer = b""
                while not answer.endswith(b"]]}"):
                    answer += sock.recv(65536)
                assert answer.startswith(b"HTTP/1.1 200"), answer
        for sock in connections:
            sock.close()
        used = [_cpu_seconds(pid) - b for pid, b in zip(workers, before, strict=True)]
        # with one socket per worker (SO_REUSEPORT) the kernel hashes connections over both
        assert min(used) > 0.1 * sum(used), used
        # the mechanism: one listening socket per worker (SO_REUSEPORT), not one shared socket, so a
        # burst of connections is not all accepted by whichever worker wakes first
        assert _listening_sockets(server.rest_port) == 2


def test_a_dead_worker_is_not_restarted_silently(repo: Path) -> None:
    with running_server(repo, "--workers", "2") as server:
        workers = _children(server.process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert server.process.wait(timeout=60) != 0
        assert _gone(workers)
        assert "exited with status -9" in server.log()
        assert "not restarted" in server.log()
