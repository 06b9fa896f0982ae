"""A histogram's observations kept as plain numbers, added to its ``prometheus_client`` child at once.

``prometheus_client``'s ``Histogram.observe`` takes a lock and walks the bucket bounds for each
value; a tally takes one ``bisect`` and adds to a list, and :meth:`HistogramTally.flush` adds the
counts to the child's buckets and sum (its ``_buckets``, ``_sum`` and ``_upper_bounds``, so it
follows ``prometheus_client``'s internals: pinned in requirements/constraints.txt). A tally is not
thread-safe: its owner keeps it on one thread or under a lock.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import Histogram


class HistogramTally:
    """Observations for one histogram child, kept as plain numbers until :meth:`flush`."""

    __slots__ = ("_bounds", "_child", "_counts", "_sum")

    def __init__(self, child: Histogram) -> None:
        self._child = child
        self._bounds: tuple[float, ...] = tuple(child._upper_bounds)  # ends with +Inf
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0

    def observe(self, amount: float) -> None:
        self._counts[bisect_left(self._bounds, amount)] += 1
        self._sum += amount

    def observe_since(self, start: float, earlier: list[float]) -> None:
        """Observe ``start - t`` for each ``t`` in ``earlier``."""
        bounds, counts = self._bounds, self._counts
        total = 0.0
        for t in earlier:
            amount = start - t
            counts[bisect_left(bounds, amount)] += 1
            total += amount
        self._sum += total

    def flush(self) -> None:
        """Add what was observed since the last flush to the child (its per-bucket values)."""
        counts = self._counts
        if not any(counts):
            return
        self._counts = [0] * len(counts)
        buckets = self._child._buckets
        for i, count in enumerate(counts):
            if count:
                buckets[i].inc(count)
        self._child._sum.inc(self._sum)
        self._sum = 0.0
