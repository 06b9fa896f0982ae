"""What a running process holds, read from /proc: resident memory, threads, open file descriptors."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcSample:
    rss_mib: float
    threads: int
    fds: int


def sample(pid: int) -> ProcSample:
    """The process's VmRSS and Threads (``/proc/PID/status``) and its count of ``/proc/PID/fd`` entries."""
    rss_kib = 0
    threads = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return ProcSample(rss_kib / 1024, threads, len(os.listdir(f"/proc/{pid}/fd")))
