"""``moorings serve``'s flags for inputs by URL, and the settings they make."""

from __future__ import annotations

import argparse

from moorings.fetch.allowlist import AllowList
from moorings.fetch.settings import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_SECONDS, FetchSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        'inputs by URL ({"url": "s3://bucket/key"} or a presigned https URL in place of {"b64": ...})'
    )
    group.add_argument(
        "--allow-input-url",
        action="append",
        default=[],
        metavar="URL",
        help="let requests give inputs by URL from s3://bucket[/prefix] or an endpoint https://host[:port] "
        "(repeatable; http://host:port for a plain-HTTP endpoint; an endpoint given by IP address may be "
        "private or loopback, one given by name only public). Default: none, every URL refused",
    )
    group.add_argument(
        "--s3-endpoint-url",
        default=None,
        metavar="URL",
        help="the S3-compatible store that s3:// URLs are read from (default: AWS); credentials come "
        "from the usual AWS environment variables and config files",
    )
    group.add_argument(
        "--max-input-url-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BYTES,
        help="most bytes fetched for one request, all its URLs together; beyond: 413 (default 64 MiB)",
    )
    group.add_argument(
        "--input-url-timeout-seconds",
        type=_positive_float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="how long one request's fetches may take; beyond: 504 (default %(default)s)",
    )


def settings_from(args: argparse.Namespace) -> FetchSettings:
    """The settings of parsed flags; InvalidArgument naming a bad --allow-input-url entry."""
    allowed = tuple(args.allow_input_url)
    AllowList.parse(allowed)  # refuse a bad entry at start-up
    return FetchSettings(
        allowed=allowed,
        s3_endpoint_url=args.s3_endpoint_url,
        max_bytes=args.max_input_url_bytes,
        timeout_seconds=args.input_url_timeout_seconds,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text!r}")
    return value
