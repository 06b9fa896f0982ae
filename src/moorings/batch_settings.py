"""Batching settings: server defaults, overridden per model in model.toml's ``[batching]``."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from moorings.errors import InvalidArgument


@dataclass(frozen=True)
class BatchingSettings:
    enabled: bool = True
    #: most rows run in one call of the model
    max_batch_size: int = 64
    #: how long the first request of a batch waits for others; 0 = take what is queued, never wait
    batch_timeout_micros: int = 0
    #: queue bound, in batches of max_batch_size rows; beyond it requests are refused at once
    max_enqueued_batches: int = 64
    #: if set, batches are padded up to the next of these sizes (the last must be max_batch_size)
    allowed_batch_sizes: tuple[int, ...] = ()
    #: threads forming and running batches for one model version
    batch_threads: int = 2
    #: a lone request that finds the model idle runs on the event loop's own thread, without the
    #: hand-off to a batch thread (two thread switches), when the model's
    #: recent calls of a few rows took less than this many microseconds (the longest the loop is
    #: held up); 0: always hand off
    inline_micros: int = 1000

    @property
    def max_enqueued_rows(self) -> int:
        return self.max_enqueued_batches * self.max_batch_size

    def padded_size(self, rows: int) -> int:
        for size in self.allowed_batch_sizes:
            if size >= rows:
                return size
        return rows


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"batching.{key} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_batching(data: Any, defaults: BatchingSettings) -> BatchingSettings:
    """Validate a ``[batching]`` table on top of ``defaults``."""
    if not isinstance(data, dict):
        raise InvalidArgument("[batching] must be a table")
    known = {f.name for f in fields(BatchingSettings)}
    unknown = set(data) - known
    if unknown:
        raise InvalidArgument(f"unknown batching setting(s): {', '.join(sorted(unknown))}")
    changes: dict[str, Any] = {}
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise InvalidArgument("batching.enabled must be true or false")
        changes["enabled"] = data["enabled"]
    for key, minimum in (
        ("max_batch_size", 1),
        ("batch_timeout_micros", 0),
        ("max_enqueued_batches", 1),
        ("batch_threads", 1),
        ("inline_micros", 0),
    ):
        if key in data:
            changes[key] = _int(data[key], key, minimum)
    if "allowed_batch_sizes" in data:
        sizes = data["allowed_batch_sizes"]
        if not isinstance(sizes, list):
            raise InvalidArgument("batching.allowed_batch_sizes must be a list of integers")
        changes["allowed_batch_sizes"] = tuple(_int(s, "allowed_batch_sizes[]", 1) for s in sizes)
    settings = replace(defaults, **changes)
    sizes = settings.allowed_batch_sizes
    if sizes and (list(sizes) != sorted(set(sizes)) or sizes[-1] != settings.max_batch_size):
        raise InvalidArgument(
            "batching.allowed_batch_sizes must increase and end with max_batch_size "
            f"({settings.max_batch_size})"
        )
    return settings
