"""Prometheus metrics: their definitions, the per-request observation, and the flush.

One request is observed in three places:

- the edge that maps errors to status codes (``rest/app.py``, ``grpc/status.py``) calls
  :func:`begin` with the protocol and route kind, and :func:`finish` with the status code;
- the request runner (``dataplane/runner.py``) calls :func:`note_servable` once it has resolved
  the model version, so model and version labels only ever name versions the server has;
- each servable's batcher reports its model calls to a :class:`BatchObserver`.

The observation travels in a context variable, so the front ends in between need not carry
it. Counts and observations are tallied in plain numbers first (a request costs a dictionary
look-up, an integer increment and a ``bisect`` into the bucket bounds; a batch one lock) and
added to ``prometheus_client``'s label children, bound once per label set, when the metrics are
flushed: at each scrape, and every second in each worker with ``--workers``. In-flight
requests are a plain integer, and queue depths are read from the batchers at the flush.

The ``/metrics`` answer and the workers' shared folder: :mod:`moorings.observe.exposition`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram

from moorings.observe.tally import HistogramTally
from moorings.types import ServableId

#: request latency buckets (seconds): 100 µs to 10 s
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: rows per model call
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

REQUESTS = Counter(
    "moorings_requests_total",
    "Requests answered, by model, version, protocol, route kind and status code",
    ["model", "version", "protocol", "kind", "code"],
)
REQUEST_SECONDS = Histogram(
    "moorings_request_duration_seconds",
    "Time from a request's arrival at the front end to its answer",
    ["model", "version", "protocol", "kind"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_WAIT_SECONDS = Histogram(
    "moorings_queue_wait_seconds",
    "Time a request waited in its model version's batching queue",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
MODEL_SECONDS = Histogram(
    "moorings_model_duration_seconds",
    "Time of one model call (a batch, or one unbatched request)",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
BATCH_ROWS = Histogram(
    "moorings_batch_size",
    "Rows per batched model call",
    ["model", "version"],
    buckets=BATCH_BUCKETS,
)
IN_FLIGHT = Gauge(
    "moorings_requests_in_flight",
    "Requests being answered now (REST and gRPC, the scrape itself included)",
    multiprocess_mode="livesum",
)
QUEUE_DEPTH = Gauge(
    "moorings_queue_depth",
    "Requests waiting in a model version's batching queue",
    ["model", "version"],
    multiprocess_mode="livesum",
)
LOAD_SECONDS = Gauge(
    "moorings_model_load_duration_seconds",
    "How long the last load of a model version took",
    ["model", "version"],
    multiprocess_mode="max",
)
LOAD_FAILURES = Counter(
    "moorings_model_load_failures_total",
    "Failed loads of a model version",
    ["model", "version"],
)
MODEL_STATE = Gauge(
    "moorings_model_state",
    "1 for the state a model version is in (START, LOADING, AVAILABLE, UNLOADING, END), else 0",
    ["model", "version", "state"],
    multiprocess_mode="max",
)
CONFIG_ERROR = Gauge(
    "moorings_model_config_error",
    "1 while a model's model.toml cannot be used (the versions loaded stay as they were), else 0",
    ["model"],
    multiprocess_mode="max",
)
SEARCH_REQUESTS = Counter(
    "moorings_search_requests_total",
    "Searches run on a collection, by outcome (ok, error)",
    ["collection", "outcome"],
)
SEARCH_SECONDS = Histogram(
    "moorings_search_duration_seconds",
    "Time of one search call on a collection (all its queries)",
    ["collection"],
    buckets=LATENCY_BUCKETS,
)

STATES = ("START", "LOADING", "AVAILABLE", "UNLOADING", "END")


class _Switch:
    """Whether requests are observed (``--no-metrics`` turns it off)."""

    enabled = True


switch = _Switch()


# -- one request ----------------------------------------------------------------------------------


class Observation:
    """What is known of one request while it runs."""

    __slots__ = (
        "batch_rows", "kind", "model_end", "model_start", "protocol", "queued", "request_id", "servable",
        "start", "traceparent",
    )  # fmt: skip

    def __init__(self, protocol: str, kind: str, request_id: str) -> None:
        self.protocol = protocol
        self.kind = kind
        self.request_id = request_id
        self.servable: ServableId | None = None
        self.start = time.perf_counter()
        # recorded only while spans are made (observe/tracing.py); perf_counter() times, 0.0: none
        self.traceparent: bytes | None = None
        #: when the request was handed to its model's batching queue or inference pool
        self.queued = 0.0
        self.model_start = 0.0
        self.model_end = 0.0
        self.batch_rows = 0


current: ContextVar[Observation | None] = ContextVar("moorings_observation", default=None)


class _RequestTally:
    """The requests of one label set: their count and their durations."""

    __slots__ = ("count", "counter", "latency")

    def __init__(self, key: tuple[ServableId | None, str, str, str]) -> None:
        servable, protocol, kind, code = key
        model, version = (servable.name, str(servable.version)) if servable is not None else ("", "")
        self.count = 0
        self.counter = REQUESTS.labels(model, version, protocol, kind, code)
        self.latency = HistogramTally(REQUEST_SECONDS.labels(model, version, protocol, kind))

    def flush(self) -> None:
        if self.count:
            self.counter.inc(self.count)
            self.count = 0
        self.latency.flush()


_in_flight = 0
#: touched only on the event loop's thread (requests are begun and finished there, and flushed there)
_tallies: dict[tuple[str, int, str, str, str], _RequestTally] = {}


def begin(protocol: str, kind: str, request_id: str = "") -> Observation:
    """Start observing a request on this task; :func:`finish` ends it."""
    global _in_flight
    observation = Observation(protocol, kind, request_id)
    current.set(observation)
    _in_flight += 1
    return observation


def note_servable(servable_id: ServableId) -> None:
    """The version the current request resolved to (called by the request runner)."""
    observation = current.get()
    if observation is not None:
        observation.servable = servable_id


def finish(observation: Observation, code: str) -> float:
    """Count the request with its status code (unless its protocol is ""); return its duration."""
    global _in_flight
    _in_flight -= 1
    took = time.perf_counter() - observation.start
    if switch.enabled and observation.protocol:
        servable = observation.servable
        # keyed by plain values: a ServableId in the key would hash through its Python __hash__
        key = (
            (servable.name, servable.version, observation.protocol, observation.kind, code)
            if servable is not None
            else ("", -1, observation.protocol, observation.kind, code)
        )
        tally = _tallies.get(key)
        if tally is None:
            tally = _tallies[key] = _RequestTally((servable, observation.protocol, observation.kind, code))
        tally.count += 1
        tally.latency.observe(took)
    return took


# -- batchers and model calls -------------------------------------------------------------------


class BatchObserver:
    """A model version's batcher reports here: queue waits, model calls and their rows.

    :meth:`batch` is called from batch threads (and the event loop's, inline); a lock keeps
    the tallies whole until the next flush."""

    __slots__ = ("__weakref__", "_depth", "_lock", "batch_rows", "model_seconds", "queue_depth", "queue_wait")

    def __init__(self, servable_id: ServableId) -> None:
        labels = (servable_id.name, str(servable_id.version))
        self.queue_wait = HistogramTally(QUEUE_WAIT_SECONDS.labels(*labels))
        self.model_seconds = HistogramTally(MODEL_SECONDS.labels(*labels))
        self.batch_rows = HistogramTally(BATCH_ROWS.labels(*labels))
        self.queue_depth = QUEUE_DEPTH.labels(*labels)
        self._lock = threading.Lock()
        self._depth: Callable[[], int] | None = None
        _batchers.add(self)

    def batch(self, started: float, seconds: float, rows: int, enqueued: list[float]) -> None:
        """One model call: when it started, how long it took, its rows, and when its requests queued."""
        with self._lock:
            self.model_seconds.observe(seconds)
            self.batch_rows.observe(rows)
            self.queue_wait.observe_since(started, enqueued)

    def track_depth(self, depth: Callable[[], int]) -> None:
        """Read the queue's depth with ``depth`` at each flush."""
        self._depth = depth

    def flush(self) -> None:
        with self._lock:
            self.queue_wait.flush()
            self.model_seconds.flush()
            self.batch_rows.flush()
        if self._depth is not None:
            self.queue_depth.set(self._depth())

    def close(self) -> None:
        """The batcher has stopped: its queue is empty and no longer read."""
        self.flush()
        self._depth = None
        self.queue_depth.set(0)
        _batchers.discard(self)


_batchers: weakref.WeakSet[BatchObserver] = weakref.WeakSet()


def batch_observer(servable_id: ServableId) -> BatchObserver | None:
    """An observer for a new batcher, or None when metrics are off."""
    return BatchObserver(servable_id) if switch.enabled else None


def model_call(servable_id: ServableId, seconds: float) -> None:
    """An unbatched model call (classify, regress, signatures the batcher does not take)."""
    if switch.enabled:
        MODEL_SECONDS.labels(servable_id.name, str(servable_id.version)).observe(seconds)


def search_done(collection: str, outcome: str, seconds: float) -> None:
    """One search call on a collection ("ok" or "error")."""
    if switch.enabled:
        SEARCH_REQUESTS.labels(collection, outcome).inc()
        SEARCH_SECONDS.labels(collection).observe(seconds)


# -- model lifecycle ----------------------------------------------------------------------------


def model_loaded(servable_id: ServableId, seconds: float) -> None:
    LOAD_SECONDS.labels(servable_id.name, str(servable_id.version)).set(seconds)


def model_load_failed(servable_id: ServableId) -> None:
    LOAD_FAILURES.labels(servable_id.name, str(servable_id.version)).inc()


_states: dict[tuple[str, str], str] = {}


def model_states(states: dict[tuple[str, str], str]) -> None:
    """Set the state gauges from (model, version) -> state; versions no longer listed become END."""
    for key in set(_states) - set(states):
        _set_state(key, "END")
        del _states[key]
    for key, state in states.items():
        if _states.get(key) != state:
            _set_state(key, state)
            _states[key] = state


_config_errors: set[str] = set()


def model_config_errors(models: set[str]) -> None:
    """Set the config-error gauge: 1 for the models named, 0 for those named before and not now."""
    for name in _config_errors - models:
        CONFIG_ERROR.labels(name).set(0)
    for name in models - _config_errors:
        CONFIG_ERROR.labels(name).set(1)
    _config_errors.clear()
    _config_errors.update(models)


def _set_state(key: tuple[str, str], state: str) -> None:
    for name in STATES:
        MODEL_STATE.labels(*key, name).set(1 if name == state else 0)


# -- flushing -----------------------------------------------------------------------------------


#: more gauges to write at each flush (the server adds the model states)
refreshers: list[Callable[[], None]] = []


def flush() -> None:
    """On the event loop's thread: add the tallies to the metrics and write the sampled gauges
    (requests in flight, the batching queues' depths, model states)."""
    for tally in list(_tallies.values()):
        tally.flush()
    IN_FLIGHT.set(_in_flight)
    for observer in list(_batchers):
        observer.flush()
    for refresh in refreshers:
        refresh()


async def flush_every(seconds: float) -> None:
    """Flush every ``seconds`` (a worker's figures, for whichever worker answers the scrape)."""
    while True:
        flush()
        await asyncio.sleep(seconds)
