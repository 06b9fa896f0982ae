"""Start-up checks of the authentication flags."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from moorings.cli_auth import check_auth_settings, is_loopback
from moorings.config import ServerSettings
from moorings.errors import InvalidArgument


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.org")


def test_exposed_ports_without_tokens_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    check_auth_settings(ServerSettings(tmp_path), workers=1)
    assert "without --auth-token-file" not in caplog.text
    check_auth_settings(ServerSettings(tmp_path, host="0.0.0.0"), workers=1)
    assert "serving on 0.0.0.0 without --auth-token-file" in caplog.text
    (tmp_path / "tokens").write_text("t0k3n\n")
    caplog.clear()
    exposed_admin = ServerSettings(
        tmp_path, admin_port=0, admin_host="0.0.0.0", admin_token_file=tmp_path / "tokens"
    )
    with caplog.at_level(logging.WARNING):
        check_auth_settings(exposed_admin, workers=1)
    assert "the admin port listens on 0.0.0.0" in caplog.text


def test_admin_flags_go_together(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="needs --admin-token-file"):
        check_auth_settings(ServerSettings(tmp_path, admin_port=0), workers=1)
    with pytest.raises(InvalidArgument, match="port from 0 to 65535"):
        check_auth_settings(ServerSettings(tmp_path, admin_port=70000), workers=1)
