"""``moorings serve``'s flags for authentication and the admin port, and their start-up checks."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path

from moorings.auth.tokens import read_token_file
from moorings.config import ServerSettings
from moorings.errors import InvalidArgument

log = logging.getLogger("moorings.auth")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_auth_arguments(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("authentication and the admin port")
    a.add_argument(
        "--auth-token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="require a token on every REST request and gRPC call (health probes excepted): one token "
        "per line, sent as 'Authorization: Bearer <token>' or 'X-API-Key: <token>'; the file is read "
        "again when it changes or on SIGHUP (default: no authentication)",
    )
    a.add_argument(
        "--admin-port",
        type=int,
        default=None,
        help="serve the management API (model repository load/unload/index, collection writes, "
        "reload) on this port (default: off); needs --admin-token-file",
    )
    a.add_argument("--admin-host", default="127.0.0.1", help="address of the admin port (default 127.0.0.1)")
    a.add_argument(
        "--admin-token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="the tokens the admin port accepts (same format as --auth-token-file)",
    )
    a.add_argument(
        "--read-only-data-plane",
        action="store_true",
        help="refuse collection writes on the REST port (403); make them on the admin port",
    )


def check_auth_settings(settings: ServerSettings, workers: int) -> None:
    """Raise InvalidArgument naming what is wrong: a bad token file, a missing admin token file..."""
    if settings.auth_token_file is not None:
        read_token_file(settings.auth_token_file, "--auth-token-file")
    elif not is_loopback(settings.host):
        log.warning(
            "serving on %s without --auth-token-file: anyone who reaches these ports can call every model",
            settings.host,
        )
    if settings.admin_port is None:
        if settings.admin_token_file is not None:
            raise InvalidArgument("--admin-token-file is given without --admin-port")
        return
    if not 0 <= settings.admin_port <= 65535:
        raise InvalidArgument(f"--admin-port must be a port from 0 to 65535, got {settings.admin_port}")
    if settings.admin_token_file is None:
        raise InvalidArgument("--admin-port needs --admin-token-file: the admin port always requires a token")
    read_token_file(settings.admin_token_file, "--admin-token-file")
    if not is_loopback(settings.admin_host):
        log.warning("the admin port listens on %s, beyond this machine", settings.admin_host)
    if workers > 1:
        raise InvalidArgument(
            "--admin-port serves one process's models; it cannot be combined with --workers"
        )
