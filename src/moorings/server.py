"""Wires the pieces together and runs the servers until interrupted.

REST and gRPC (grpc.aio) run in one asyncio event loop (uvloop when installed)
and share one Manager and DataPlane. REST is served by Moorings' own HTTP/1.1
server (``moorings.http1``), or by uvicorn with ``http_server="uvicorn"``.
SIGINT/SIGTERM drain REST and gRPC together, each for up to
``settings.drain_seconds`` (answers owed and calls under way are finished; under
uvicorn, which handles the signal itself, gRPC drains after it), then models are
unloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from moorings.admin.app import AdminApp
from moorings.auth.rest import RestGuard
from moorings.auth.tokens import TokenFile
from moorings.config import ServerSettings
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import MooringsError
from moorings.fetch.resolver import InputFetcher
from moorings.grpc.search import registration as search_grpc
from moorings.grpc.server import AddService, build_grpc_server
from moorings.http1 import HttpServer, Limits
from moorings.http1.messages import Answer, Request
from moorings.observe import metrics, tracing
from moorings.observe.exposition import exposition, multiprocess_dir
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp
from moorings.search.backends import open_collections
from moorings.search.folder_lock import local_url
from moorings.sockets import bound_socket
from moorings.types import ModelRef
from moorings.warmup import WarmUp

log = logging.getLogger(__name__)


def build_manager(settings: ServerSettings) -> Manager:
    """The manager over the repository; its loader (``manager.loader``) has no warm-up hook yet."""
    loader = Loader(
        settings.repository,
        allow_unsafe_pickle=settings.allow_unsafe_pickle,
        batching=settings.batching,
        allow_python_models=settings.allow_python_models,
        input_limits=settings.input_limits,
    )
    return Manager(LocalSource(settings.repository), loader, load_threads=settings.load_threads)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def serve(settings: ServerSettings, sockets: list[socket.socket] | None = None) -> None:
    """Serve until a signal; ``sockets``: REST listening sockets bound by a parent (``--workers``)."""
    metrics.switch.enabled = settings.metrics
    traces = tracing.configure()  # from the OTEL_* variables; checked by the CLI
    if traces is not None:
        log.info("request spans exported to %s (OpenTelemetry)", traces)
    manager = build_manager(settings)
    if settings.metrics:
        metrics.refreshers.append(lambda: metrics.model_states(model_states(manager)))
        metrics.refreshers.append(lambda: metrics.model_config_errors(set(manager.config_errors())))
    dataplane = DataPlane(
        manager,
        settings.inference_threads,
        InputFetcher(settings.input_urls),
        max_waiting_calls=settings.batching.max_enqueued_batches,
    )
    manager.loader.warmup = WarmUp(dataplane, seconds=settings.warmup_seconds)
    collections = open_collections(settings.search_store, settings.data_dir, settings.search_backend)
    auth = TokenFile(settings.auth_token_file) if settings.auth_token_file is not None else None
    app = RestApp(
        dataplane,
        settings.max_body_bytes,
        collections=collections,
        cors_origins=settings.cors_origins,
        request_timeout=settings.request_timeout_seconds,
        max_part_bytes=settings.input_limits.max_image_bytes,
        guard=RestGuard(auth) if auth is not None else None,
        read_only=_read_only_message(settings),
    )
    admin = None
    if settings.admin_port is not None and settings.admin_token_file is not None:
        admin_tokens = TokenFile(settings.admin_token_file, "--admin-token-file")
        admin = AdminApp(manager, admin_tokens, collections, auth)
    log.info("model repository: %s", settings.repository)
    set_gc_threshold(settings.gc_threshold)
    manager.start(settings.poll_seconds)
    # stored collections open beside the first model loads; readiness waits for both
    threading.Thread(target=collections.open_all, name="moorings-open-collections", daemon=True).start()
    dataplane.readiness_checks.append(collections.ready)
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(_main(settings, dataplane, app, sockets, [search_grpc(collections)], admin))
    finally:
        manager.stop()
        dataplane.close()
        collections.close()
        tracing.shutdown()


async def _main(
    settings: ServerSettings,
    dataplane: DataPlane,
    app: RestApp,
    sockets: list[socket.socket] | None = None,
    extra_services: Sequence[AddService] = (),
    admin: AdminApp | None = None,
) -> None:
    """Start gRPC (and the admin port), serve REST until a signal, drain both."""
    auth = app.guard.tokens if app.guard is not None else None
    grpc_server, _ = build_grpc_server(dataplane, settings, extra_services, auth, app.read_only)
    await grpc_server.start()
    log.info("gRPC on %s:%d", settings.host, settings.grpc_port)
    _reload_tokens_on_hangup([t for t in (auth, admin.admin_tokens if admin else None) if t is not None])
    admin_server = await _start_admin_server(settings, admin)
    if sockets is not None:
        # a worker listens on its REST socket only once its first loads are done
        while not (dataplane.manager.is_ready() and (app.collections is None or app.collections.ready())):
            await asyncio.sleep(0.05)
    freezer = asyncio.create_task(_freeze_heap_when_ready(dataplane))
    metrics_server = await _start_metrics_server(settings)
    refresher = None
    if settings.metrics and multiprocess_dir() is not None:
        refresher = asyncio.create_task(metrics.flush_every(1.0))
    signalled = asyncio.Event()  # SIGTERM/SIGINT came: readiness is 503 from now on
    dataplane.readiness_checks.append(lambda: not signalled.is_set())
    stopping = asyncio.Event()  # the drain starts (after --drain-delay-seconds)
    grpc_drained = asyncio.create_task(_drain_when_set(stopping, grpc_server, settings.drain_seconds))
    try:
        if settings.http_server == "uvicorn":
            await _serve_uvicorn(settings, app, sockets)
        else:
            await _serve_http1(settings, app, sockets, signalled, stopping)
    finally:
        freezer.cancel()
        if refresher is not None:
            refresher.cancel()
        if metrics_server is not None:
            await metrics_server.stop(0)
        if admin_server is not None:
            await admin_server.stop(settings.drain_seconds)
        stopping.set()
        await grpc_drained


def model_states(manager: Manager) -> dict[tuple[str, str], str]:
    """(model, version) -> state name, for every version the manager tracks."""
    states = {}
    for name in manager.model_names():
        try:
            status = manager.status(ModelRef(name))
        except MooringsError:
            continue
        for version in status.versions:
            states[(name, str(version.version))] = version.state.name
    return states


async def _metrics_only(request: Request) -> Answer:
    """The ``--metrics-port`` server's one route: ``GET /metrics``."""
    if request.raw_path != b"/metrics":
        return 404, b"only /metrics is served on this port\n", [(b"content-type", b"text/plain")]
    if request.method != "GET":
        return 405, b"GET /metrics\n", [(b"content-type", b"text/plain"), (b"allow", b"GET")]
    body, content_type = exposition()
    return 200, body, [(b"content-type", content_type)]


async def _start_metrics_server(settings: ServerSettings) -> HttpServer | None:
    """``/metrics`` on its own port when ``--metrics-port`` is set (workers share it with SO_REUSEPORT)."""
    if settings.metrics_port is None or not settings.metrics:
        return None
    sockets = None
    if settings.reuse_port:
        sockets = [bound_socket(settings.host, settings.metrics_port, reuse_port=True)]
    server = HttpServer(
        _metrics_only, settings.host, settings.metrics_port, Limits(max_body_bytes=1024), sockets
    )
    await server.start()
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    return server


def _read_only_message(settings: ServerSettings) -> str | None:
    """What a refused write on the REST port is told (None: writes are served there)."""
    if not settings.read_only_data_plane:
        return None
    if settings.admin_port is None:
        return "this server is read-only (--read-only-data-plane) and has no admin port"
    return f"make them on the admin port ({settings.admin_host}:{settings.admin_port}) with an admin token"


def _reload_tokens_on_hangup(files: list[TokenFile]) -> None:
    """SIGHUP reads the token files again (they are also read again when they change)."""
    if not files:
        return
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _reload_all, files)


def _reload_all(files: list[TokenFile]) -> None:
    for file in files:
        file.reload()


async def _start_admin_server(settings: ServerSettings, admin: AdminApp | None) -> HttpServer | None:
    """The management API on ``--admin-host:--admin-port`` (Moorings' HTTP/1.1 server)."""
    if admin is None or settings.admin_port is None:
        return None
    limits = Limits(max_body_bytes=settings.max_body_bytes, keep_alive_seconds=settings.keep_alive_seconds)
    server = HttpServer(admin.handle, settings.admin_host, settings.admin_port, limits)
    await server.start()
    log.info("admin API on http://%s:%d", settings.admin_host, server.ports[0])
    return server


async def _drain_when_set(stopping: asyncio.Event, grpc_server: Any, grace: float) -> None:
    await stopping.wait()
    log.info("stopping: finishing the gRPC calls under way (up to %.0f s)", grace)
    await grpc_server.stop(grace=grace)


async def _serve_http1(
    settings: ServerSettings,
    app: RestApp,
    sockets: list[socket.socket] | None,
    signalled: asyncio.Event,
    stopping: asyncio.Event,
) -> None:
    limits = Limits(max_body_bytes=settings.max_body_bytes, keep_alive_seconds=settings.keep_alive_seconds)
    server = HttpServer(app.handle, settings.host, settings.rest_port, limits, sockets)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    await server.start()
    log.info("REST API on http://%s:%d", settings.host, settings.rest_port)
    if app.collections is not None:  # `moorings collection` finds the server through the data folder
        app.collections.advertise(local_url(settings.host, server.ports[0]))
    try:
        await signalled.wait()
        await _drain_delay(settings.drain_delay_seconds)
        log.info("stopping: finishing the answers owed (up to %.0f s)", settings.drain_seconds)
    finally:
        stopping.set()
        await server.stop(settings.drain_seconds)


async def _drain_delay(seconds: float) -> None:
    """Keep answering for ``seconds`` (readiness is 503 meanwhile); a second signal cuts it short."""
    if seconds <= 0:
        return
    log.info("stopping: not ready; answering as before for %.0f s before the drain", seconds)
    again = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, again.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(again.wait(), seconds)


async def _serve_uvicorn(settings: ServerSettings, app: RestApp, sockets: list[socket.socket] | None) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.rest_port,
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # no X-Forwarded-* rewriting: one less middleware on every request
        server_header=False,
        log_level="warning",
        timeout_keep_alive=int(settings.keep_alive_seconds),
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )
    log.info("REST API (uvicorn) on http://%s:%d", settings.host, settings.rest_port)
    if app.collections is not None and settings.rest_port:
        app.collections.advertise(local_url(settings.host, settings.rest_port))
    # uvicorn re-raises the signal it caught once it has stopped; let that be a no-op so we clean up
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    await uvicorn.Server(config).serve(sockets=sockets)


def set_gc_threshold(threshold: int) -> None:
    """Collect the young generation every ``threshold`` allocations (0: leave Python's setting).

    Python collects the young generation once container allocations minus deallocations exceed
    700. Requests in flight under concurrent load can hold more than that at once, and then each
    batch sets off a collection that walks them all; a higher threshold lets the count rise and
    fall with the requests instead. Garbage held only by reference cycles waits longer for its
    collection. The measurements behind the default are in ``benchmarks/RESULTS.md``.
    """
    if threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)


async def _freeze_heap_when_ready(dataplane: DataPlane) -> None:
    """``freeze_heap()`` once the models and front ends are up."""
    while not dataplane.is_ready():
        await asyncio.sleep(0.2)
    freeze_heap()


def freeze_heap() -> None:
    """Take what start-up allocated out of the collector's sight.

    With TensorFlow imported the heap holds hundreds of thousands of long-lived objects, and a
    full collection walks them all: a latency spike every so often under load. ``gc.freeze()``
    moves them to a generation the collector never scans.
    """
    gc.collect()
    gc.freeze()
    log.debug("froze %d start-up objects out of garbage collection", gc.get_freeze_count())
