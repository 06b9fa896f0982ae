"""The token bucket: a burst, a rate, and tokens given back for work done."""

from __future__ import annotations

from moorings.http2.rate_limit import TokenBucket


def test_burst_then_rate_then_refill() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.2)  # 0.2 s at 10/s: two tokens, less the one owed
    bucket.give()
    assert bucket.take(0.2)


def test_given_tokens_stop_at_the_burst() -> None:
    bucket = TokenBucket(rate=0.0, burst=2, now=0.0)
    for _ in range(10):
        bucket.give()
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
