"""JPEG uploads to a served image model against an in-process loop doing the same work.

    .venv/bin/python benchmarks/build_models.py        # EfficientNet-Lite0 (needs benchmarks/setup.sh)
    .venv/bin/python benchmarks/images.py --seconds 20 --rounds 2

Both sides run on core 0 with one ONNX Runtime thread: the in-process loop decodes and
resizes two JPEGs with Moorings' own image decoder (``moorings.preprocess.image``, so the
work is the same) and runs the model on the batch of two; the server (``moorings serve``,
one batch thread, ``max_batch_size = 2``) takes ``multipart/form-data`` uploads of one JPEG
each from a load generator on core 1 (asyncio, raw HTTP/1.1 keep-alive connections, the
request bytes built once) at concurrency 16. The images are the two photos scikit-learn ships
(china.jpg, flower.jpg: 640x427 camera JPEGs). When benchmarks/setup.sh has made its venv, the
hand-written FastAPI + python-multipart + Pillow + ONNX Runtime upload handler
(benchmarks/peers/fastapi_upload.py, uvicorn with httptools and uvloop) is driven the same way.
Prints images/s of each, served / in-process
and the CPU per image of each (utime + stime: on a busy machine the steadier figure), per
round, and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.build_models import REPOS, model_dir  # noqa: E402
from benchmarks.proc import tree_cpu_seconds  # noqa: E402

NAME = "effnet-images"
#: the hand-written FastAPI upload handler's venv (benchmarks/setup.sh makes it)
PEER_VENV = HERE / ".venvs/fastapi-upload"
MODEL_TOML = """# EfficientNet-Lite0 taking JPEG uploads (benchmarks/images.py)
[inputs.images]
kind = "image"
size = [224, 224]
scale = 0.00392156862745098
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]

[runtime]
intra_op_threads = 1

[batching]
max_batch_size = 2
batch_threads = 1
"""


def photos() -> list[bytes]:
    import sklearn

    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    return [(folder / name).read_bytes() for name in ("china.jpg", "flower.jpg")]


def repository() -> Path:
    """A repository holding EfficientNet-Lite0 with its input declared as an image."""
    source = model_dir("effnet") / "model.onnx"
    if not source.exists():
        sys.exit("no EfficientNet-Lite0: run benchmarks/setup.sh and benchmarks/build_models.py first")
    version = REPOS / NAME / NAME / "1"
    version.mkdir(parents=True, exist_ok=True)
    if not (version / "model.onnx").exists():
        shutil.copyfile(source, version / "model.onnx")  # a link out of the repository is refused
    (version.parent / "model.toml").write_text(MODEL_TOML)
    return REPOS / NAME


def in_process(seconds: float) -> tuple[float, float]:
    """(images/s, CPU ms per image) of decode + resize + normalise (Moorings' decoder) + the model
    on batches of two."""
    import numpy as np
    import onnxruntime as ort

    from moorings.config import parse_model_toml
    from moorings.preprocess.image import bind_image
    from moorings.preprocess.limits import InputLimits
    from moorings.preprocess.spec import ImageInput
    from moorings.runtimes.onnx import OnnxRuntime

    folder = repository() / NAME / "1"
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    declared = parse_model_toml(MODEL_TOML).inputs["images"]
    assert isinstance(declared, ImageInput)
    runtime = OnnxRuntime(folder, parse_model_toml(MODEL_TOML).runtime)
    runtime.load()
    tensor = runtime.signatures["serving_default"].inputs["images"]
    image = bind_image(declared, tensor, InputLimits())
    batch = np.empty(2, dtype=object)
    batch[:] = photos()
    for _ in range(3):
        session.run(None, {"images": image.convert(batch)})
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        session.run(None, {"images": image.convert(batch)})
        done += 2
    return done / elapsed, 1000 * (time.process_time() - cpu) / done


def upload_request(port: int, jpeg: bytes, path: str) -> bytes:
    boundary = b"moorings-benchmark-boundary"
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="images"; filename="photo.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n--" + boundary + b"--\r\n"
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _client(
    port: int, requests: list[bytes], until: float, counts: list[int], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.perf_counter() < until:
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(body[:200].decode(errors="replace"))
                return
            counts[0] += 1
    finally:
        writer.close()


async def _load(port: int, concurrency: int, seconds: float, path: str) -> int:
    requests = [upload_request(port, jpeg, path) for jpeg in photos()]
    counts, errors = [0], []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_client(port, requests, until, counts, errors) for _ in range(concurrency)))
    if errors:
        raise RuntimeError(f"the server answered an error: {errors[0]}")
    return counts[0]


def served(concurrency: int, seconds: float, warmup: float, peer: bool = False) -> tuple[float, float]:
    """(images/s, server CPU ms per image) of JPEG uploads, the server alone on core 0: Moorings, or
    with ``peer`` the hand-written FastAPI upload handler (benchmarks/peers/fastapi_upload.py)."""
    from tests.support.server import free_port

    port, grpc_port = free_port(), free_port()
    env = dict(os.environ)
    if peer:
        path = "/predict"
        env.update(MODEL=str(repository() / NAME / "1" / "model.onnx"), THREADS="1", PYTHONPATH=str(ROOT))
        command = [
            str(PEER_VENV / "bin/uvicorn"), "benchmarks.peers.fastapi_upload:app", "--host", "127.0.0.1",
            "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
        ready = f"http://127.0.0.1:{port}/docs"
    else:
        path = f"/v1/models/{NAME}:predict"
        command = [
            str(ROOT / ".venv/bin/moorings"), "serve", str(repository()),
            "--rest-port", str(port), "--grpc-port", str(grpc_port), "--no-tfserving-grpc",
            "--inference-threads", "1", "--log-level", "warning",
        ]  # fmt: skip
        ready = f"http://127.0.0.1:{port}/v2/health/ready"
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        asyncio.run(_load(port, concurrency, warmup, path))
        cpu = tree_cpu_seconds(process.pid)
        start = time.perf_counter()
        images = asyncio.run(_load(port, concurrency, seconds, path))
        elapsed = time.perf_counter() - start
        cpu = tree_cpu_seconds(process.pid) - cpu
        return images / elapsed, 1000 * cpu / images
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:  # the child: one measurement, pinned by the parent
        rate, cpu_ms = in_process(args.seconds)
        print(json.dumps({"images_per_s": rate, "cpu_ms_per_image": cpu_ms}))
        return
    os.sched_setaffinity(0, {1})  # the load generator on core 1
    rounds = []
    for r in range(args.rounds):
        child = [
            "taskset", "-c", "0", sys.executable, __file__, "--in-process", "--seconds", str(args.seconds),
        ]  # fmt: skip
        measured = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
        loop, loop_ms = measured["images_per_s"], measured["cpu_ms_per_image"]
        rate, cpu_ms = served(args.concurrency, args.seconds, args.warmup)
        row = {
            "in_process": loop,
            "served": rate,
            "ratio": rate / loop,
            "in_process_cpu_ms_per_image": loop_ms,
            "server_cpu_ms_per_image": cpu_ms,
            "cpu_ratio": loop_ms / cpu_ms,
        }
        line = (
            f"round {r + 1}: in-process {loop:.1f} images/s ({loop_ms:.1f} ms CPU each), served "
            f"{rate:.1f} images/s ({cpu_ms:.1f} ms CPU each): served / in-process {100 * rate / loop:.0f} % "
            f"by images/s, {100 * loop_ms / cpu_ms:.0f} % by CPU per image"
        )
        if (PEER_VENV / "bin/uvicorn").exists():
            peer_rate, peer_ms = served(args.concurrency, args.seconds, args.warmup, peer=True)
            row.update(fastapi=peer_rate, fastapi_cpu_ms_per_image=peer_ms)
            line += (
                f"; FastAPI handler {peer_rate:.1f} images/s ({peer_ms:.1f} ms CPU each): Moorings "
                f"{rate / peer_rate:.2f}x by images/s, {peer_ms / cpu_ms:.2f}x by CPU per image"
            )
        rounds.append(row)
        print(line, flush=True)
    print(json.dumps({"concurrency": args.concurrency, "seconds": args.seconds, "rounds": rounds}))


if __name__ == "__main__":
    main()
