"""CPU cost of each stage of the TF Serving REST :predict path for one MLP request (no HTTP, no threads).

    taskset -c 0 .venv/bin/python benchmarks/stages.py

The sum of these, plus the HTTP floor (``floor/echo_app.py`` under wrk) and the
asyncio/batching hand-offs, is what one request costs the server's core.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bodies import write_all  # noqa: E402

from moorings.batching.settings import BatchingSettings  # noqa: E402
from moorings.codecs import tfserving_json as tfjson  # noqa: E402
from moorings.codecs.json_fast import parse_leading_array  # noqa: E402
from moorings.config import ServerSettings  # noqa: E402
from moorings.dataplane import check_inputs  # noqa: E402
from moorings.rest import tfserving  # noqa: E402
from moorings.rest.http import dump_json, parse_json, path_segments  # noqa: E402
from moorings.server import build_manager  # noqa: E402


def cost(fn: Callable[[], object], n: int = 5000) -> float:
    """Median over 5 repeats of the thread CPU microseconds per call."""
    fn()
    samples = []
    for _ in range(5):
        start = time.thread_time()
        for _ in range(n):
            fn()
        samples.append((time.thread_time() - start) / n * 1e6)
    return float(np.median(samples))


def main() -> None:
    body = write_all()["mlp-rows"].read_bytes()
    settings = ServerSettings(repository=HERE / ".work/repos/mlp", batching=BatchingSettings(enabled=False))
    manager = build_manager(settings)
    manager.start(60)
    while not manager.is_ready():
        time.sleep(0.05)
    path = b"/v1/models/mlp:predict"
    route = tfserving.parse_route(path_segments(path)[3:])
    general = tfjson.parse_predict_body(parse_json(body))
    fast = parse_leading_array(body)
    assert fast is not None, "the benchmark body should take the C helper's path"
    request = tfjson.parse_predict_body(fast)
    rows: list[tuple[str, float]] = [
        ("split the path (cached)", cost(lambda: path_segments(path))),
        ("parse the route (cached)", cost(lambda: tfserving.parse_route(["mlp:predict"]))),
        ("read the body: numbers straight into float64 (C helper)", cost(lambda: parse_leading_array(body))),
        ("check the body's fields", cost(lambda: tfjson.parse_predict_body(fast))),
    ]
    general_rows = [
        ("orjson.loads of the 5.4 KB body", cost(lambda: parse_json(body))),
    ]

    def acquire() -> None:
        with manager.acquire(route.ref):
            pass

    rows.append(("acquire + release the version", cost(acquire)))
    with manager.acquire(route.ref) as servable:
        signature = servable.signature(None)
        inputs = tfjson.decode_inputs(request, signature)
        outputs = servable.predict(signature, inputs)
        general_rows.append(
            ("JSON rows -> float32 array (numpy)", cost(lambda: tfjson.decode_inputs(general, signature)))
        )
        rows += [
            ("float64 rows -> float32 input", cost(lambda: tfjson.decode_inputs(request, signature))),
            ("check inputs against the signature", cost(lambda: check_inputs(signature, inputs, True))),
            ("ONNX Runtime, batch of 1 (for scale)", cost(lambda: servable.predict(signature, inputs))),
            ("encode + orjson.dumps the answer", cost(lambda: dump_json(tfjson.encode_rows(outputs)))),
        ]
    manager.stop()
    print("| stage | CPU µs |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.1f} |")
    total = sum(v for n, v in rows if "for scale" not in n)
    print(f"| **sum without inference** | **{total:.1f}** |")
    print("\nThe general path (bodies the C helper steps aside for, or without it):\n")
    print("| stage | CPU µs |\n|---|---:|")
    for name, value in general_rows:
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
