"""Warm-up: replay recorded requests through a version before it turns AVAILABLE.

A version folder may hold TensorFlow Serving's ``assets.extra/tf_serving_warmup_requests``
(:mod:`moorings.warmup.prediction_log`) and Moorings' ``warmup.json``
(:mod:`moorings.warmup.json_file`). :class:`WarmUp` is the loader's hook: it reads
them, then runs each request through the dataplane on the servable being loaded
(decode, the runner's checks, the batcher or inference pool, the model), as a
client's request would run, in order. At most ``max_records`` requests are replayed,
all within ``seconds``; any failure (an unreadable file, a request the model
refuses, the time running out) fails the version's load with a message naming the
file and record, and the version is not published.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from moorings.core.servable import Servable
from moorings.dataplane import DataPlane
from moorings.errors import DeadlineExceeded, InvalidArgument, MooringsError, first_line
from moorings.types import ModelRef
from moorings.warmup import json_file, prediction_log
from moorings.warmup.calls import Call

log = logging.getLogger(__name__)

#: as TensorFlow Serving: a warm-up file of more records fails the load
MAX_RECORDS = 1000
#: the whole replay of one version must end within this many seconds
DEFAULT_SECONDS = 300.0
#: a warm-up file larger than this fails the load (it is read whole)
MAX_FILE_BYTES = 256 * 1024 * 1024


class WarmUp:
    """The loader's warm-up hook over ``dataplane``."""

    def __init__(
        self, dataplane: DataPlane, max_records: int = MAX_RECORDS, seconds: float = DEFAULT_SECONDS
    ) -> None:
        self.dataplane = dataplane
        self.max_records = max_records
        self.seconds = seconds

    def __call__(self, servable: Servable, folder: Path) -> None:
        calls = self.calls(servable, folder)
        if not calls:
            return
        started = time.monotonic()
        asyncio.run(self._replay(servable, calls, started + self.seconds))
        log.info(
            "warmed up %s version %d with %d request(s) in %.2fs",
            servable.id.name,
            servable.id.version,
            len(calls),
            time.monotonic() - started,
        )

    def calls(self, servable: Servable, folder: Path) -> list[Call]:
        """The requests the warm-up files in ``folder`` describe, in file order (TF Serving's first)."""
        ref = ModelRef(servable.id.name, servable.id.version)
        found: list[Call] = []
        tf_file = folder / prediction_log.FOLDER / prediction_log.FILE_NAME
        if tf_file.is_file():
            found.extend(prediction_log.calls(_read(tf_file), ref, self.max_records))
        json_path = folder / json_file.FILE_NAME
        if json_path.is_file():
            found.extend(json_file.calls(_read(json_path), ref, self.max_records - len(found)))
        if len(found) > self.max_records:
            raise InvalidArgument(f"the warm-up files hold {len(found)} requests; at most {self.max_records}")
        return found

    async def _replay(self, servable: Servable, calls: list[Call], deadline: float) -> None:
        for call in calls:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise DeadlineExceeded("")
                await asyncio.wait_for(call.run(self.dataplane, servable, deadline), left)
            except (DeadlineExceeded, TimeoutError):
                raise DeadlineExceeded(
                    f"warm-up did not finish within {self.seconds:g} s (at {call.where})"
                ) from None
            except MooringsError as exc:
                raise InvalidArgument(f"warm-up failed at {call.where}: {exc.message}") from None
            except Exception as exc:  # the model's own failure fails the load, not the server
                raise InvalidArgument(
                    f"warm-up failed at {call.where}: {type(exc).__name__}: {first_line(exc)}"
                ) from None


def _read(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InvalidArgument(f"warm-up file {path.name} is {size} bytes; at most {MAX_FILE_BYTES}")
    return path.read_bytes()
