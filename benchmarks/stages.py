"""CPU cost of each stage of the TF Serving REST :predict path for one MLP request (no HTTP, no threads),
and of the stages where the KServe V2 binary route differs from it.

    taskset -c 0 .venv/bin/python benchmarks/stages.py

The sum of these, plus the HTTP floor (``floor/http1_echo.py`` under wrk) and the
asyncio/batching hand-offs, is what one request costs the server's core. The two
routes share everything else (HTTP/1.1, acquiring the version, the shape check,
the batcher, the answer's write), so the difference of the two sums is the most
a binary body can save per request.
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
from moorings.codecs import v2_binary, v2_json  # noqa: E402
from moorings.codecs.json_fast import parse_leading_array  # noqa: E402
from moorings.config import ServerSettings  # noqa: E402
from moorings.dataplane import check_inputs  # noqa: E402
from moorings.rest import tfserving  # noqa: E402
from moorings.rest import v2 as v2_routes  # noqa: E402
from moorings.rest.http import dump_json, parse_json, path_segments  # noqa: E402
from moorings.rest.v2_heads import HeadCache  # noqa: E402
from moorings.server import build_manager  # noqa: E402
from moorings.types import Signature  # noqa: E402


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
    bodies = write_all()
    body = bodies["mlp-rows"].read_bytes()
    v2_body = bodies["mlp-v2-binary"].read_bytes()
    v2_length = bodies["mlp-v2-binary"].with_suffix(".header-length").read_bytes().strip()
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
        v2_rows = v2_stages(v2_body, v2_length, signature, outputs)
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
    shared = ("acquire + release the version", "check inputs against the signature")
    json_own = sum(v for n, v in rows if n not in shared and "for scale" not in n)
    v2_total = sum(v for _, v in v2_rows)
    print("\nWhere the KServe V2 binary route differs (the same MLP input as 3,136 raw bytes):\n")
    print("| stage | CPU µs |\n|---|---:|")
    for name, value in v2_rows:
        print(f"| {name} | {value:.1f} |")
    print(f"| **sum** | **{v2_total:.1f}** |")
    print(
        f"\nThe same stages of the TF Serving route (path, route, body, fields, cast, answer) sum to "
        f"{json_own:.1f} µs: a binary body saves at most {json_own - v2_total:.1f} µs per request."
    )


def v2_stages(
    body: bytes, length: bytes, signature: Signature, outputs: dict[str, np.ndarray]
) -> list[tuple[str, float]]:
    """The V2 binary route's own stages, from the path to the answer's bytes."""
    path = b"/v2/models/mlp/infer"
    heads = HeadCache()
    head, rest = v2_binary.split_body(body, length)
    request = heads.parse(head)
    inputs = v2_json.decode_inputs(request, rest)
    response, _ = v2_json.encode_response("mlp", 1, request, outputs)
    segments = path_segments(path)
    return [
        ("split the path (cached)", cost(lambda: path_segments(path))),
        ("parse the route (cached)", cost(lambda: v2_routes._route(tuple(segments[2:])))),
        ("split JSON header and binary data", cost(lambda: v2_binary.split_body(body, length))),
        ("parse the JSON header (cached)", cost(lambda: heads.parse(head))),
        ("raw bytes -> float32 input (a view)", cost(lambda: v2_json.decode_inputs(request, rest))),
        ("cast inputs to the signature (none needed)", cost(lambda: v2_json.cast_inputs(signature, inputs))),
        ("encode the answer", cost(lambda: v2_json.encode_response("mlp", 1, request, outputs))),
        ("orjson.dumps the answer", cost(lambda: dump_json(response))),
    ]


if __name__ == "__main__":
    main()
