"""How long the reliability tests run: short by default (``make test``), full with ``make reliability``.

``MOORINGS_RELIABILITY=full`` selects the durations the issue asks for (30 s of load, a
10-minute soak); anything else the short ones, sized to keep ``make test`` quick on 2 cores.
"""

from __future__ import annotations

import os

FULL = os.environ.get("MOORINGS_RELIABILITY", "") == "full"


def pick(short: float, full: float) -> float:
    """``full`` under ``MOORINGS_RELIABILITY=full``, else ``short``."""
    return full if FULL else short


def refusal_bound(probe_p99: float) -> float:
    """The most a refused request's p99 may take, in seconds.

    Full run: the issue's 10 ms. Short run, on a shared machine whose speed changes from second to
    second: 50 ms, or three times the p99 of the health probes sent beside the load if the machine
    is slower than that. Either is far below what a refusal that waited in the queue would take
    (the queue holds 64 calls of a 5 ms model: over 300 ms).
    """
    return 0.010 if FULL else max(0.050, 3 * probe_p99)
