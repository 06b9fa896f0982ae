"""The ``/metrics`` answer, and the folder the workers' values are kept in with ``--workers``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``--workers N`` sets it before the workers start),
``prometheus_client`` keeps every worker's values in files there, and :func:`exposition` adds
them up, whichever worker answers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

from moorings.observe.metrics import flush

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> tuple[bytes, bytes]:
    """The metrics in Prometheus' text format and its content type; every worker's with ``--workers``."""
    flush()
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY), CONTENT_TYPE
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    ProcessCollector(registry=registry)
    return generate_latest(registry), CONTENT_TYPE


def prepare_multiprocess_dir() -> Callable[[], None]:
    """Make (or empty) the folder the workers' values are kept in; set it in the environment.

    Set it before the workers start. A folder the operator named in ``PROMETHEUS_MULTIPROC_DIR``
    has its ``.db`` files removed (values of an earlier run would be added in); without one a
    temporary folder is made. Returns the clean-up to call once the workers are gone.
    """
    named = multiprocess_dir()
    if named is not None:
        folder = Path(named)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
        return lambda: None
    made = tempfile.mkdtemp(prefix="moorings-metrics-")
    os.environ[MULTIPROC_ENV] = made

    def clean_up() -> None:
        os.environ.pop(MULTIPROC_ENV, None)
        with contextlib.suppress(OSError):
            shutil.rmtree(made)

    return clean_up
