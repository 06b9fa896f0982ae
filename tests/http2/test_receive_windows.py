"""Flow control of what clients send: windows counted, renewed, and renewed only for the oldest bodies."""

from __future__ import annotations

import struct

import pytest

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error
from moorings.http2.limits import Limits
from moorings.http2.receive_windows import ReceiveWindows
from moorings.http2.stream import Stream

WINDOW = 1000


class Connection:
    """The side of a connection a stream and the windows write to: it keeps what is written."""

    closed = False
    peer_max_frame = 16384

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def send_data(self, stream: Stream) -> None:
        pass

    def finished(self, stream: Stream) -> None:
        pass

    def updates(self) -> list[tuple[int, int]]:
        """(stream id, increment) of each WINDOW_UPDATE written, and forget them."""
        out = []
        for data in self.written:
            assert data[3] == f.WINDOW_UPDATE
            out.append((struct.unpack(">I", data[5:9])[0], struct.unpack(">I", data[9:13])[0]))
        self.written.clear()
        return out


@pytest.fixture
def connection() -> Connection:
    return Connection()


def windows(connection: Connection, flowing: int = 1) -> ReceiveWindows:
    limits = Limits(stream_window=WINDOW, connection_window=70000, flowing_bodies=flowing)
    return ReceiveWindows(limits, connection.write)


def stream(connection: Connection, stream_id: int) -> Stream:
    return Stream(connection, stream_id, [], send_window=65535, recv_window=WINDOW)


def test_the_connection_window_is_raised_once_and_renewed(connection: Connection) -> None:
    w = windows(connection)
    assert w.opening_update() == f.window_update(0, 70000 - f.DEFAULT_WINDOW)
    w.connection_data(30000)
    assert connection.updates() == []
    w.connection_data(6000)  # past half of the window: renewed
    assert connection.updates() == [(0, 36000)]
    with pytest.raises(Http2Error) as error:
        w.connection_data(70001)
    assert error.value.code == f.FLOW_CONTROL_ERROR


def test_a_stream_that_overruns_its_window_is_reported(connection: Connection) -> None:
    w = windows(connection)
    s = stream(connection, 1)
    w.opened(s)
    assert w.stream_data(s, WINDOW, ended=False)
    assert connection.updates() == [(1, WINDOW)]  # the oldest body flows: renewed
    assert not w.stream_data(s, WINDOW + 1, ended=False)


def test_only_the_oldest_bodies_flow_and_the_next_one_follows(connection: Connection) -> None:
    w = windows(connection, flowing=1)
    first, second = stream(connection, 1), stream(connection, 3)
    w.opened(first)
    w.opened(second)
    assert w.stream_data(second, 600, ended=False)
    assert connection.updates() == []  # not among the oldest: it waits with its first window
    assert w.stream_data(first, 600, ended=False)
    assert connection.updates() == [(1, 600)]
    w.stopped(first)  # the oldest body arrived whole: the waiting one gets its credit
    assert connection.updates() == [(3, 600)]


def test_a_closed_connection_writes_nothing(connection: Connection) -> None:
    w = windows(connection)
    s = stream(connection, 1)
    w.opened(s)
    w.close()
    w.connection_data(60000)
    assert connection.written == []
