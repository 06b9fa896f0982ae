"""A token bucket: ``rate`` events per second on average, up to ``burst`` at once."""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._time = now

    def take(self, now: float) -> bool:
        """Spend one token; False when the bucket is empty (the event is over the limit)."""
        self._tokens = min(self._burst, self._tokens + (now - self._time) * self._rate) - 1
        self._time = now
        return self._tokens >= 0

    def give(self) -> None:
        """Put one token back (up to the burst): the client did something worth doing."""
        if self._tokens < self._burst:
            self._tokens += 1
