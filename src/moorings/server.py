"""Wires the pieces together and runs the servers until interrupted.

REST (uvicorn) and gRPC (grpc.aio) run in one asyncio event loop and share one
Manager and DataPlane. SIGINT/SIGTERM stop uvicorn gracefully (uvicorn
catches them), then the gRPC server drains, then models are unloaded.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
from collections.abc import Sequence

import uvicorn

from moorings.config import ServerSettings
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.grpc.server import AddService, build_grpc_server
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.backends import open_collections
from moorings.search.grpc_service import registration as search_grpc

log = logging.getLogger(__name__)


def build_manager(settings: ServerSettings) -> Manager:
    source = LocalSource(settings.repository)
    loader = Loader(
        settings.repository, allow_unsafe_pickle=settings.allow_unsafe_pickle, batching=settings.batching
    )
    return Manager(source, loader, load_threads=settings.load_threads)


def serve(settings: ServerSettings, sockets: list[socket.socket] | None = None) -> None:
    """Serve until a signal; ``sockets``: REST listening sockets bound by a parent (``--workers``)."""
    manager = build_manager(settings)
    dataplane = DataPlane(manager, settings.inference_threads)
    collections = open_collections(settings.search_store, settings.data_dir, settings.search_backend)
    app = RestApp(dataplane, settings.max_body_bytes, collections=collections)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.rest_port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # no X-Forwarded-* rewriting: one less middleware on every request
        server_header=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    log.info("model repository: %s", settings.repository)
    manager.start(settings.poll_seconds)
    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(_main(settings, dataplane, config, sockets, [search_grpc(collections)]))
    finally:
        manager.stop()
        dataplane.close()
        collections.close()


async def _main(
    settings: ServerSettings,
    dataplane: DataPlane,
    config: uvicorn.Config,
    sockets: list[socket.socket] | None = None,
    extra_services: Sequence[AddService] = (),
) -> None:
    """Start gRPC, run uvicorn until a signal, then drain gRPC."""
    grpc_server, tf_serving = build_grpc_server(dataplane, settings, extra_services)
    dataplane.readiness_checks.append(tf_serving.ready)
    await grpc_server.start()
    log.info("gRPC on %s:%d", settings.host, settings.grpc_port)
    if sockets is not None:
        # a worker sharing the REST socket takes connections only once its first loads are done
        while not dataplane.manager.is_ready():
            await asyncio.sleep(0.05)
    log.info("REST API on http://%s:%d", settings.host, settings.rest_port)
    # uvicorn re-raises the signal it caught once it has stopped; let that be a no-op so we clean up
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    freezer = asyncio.create_task(_freeze_heap_when_ready(dataplane))
    try:
        await uvicorn.Server(config).serve(sockets=sockets)
    finally:
        freezer.cancel()
        await grpc_server.stop(grace=5)


async def _freeze_heap_when_ready(dataplane: DataPlane) -> None:
    """Once the models and front ends are up, take what start-up allocated out of the collector's sight.

    With TensorFlow imported the heap holds hundreds of thousands of long-lived objects,
    and a full collection walks them all (~200 ms here): a latency spike every so often
    under load. ``gc.freeze()`` moves them to a generation the collector never scans.
    """
    while not dataplane.is_ready():
        await asyncio.sleep(0.2)
    gc.collect()
    gc.freeze()
    log.debug("froze %d start-up objects out of garbage collection", gc.get_freeze_count())
