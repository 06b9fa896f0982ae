"""Multi-process serving: one parent binds the REST port, N workers serve on it.

For models whose request path is pure-Python-heavy, one process is bound by its
GIL to about one core; ``moorings serve --workers N`` runs N processes instead.
The parent binds one listening socket per worker, all on the same address with
SO_REUSEPORT, starts the workers (spawned, so nothing framework-level is
inherited half-initialised) and hands each its socket. Each worker loads the
model repository itself and starts listening only once its first model loads
are done: the kernel spreads new connections evenly over the workers that are
listening, and a client never reaches a worker that does not know the model
yet. (One socket shared by every worker lets whichever worker wakes first
accept a whole burst of connections, which piles most of the load on one
process.) gRPC servers bind their port with SO_REUSEPORT too, so every worker
serves gRPC on the same port.

- With N no larger than the cores this process may use, worker i is pinned to
  its own share of them, so each worker's thread defaults fit its share.
- SIGTERM / SIGINT to the parent are forwarded to every worker, which drains
  and exits; the parent exits once they have.
- A worker that dies is not restarted behind the operator's back: the parent
  logs it, stops the others and exits non-zero, so the supervisor (systemd,
  Kubernetes) sees the failure.
- Metrics: the workers keep their values in files in one folder
  (``PROMETHEUS_MULTIPROC_DIR``, emptied at start-up), and the worker that answers
  ``/metrics`` adds up every worker's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from moorings.config import ServerSettings
from moorings.observe.exposition import prepare_multiprocess_dir
from moorings.sockets import bound_socket

log = logging.getLogger(__name__)

#: how long a worker may take past its drain time (``--drain-seconds``) before it is killed
STOP_MARGIN_S = 10.0


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to one address with SO_REUSEPORT, not yet listening (each worker listens).

    With ``port`` 0 the first socket picks a free port and the others take the same one.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = bound_socket(host, port, reuse_port=True)
            sockets.append(sock)
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def core_groups(workers: int) -> list[list[int] | None]:
    """The cores each worker is pinned to: contiguous shares of this process's cores, or None."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return [None] * workers
    if workers > len(cores):
        return [None] * workers
    share = len(cores) // workers
    return [cores[i * share : (i + 1) * share] for i in range(workers)]


def _worker_main(settings: ServerSettings, sock: socket.socket, cores: list[int] | None, level: int) -> None:
    from moorings.observe import logs

    logs.configure(
        level, settings.log_format, "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    if cores:
        os.sched_setaffinity(0, cores)
    from moorings.server import serve

    serve(settings, sockets=[sock])


def serve_workers(settings: ServerSettings, workers: int) -> int:
    """Run ``workers`` serving processes on one REST port (a socket each); return the exit status."""
    sockets = bind_sockets(settings.host, settings.rest_port, workers)
    settings = dataclasses.replace(settings, reuse_port=True)
    # every worker keeps its metrics in files in one folder; whichever answers /metrics adds them up
    clean_up_metrics = prepare_multiprocess_dir() if settings.metrics else None
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    processes: list[BaseProcess] = [
        context.Process(target=_worker_main, args=(settings, sock, cores, level), name=f"moorings-worker-{i}")
        for i, (sock, cores) in enumerate(zip(sockets, core_groups(workers), strict=True))
    ]
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def forward_hangup(signum: int, frame: FrameType | None) -> None:
        """SIGHUP (read the token files again) goes on to every worker."""
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, forward_hangup)
    status = 0
    try:
        for process in processes:
            process.start()
        log.info("REST API on http://%s:%d, %d worker processes", settings.host, settings.rest_port, workers)
        while not stopping.is_set():
            wait([p.sentinel for p in processes], timeout=0.5)
            dead = [p for p in processes if not p.is_alive()]
            if dead and not stopping.is_set():
                for p in dead:
                    log.error(
                        "worker %s (pid %s) exited with status %s; stopping the others (workers are not "
                        "restarted: let the supervisor restart the server)",
                        p.name, p.pid, p.exitcode,
                    )  # fmt: skip
                status = 1
                break
    finally:
        _stop(processes, settings.drain_seconds + STOP_MARGIN_S)
        for sock in sockets:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if clean_up_metrics is not None:
            clean_up_metrics()
    return status


def _stop(processes: list[BaseProcess], timeout: float) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        if process.pid is None:
            continue
        process.join(timeout)
        if process.is_alive():
            log.error("worker %s did not stop in %.0fs; killing it", process.name, timeout)
            process.kill()
            process.join()
