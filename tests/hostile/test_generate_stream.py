"""Hostile clients of the streaming route, on both REST front ends (own server, uvicorn).

Bad bodies get a clear 4xx before any event; clients that open streams and
vanish at once, or mid-stream, leave no generator running: every generator
that was started is closed, and the server goes on answering.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http1.test_server import read_response
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

#: a stream that never ends; its generator logs each start and each close
LOGGED = """
import itertools
import time


class Endless:
    inputs = {{"n": {{"dtype": "int64", "shape": [-1]}}}}
    outputs = {{"count": {{"dtype": "int64", "shape": [-1]}}}}

    def stream(self, inputs):
        with open({log!r}, "a") as log:
            log.write("open\\n")
        try:
            for i in itertools.count():
                time.sleep(0.01)
                yield {{"count": inputs["n"] + i}}
        finally:
            with open({log!r}, "a") as log:
                log.write("closed\\n")
"""


@pytest.fixture(scope="module", params=["moorings", "uvicorn"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp(f"hostile-stream-{request.param}")
    log = root / "generators.log"
    folder = root / "repo" / "endless" / "1"
    folder.mkdir(parents=True)
    (folder / "model.py").write_text(LOGGED.format(log=str(log)))
    with running_server(
        root / "repo", "--allow-python-models", "--http-server", request.param, tfserving_grpc=False
    ) as running:
        yield running, log


def _post(server: RunningServer, body: bytes, path: str = "/v2/models/endless/generate_stream") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"not json", 400, b"malformed JSON"),
        (b"[1, 2]", 400, b"JSON object"),
        (b'{"n": "seven"}', 400, b"input 'n'"),
        (b'{"n": [[[[1]]]]}', 400, b"input 'n'"),
        (b'{"n": 1, "m": 2}', 400, b"unknown input(s) 'm'"),
        (b"[" * 100_000 + b"]" * 100_000, 400, b"malformed JSON"),
    ],
)
def test_bad_bodies_are_a_4xx_before_any_event(
    setup: tuple[RunningServer, Path], body: bytes, status: int, text: bytes
) -> None:
    server, _ = setup
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
        sock.sendall(_post(server, body))
        got, headers, answer = read_response(sock, bytearray())
    assert got == status, answer
    assert text in answer and headers["content-type"] == "application/json"


def test_unknown_models_and_methods(setup: tuple[RunningServer, Path]) -> None:
    server, _ = setup
    missing = httpx.post(f"{server.url}/v2/models/nothing/generate_stream", json={"n": 1}, timeout=10)
    assert missing.status_code == 404
    wrong = httpx.get(f"{server.url}/v2/models/endless/generate_stream", timeout=10)
    assert wrong.status_code == 405 and "use POST" in wrong.json()["error"]


def test_clients_that_vanish_leave_no_generator_running(setup: tuple[RunningServer, Path]) -> None:
    server, log = setup
    for i in range(20):
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as sock:
            sock.sendall(_post(server, b'{"n": 1}'))
            if i % 2:  # some leave after the first event, some at once
                while b"data:" not in sock.recv(4096):
                    pass
    time.sleep(1)  # generators run 10 ms a step: every one started has started by now
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = log.read_text().split()
        if lines.count("open") == lines.count("closed"):
            break
        time.sleep(0.1)
    assert lines.count("open") == lines.count("closed") >= 10, lines
    assert httpx.get(f"{server.url}/v2/health/ready", timeout=10).status_code == 200
