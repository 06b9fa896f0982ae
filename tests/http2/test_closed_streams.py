"""The record of how recent streams closed stays bounded and remembers the latest closing."""

from __future__ import annotations

from moorings.http2.closed_streams import ClosedStreams, Closing


def test_only_the_latest_closings_are_kept() -> None:
    closed = ClosedStreams(3)
    for stream_id in (1, 3, 5, 7):
        closed.add(stream_id, Closing.ENDED)
    assert closed.get(1) is None  # the oldest went
    assert [closed.get(i) for i in (3, 5, 7)] == [Closing.ENDED] * 3
    closed.add(3, Closing.RESET_HERE)  # closed again: now the newest
    closed.add(9, Closing.RESET_BY_CLIENT)
    assert closed.get(5) is None and closed.get(3) is Closing.RESET_HERE
    assert closed.get(9) is Closing.RESET_BY_CLIENT
