"""TensorFlow's native start-up chatter is dropped from fd 2; every other line comes through, in order."""

from __future__ import annotations

import os

import pytest

from moorings.runtimes import native_stderr


def test_noise_is_dropped_and_the_rest_kept(capfd: pytest.CaptureFixture[str]) -> None:
    with native_stderr.filtered():
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n")
        os.write(2, b"a real error from a native library\n")
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\n")
        os.write(2, b"second line kept\n")
    os.write(2, b"after the block\n")
    assert capfd.readouterr().err == "a real error from a native library\nsecond line kept\nafter the block\n"


def test_an_exception_in_the_block_still_restores_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), native_stderr.filtered():
        os.write(2, b"kept before the error\n")
        raise RuntimeError("boom")
    os.write(2, b"restored\n")
    assert capfd.readouterr().err == "kept before the error\nrestored\n"
