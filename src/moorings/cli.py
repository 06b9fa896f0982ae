"""The ``moorings`` command."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from moorings import __version__
from moorings.batch_settings import BatchingSettings, parse_batching
from moorings.cli_auth import add_auth_arguments, check_auth_settings
from moorings.cli_collection import add_search_arguments, register_collection, run_collection
from moorings.config import ServerSettings, available_cores
from moorings.errors import MooringsError
from moorings.fetch import arguments as input_urls
from moorings.observe import logs, tracing
from moorings.preprocess.limits import InputLimits
from moorings.sockets import port_in_use

T = TypeVar("T")


def _number(text: str, convert: Callable[[str], T], noun: str) -> T:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None


def _within(value: T, ok: bool, rule: str, text: str) -> T:
    if not ok:
        raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (a limit of 0 would refuse every request)."""
    value = _number(text, float, "a number")
    return _within(value, 0 < value < math.inf, "must be a number above 0", text)


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of 0 or more."""
    value = _number(text, float, "a number")
    return _within(value, 0 <= value < math.inf, "must be a number of 0 or more", text)


def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    return _within(value, value >= 1, "must be 1 or more", text)


def port(text: str) -> int:
    value = _number(text, int, "a port number")
    return _within(value, 0 <= value <= 65535, "a port is 0 to 65535", text)


def _serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve every model in a model repository")
    p.add_argument("repository", type=Path, help="folder laid out as REPO/<model>/<version>/")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--rest-port", type=port, default=8501, help="REST API port (default 8501)")
    p.add_argument(
        "--grpc-port", type=port, default=8500, help="gRPC port, TF Serving and KServe V2 (default 8500)"
    )
    p.add_argument(
        "--poll-seconds",
        type=positive_float,
        default=1.0,
        help="how often to look for new, changed or removed versions (default 1)",
    )
    p.add_argument(
        "--allow-unsafe-pickle",
        action="store_true",
        help="load model.joblib / model.pkl (scikit-learn) and model.pt2 (torch.export), which unpickle: "
        "they run code, so trust the files",
    )
    p.add_argument(
        "--allow-python-models",
        action="store_true",
        help="load Python models (a version's model.py): their code runs with the server's rights",
    )
    p.add_argument(
        "--no-tfserving-grpc",
        dest="tfserving_grpc",
        action="store_false",
        help="do not serve TF Serving's gRPC API (its services answer UNIMPLEMENTED)",
    )
    p.add_argument(
        "--max-grpc-message-mb",
        type=positive_float,
        default=64.0,
        help="largest gRPC message received or sent (default 64 MiB); larger gets RESOURCE_EXHAUSTED",
    )
    p.add_argument(
        "--max-body-mb",
        type=positive_float,
        default=64.0,
        help="largest request body accepted (default 64 MiB)",
    )
    p.add_argument(
        "--max-image-pixels",
        type=positive_int,
        default=40_000_000,
        help="image inputs: the most pixels (width x height) an image may declare (default 40 million)",
    )
    p.add_argument(
        "--max-image-mb",
        type=positive_float,
        default=20.0,
        help="image inputs: the largest encoded image, and multipart file part (default 20 MiB)",
    )
    p.add_argument(
        "--max-decoded-image-mb",
        type=positive_float,
        default=512.0,
        help="image inputs: the largest tensor one request's images may decode to (default 512 MiB)",
    )
    p.add_argument(
        "--http-server",
        choices=["moorings", "uvicorn"],
        default="moorings",
        help="REST front end: Moorings' own HTTP/1.1 server (default) or uvicorn (ASGI)",
    )
    p.add_argument(
        "--grpc-server",
        choices=["grpcio", "moorings"],
        default="grpcio",
        help="gRPC front end: grpcio's server (default) or Moorings' own HTTP/2 server "
        "(unary calls only; a fraction of grpcio's CPU per call)",
    )
    p.add_argument(
        "--keep-alive-seconds",
        type=positive_float,
        default=5.0,
        help="close an idle keep-alive REST connection after this long (default 5)",
    )
    p.add_argument(
        "--drain-seconds",
        type=non_negative_float,
        default=30.0,
        help="on SIGTERM, let REST requests and gRPC calls under way finish for up to this long (default 30)",
    )
    p.add_argument(
        "--drain-delay-seconds",
        type=non_negative_float,
        default=0.0,
        help="on SIGTERM, answer as before for this long with /v2/health/ready 503 (so a load balancer "
        "stops sending), then drain (default 0)",
    )
    p.add_argument(
        "--request-timeout-seconds",
        type=non_negative_float,
        default=0.0,
        help="a REST request not started within this long gets 504; the Request-Timeout header or a V2 "
        "request's parameters.timeout may set a shorter one (default 0: none)",
    )
    p.add_argument(
        "--warmup-seconds",
        type=positive_float,
        default=300.0,
        help="a version's warm-up requests must all run within this long, or its load fails (default 300)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="serving processes sharing the REST socket, each pinned to its share of the cores (default 1)",
    )
    p.add_argument(
        "--inference-threads",
        type=int,
        default=None,
        help="threads running inference (default: the number of cores, at least 2)",
    )
    p.add_argument(
        "--gc-threshold",
        type=int,
        default=ServerSettings.gc_threshold,
        help="allocations between two young-generation garbage collections; 0 keeps Python's "
        "default of 700, which under concurrent load collects every few dozen requests "
        "(default %(default)s)",
    )
    b = p.add_argument_group("dynamic batching (defaults; a model's [batching] table overrides them)")
    b.add_argument(
        "--no-batching", dest="batching", action="store_false", help="run every request on its own"
    )
    b.add_argument("--max-batch-size", type=positive_int, default=64, help="most rows in one model call (64)")
    b.add_argument(
        "--batch-timeout-micros",
        type=int,
        default=0,
        help="how long a batch waits for more requests; 0 never waits (default 0)",
    )
    b.add_argument(
        "--max-enqueued-batches",
        type=positive_int,
        default=64,
        help="queue bound in batches; beyond it requests get 429 / RESOURCE_EXHAUSTED; also the bound on "
        "unbatched calls waiting for the inference threads (64)",
    )
    b.add_argument(
        "--batch-threads",
        type=int,
        default=None,
        help="threads running batches per model version (default: the number of cores)",
    )
    b.add_argument(
        "--inline-micros",
        type=int,
        default=BatchingSettings.inline_micros,
        help="a lone request to an idle model whose small calls take less than this runs on the event "
        "loop thread, skipping the hand-off to a batch thread; 0: never (default %(default)s)",
    )
    add_search_arguments(p)
    input_urls.add_arguments(p)
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let browser apps from ORIGIN call the REST API (repeatable; '*' for any; default: none)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    add_auth_arguments(p)
    o = p.add_argument_group("metrics and logs")
    o.add_argument(
        "--no-metrics",
        dest="metrics",
        action="store_false",
        help="no Prometheus metrics (by default they are served at /metrics on the REST port)",
    )
    o.add_argument(
        "--metrics-port", type=port, default=None, help="also serve /metrics on this port (same --host)"
    )
    o.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="json: one JSON object per log line, and an access-log line per model request (default text)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="moorings", description="Moorings model server")
    parser.add_argument("--version", action="version", version=f"moorings {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    register_collection(sub)
    args = parser.parse_args(argv)

    if args.command == "collection":
        return run_collection(parser, args)
    if args.command == "serve":
        try:
            return _serve(parser, args)
        except MooringsError as exc:
            parser.error(exc.message)
    return 0


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logs.configure(args.log_level.upper(), args.log_format, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    repository: Path = args.repository
    if not repository.is_dir():
        parser.error(f"the model repository {repository} is not a folder")
    batching = parse_batching(
        {
            "enabled": args.batching,
            "max_batch_size": args.max_batch_size,
            "batch_timeout_micros": args.batch_timeout_micros,
            "max_enqueued_batches": args.max_enqueued_batches,
            "batch_threads": args.batch_threads or max(1, available_cores() // max(1, args.workers)),
            "inline_micros": args.inline_micros,
        },
        BatchingSettings(),
    )
    settings = ServerSettings(
        repository=repository,
        host=args.host,
        rest_port=args.rest_port,
        grpc_port=args.grpc_port,
        max_grpc_message_bytes=int(args.max_grpc_message_mb * 1024 * 1024),
        tfserving_grpc=args.tfserving_grpc,
        poll_seconds=args.poll_seconds,
        allow_unsafe_pickle=args.allow_unsafe_pickle,
        allow_python_models=args.allow_python_models,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        input_limits=InputLimits(
            max_image_pixels=args.max_image_pixels,
            max_image_bytes=int(args.max_image_mb * 1024 * 1024),
            max_decoded_bytes=int(args.max_decoded_image_mb * 1024 * 1024),
        ),
        http_server=args.http_server,
        grpc_server=args.grpc_server,
        keep_alive_seconds=args.keep_alive_seconds,
        drain_seconds=args.drain_seconds,
        drain_delay_seconds=args.drain_delay_seconds,
        request_timeout_seconds=args.request_timeout_seconds,
        warmup_seconds=args.warmup_seconds,
        gc_threshold=args.gc_threshold,
        batching=batching,
        search_store=args.search_store,
        search_backend=args.search_backend,
        data_dir=args.data_dir,
        cors_origins=tuple(args.cors_origin),
        metrics=args.metrics,
        metrics_port=args.metrics_port,
        log_format=args.log_format,
        auth_token_file=args.auth_token_file,
        admin_port=args.admin_port,
        admin_host=args.admin_host,
        admin_token_file=args.admin_token_file,
        read_only_data_plane=args.read_only_data_plane,
        input_urls=input_urls.settings_from(args),
    )
    check_auth_settings(settings, args.workers)
    if args.inference_threads:
        settings = dataclasses.replace(settings, inference_threads=args.inference_threads)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.gc_threshold < 0:
        parser.error("--gc-threshold must be 0 or more")
    ports = [("REST", settings.rest_port, "--rest-port"), ("gRPC", settings.grpc_port, "--grpc-port")]
    if settings.admin_port and settings.admin_port in (
        settings.rest_port,
        settings.grpc_port,
        settings.metrics_port,
    ):
        parser.error("--admin-port must differ from the REST, gRPC and metrics ports")
    if settings.metrics_port is not None:
        if settings.metrics_port in (settings.rest_port, settings.grpc_port):
            parser.error("--metrics-port must differ from --rest-port and --grpc-port")
        ports.append(("metrics", settings.metrics_port, "--metrics-port"))
    for what, port, flag in ports:
        if port_in_use(settings.host, port):
            print(
                f"moorings serve: port {port} ({what}) is in use; choose another with {flag}", file=sys.stderr
            )
            return 2
    if settings.admin_port is not None and port_in_use(settings.admin_host, settings.admin_port):
        taken = f"port {settings.admin_port} (admin) is in use; choose another with --admin-port"
        print(f"moorings serve: {taken}", file=sys.stderr)
        return 2
    try:
        tracing.check()
    except ValueError as exc:
        print(f"moorings serve: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1:
        from moorings.workers import serve_workers

        return serve_workers(settings, args.workers)
    from moorings.server import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
