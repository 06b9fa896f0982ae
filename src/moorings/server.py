"""Wires the pieces together and runs the HTTP server until interrupted."""

from __future__ import annotations

import logging

import uvicorn

from moorings.config import ServerSettings
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.repository.source import LocalSource
from moorings.rest.app import RestApp

log = logging.getLogger(__name__)


def build_manager(settings: ServerSettings) -> Manager:
    source = LocalSource(settings.repository)
    loader = Loader(
        settings.repository, allow_unsafe_pickle=settings.allow_unsafe_pickle, batching=settings.batching
    )
    return Manager(source, loader, load_threads=settings.load_threads)


def serve(settings: ServerSettings) -> None:
    manager = build_manager(settings)
    dataplane = DataPlane(manager, settings.inference_threads)
    app = RestApp(dataplane, settings.max_body_bytes)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.rest_port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    log.info("model repository: %s", settings.repository)
    manager.start(settings.poll_seconds)
    log.info("REST API on http://%s:%d", settings.host, settings.rest_port)
    try:
        server.run()
    finally:
        manager.stop()
        dataplane.close()
