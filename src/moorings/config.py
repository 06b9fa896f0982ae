"""Server settings and per-model settings (``REPO/<model>/model.toml``).

A model's ``model.toml`` may hold::

    [versions]
    policy = "latest"      # "latest" (default), "all" or "specific"
    latest = 2             # how many of the newest versions to serve (default 1)
    specific = [1, 3]      # the versions to serve with policy = "specific"

    [labels]
    stable = 3
    canary = 4

    [classes]              # the class names of labels.txt / labels.json (see moorings.core.labels)
    output = "probabilities"   # the output they name, ranked by top_k and V2 classification

    [runtime]
    name = "onnx"          # force a runtime instead of detecting it from the files
    intra_op_threads = 2   # threads a runtime may use inside one inference
    trusted_types = []     # skops: extra types the operator trusts
    allowed_ops = []       # SavedModel ops refused by default that this model may run (runtimes/tf_ops.py)

    [inputs.x]             # a Python model's signature (see moorings.runtimes.python_signature)
    dtype = "float32"
    shape = [-1, 4]
    [outputs.y]
    dtype = "float32"
    shape = [-1, 3]

    [batching]             # over the server's defaults (see moorings.batch_settings)
    enabled = true
    max_batch_size = 64
    batch_timeout_micros = 0
    max_enqueued_batches = 64
    allowed_batch_sizes = [8, 16, 32, 64]
    batch_threads = 2

    [inputs.image]         # raw inputs: clients send encoded images (see moorings.preprocess.spec)
    kind = "image"
    size = [224, 224]
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorings.batch_settings import BatchingSettings, parse_batching
from moorings.errors import InvalidArgument
from moorings.fetch.settings import FetchSettings
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import Declaration, parse_inputs

MODEL_CONFIG_FILE = "model.toml"
LABEL_PATTERN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class VersionPolicy:
    kind: str = "latest"
    latest: int = 1
    specific: tuple[int, ...] = ()

    def select(self, available: list[int]) -> list[int]:
        """The versions to serve out of those present in the repository."""
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            wanted = set(self.specific)
            return [v for v in ordered if v in wanted]
        return ordered[-self.latest :] if self.latest > 0 else []


@dataclass(frozen=True)
class RuntimeOptions:
    name: str | None = None
    intra_op_threads: int | None = None
    trusted_types: tuple[str, ...] = ()
    allow_unsafe_pickle: bool = False
    #: run a version's model.py (``--allow-python-models``): user code with the server's rights
    allow_python_models: bool = False
    #: model.toml's ``[inputs.<name>]`` and ``[outputs.<name>]`` tables, as written
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: TensorFlow ops refused by default (file system, printing, Python) that this model may run
    allowed_ops: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelConfig:
    policy: VersionPolicy = field(default_factory=VersionPolicy)
    labels: dict[str, int] = field(default_factory=dict)
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    #: the model's ``[batching]`` table, applied over the server's defaults when a version loads
    batching: dict[str, Any] = field(default_factory=dict)
    #: ``[classes] output``: the output that a version's class names name (None: the only float
    #: output of rank 2 of the signature a request runs)
    classes_output: str | None = None
    #: ``[inputs.<name>]`` tables with a ``kind``: inputs that clients send raw (encoded images,
    #: text), by input name (tables without one are a Python model's signature)
    inputs: dict[str, Declaration] = field(default_factory=dict)

    def batching_settings(self, defaults: BatchingSettings) -> BatchingSettings:
        return parse_batching(self.batching, defaults)


def available_cores() -> int:
    """Cores this process may run on (respects taskset / cgroup affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerSettings:
    repository: Path
    host: str = "127.0.0.1"
    rest_port: int = 8501
    grpc_port: int = 8500
    max_grpc_message_bytes: int = 64 * 1024 * 1024
    #: serve TF Serving's gRPC API (its protos import TensorFlow: seconds and hundreds of MB)
    tfserving_grpc: bool = True
    #: several worker processes share the ports (``--workers``): gRPC binds with SO_REUSEPORT
    reuse_port: bool = False
    poll_seconds: float = 1.0
    allow_unsafe_pickle: bool = False
    #: load versions that hold a model.py (Python models run with the server's rights)
    allow_python_models: bool = False
    max_body_bytes: int = 64 * 1024 * 1024
    #: the gRPC front end: "grpcio" (grpc.aio) or "moorings" (its own HTTP/2 server, unary calls)
    grpc_server: str = "grpcio"
    #: the REST front end: "moorings" (its own HTTP/1.1 server) or "uvicorn" (ASGI)
    http_server: str = "moorings"
    #: an idle keep-alive REST connection is closed after this many seconds
    keep_alive_seconds: float = 5.0
    #: on SIGTERM/SIGINT, how long REST and gRPC calls under way may take to finish (all front ends)
    drain_seconds: float = 30.0
    #: on SIGTERM, how long the listeners keep answering as before (readiness 503) before the drain
    drain_delay_seconds: float = 0.0
    #: raw inputs (model.toml ``[inputs]``): pixels and bytes per image, decoded bytes per request
    input_limits: InputLimits = field(default_factory=InputLimits)
    #: a REST request's deadline when it names none (``Request-Timeout``); 0: none
    request_timeout_seconds: float = 0.0
    #: a version's warm-up replay must end within this long, or its load fails
    warmup_seconds: float = 300.0
    inference_threads: int = field(default_factory=lambda: max(2, available_cores()))
    #: allocations between two young-generation garbage collections; 0 keeps Python's own (700)
    gc_threshold: int = 50_000
    load_threads: int = 2
    batching: BatchingSettings = field(default_factory=BatchingSettings)
    #: embedding search: "embedded" (FAISS, persisted under data_dir/collections) or a postgresql:// URL
    search_store: str = "embedded"
    #: on PostgreSQL: "auto" (pgvector when installed, else cube), "pgvector" or "cube"
    search_backend: str = "auto"
    data_dir: Path = Path("moorings-data")
    #: origins whose browser apps may call the REST API (``*``: any); empty: no CORS headers
    cors_origins: tuple[str, ...] = ()
    #: Prometheus metrics at /metrics (off: ``--no-metrics``)
    metrics: bool = True
    #: also serve /metrics on this port (None: only on the REST port)
    metrics_port: int | None = None
    #: "text" or "json" (JSON lines, with an access-log line per model request)
    log_format: str = "text"
    #: tokens every REST request and gRPC call must present (health probes excepted); None: no auth
    auth_token_file: Path | None = None
    #: the management API's port (None: off), its address and its token file (required with the port)
    admin_port: int | None = None
    admin_host: str = "127.0.0.1"
    admin_token_file: Path | None = None
    #: refuse collection writes on the REST port (403 naming the admin port)
    read_only_data_plane: bool = False
    #: inputs by URL (``{"url": ...}``): allowed buckets and endpoints, limits (none allowed by default)
    input_urls: FetchSettings = field(default_factory=FetchSettings)


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{where} must be a non-negative integer, got {value!r}")
    return value


def parse_model_config(data: dict[str, Any]) -> ModelConfig:
    """Validate the parsed TOML of a model.toml; raise InvalidArgument naming the bad key."""
    unknown = set(data) - {"versions", "labels", "runtime", "batching", "classes", "inputs", "outputs"}
    if unknown:
        raise InvalidArgument(f"unknown section(s) in model.toml: {', '.join(sorted(unknown))}")

    versions = data.get("versions", {})
    if not isinstance(versions, dict):
        raise InvalidArgument("[versions] must be a table")
    kind = versions.get("policy", "latest")
    if kind not in ("latest", "all", "specific"):
        raise InvalidArgument(f"versions.policy must be latest, all or specific, got {kind!r}")
    latest = _positive_int(versions.get("latest", 1), "versions.latest")
    specific_raw = versions.get("specific", [])
    if not isinstance(specific_raw, list):
        raise InvalidArgument("versions.specific must be a list of versions")
    specific = tuple(_positive_int(v, "versions.specific[]") for v in specific_raw)
    if kind == "specific" and not specific:
        raise InvalidArgument("versions.policy = 'specific' needs versions.specific = [...]")
    policy = VersionPolicy(kind=kind, latest=latest, specific=specific)

    labels_raw = data.get("labels", {})
    if not isinstance(labels_raw, dict):
        raise InvalidArgument("[labels] must be a table of label = version")
    labels: dict[str, int] = {}
    for label, version in labels_raw.items():
        if not label or not set(label) <= LABEL_PATTERN_CHARS or label[0].isdigit():
            raise InvalidArgument(f"label {label!r} must be letters, digits, '_', '-' or '.'")
        labels[label] = _positive_int(version, f"labels.{label}")

    runtime_raw = data.get("runtime", {})
    if not isinstance(runtime_raw, dict):
        raise InvalidArgument("[runtime] must be a table")
    name = runtime_raw.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidArgument("runtime.name must be a string")
    threads = runtime_raw.get("intra_op_threads")
    if threads is not None:
        threads = _positive_int(threads, "runtime.intra_op_threads")
    trusted = runtime_raw.get("trusted_types", [])
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise InvalidArgument("runtime.trusted_types must be a list of strings")
    allowed = runtime_raw.get("allowed_ops", [])
    if not isinstance(allowed, list) or not all(isinstance(op, str) and op for op in allowed):
        raise InvalidArgument('runtime.allowed_ops must be a list of op names, e.g. ["PrintV2"]')
    runtime = RuntimeOptions(
        name=name,
        intra_op_threads=threads,
        trusted_types=tuple(trusted),
        allowed_ops=tuple(allowed),
        inputs=_tensor_tables(data, "inputs"),
        outputs=_tensor_tables(data, "outputs"),
    )
    batching = data.get("batching", {})
    parse_batching(batching, BatchingSettings())  # validate now; applied over server defaults at load
    classes = data.get("classes", {})
    if not isinstance(classes, dict) or set(classes) - {"output"}:
        raise InvalidArgument("[classes] must be a table with only 'output' (the output to rank)")
    classes_output = classes.get("output")
    if classes_output is not None and (not isinstance(classes_output, str) or not classes_output):
        raise InvalidArgument("classes.output must be the name of an output")
    return ModelConfig(
        policy=policy,
        labels=labels,
        runtime=runtime,
        batching=dict(batching),
        classes_output=classes_output,
        inputs=parse_inputs({k: v for k, v in runtime.inputs.items() if "kind" in v}),
    )


def _tensor_tables(data: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    """``[inputs.<name>]`` / ``[outputs.<name>]``: a table per tensor (its keys are read where used)."""
    tables = data.get(section, {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise InvalidArgument(f"[{section}] must hold one table per tensor, e.g. [{section}.x]")
    return {name: dict(table) for name, table in tables.items()}


def parse_model_toml(text: str) -> ModelConfig:
    """Parse and validate the text of a model.toml; raise InvalidArgument naming what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"model.toml is not valid TOML: {exc}") from None
    return parse_model_config(data)
