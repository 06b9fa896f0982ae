"""Keep TensorFlow's start-up chatter about missing GPUs and CPU builds out of the server's log.

TensorFlow's C++ side writes straight to file descriptor 2 while it loads and probes for CUDA
("Could not find cuda drivers", "failed call to cuInit", the oneDNN and CPU-instruction notes)
before its own log level applies. :func:`filtered` points fd 2 at a pipe for the duration, drops
the lines known to be that chatter, and writes every other line back to the real stderr, in
order, when the block ends (nothing else is lost, only delayed by the block's duration).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

#: substrings of lines that carry no information for a server without a GPU
NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "cudart_stub.cc",
    "failed call to cuInit",
    "cuda_platform.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions:",
    "oneDNN custom operations are on",
    "Unable to register cu",
)


@contextlib.contextmanager
def filtered(noise: tuple[str, ...] = NOISE) -> Iterator[None]:
    """Within the block, lines written to fd 2 that contain one of ``noise`` are dropped."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    kept: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_end, kept), name="moorings-stderr", daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees the end
        reader.join(5)
        for line in kept:
            if not any(n.encode() in line for n in noise):
                os.write(saved, line)
        os.close(saved)


def _drain(fd: int, lines: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as pipe:
        lines.extend(pipe)
