"""The `moorings` command's argument checks: settings that cannot serve are refused at start-up."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from moorings.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-body-mb", "0"], "--max-body-mb: must be a number above 0, got '0'"),
        (["--max-body-mb", "-1"], "--max-body-mb: must be a number above 0"),
        (["--max-body-mb", "nan"], "--max-body-mb: must be a number above 0"),
        (["--max-grpc-message-mb", "0"], "--max-grpc-message-mb: must be a number above 0"),
        (["--keep-alive-seconds", "0"], "--keep-alive-seconds: must be a number above 0"),
        (["--poll-seconds", "-5"], "--poll-seconds: must be a number above 0"),
        (["--rest-port", "70000"], "--rest-port: a port is 0 to 65535"),
        (["--grpc-port", "x"], "--grpc-port: 'x' is not a port number"),
        (["--max-batch-size", "0"], "--max-batch-size: must be 1 or more"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--drain-seconds", "-1"], "--drain-seconds: must be a number of 0 or more"),
        (["--metrics-port", "8501"], "--metrics-port must differ from --rest-port and --grpc-port"),
        (["--metrics-port", "x"], "--metrics-port: 'x' is not a port number"),
        (["--log-format", "xml"], "--log-format: invalid choice: 'xml'"),
    ],
)
def test_unservable_settings_are_refused(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(tmp_path), *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_port_in_use_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(tmp_path), "--rest-port", "0", "--grpc-port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"moorings serve: port {port} (gRPC) is in use; choose another with --grpc-port"
