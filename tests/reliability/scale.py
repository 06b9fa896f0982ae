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
