"""Start-up with one ONNX model: when the first REST predict succeeds, and when the server reports ready.

    python benchmarks/protocols/startup.py [--runs 3]

For any repository, with resident memory, see ``scripts/serve_startup.py``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.models import mlp  # noqa: E402
from benchmarks.protocols.run import free_port  # noqa: E402


def once(repo: Path) -> tuple[float, float]:
    rest, grpc_port = free_port(), free_port()
    body = orjson.dumps({"instances": [[0.1] * 784]})
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "moorings", "serve", str(repo), "--rest-port", str(rest),
         "--grpc-port", str(grpc_port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    first = ready = None
    try:
        while ready is None and time.monotonic() - start < 120:
            try:
                if first is None:
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{rest}/v1/models/mlp:predict", data=body
                    )
                    with urllib.request.urlopen(request, timeout=1):
                        first = time.monotonic() - start
                with urllib.request.urlopen(f"http://127.0.0.1:{rest}/v2/health/ready", timeout=1):
                    ready = time.monotonic() - start
            except OSError:
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(30)
    if first is None or ready is None:
        raise RuntimeError("the server did not become ready")
    return first, ready


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        mlp.write_onnx(repo / "mlp" / "1")
        results = [once(repo) for _ in range(args.runs)]
    firsts, readies = zip(*results, strict=True)
    for label, values in (("first REST predict", firsts), ("ready", readies)):
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{label:20s} median {statistics.median(values):.2f} s  ({runs})")


if __name__ == "__main__":
    main()
