"""In-process: the JSON number reader's fast paths against ``orjson.loads`` on the same bodies.

    .venv/bin/python benchmarks/number_reader.py [--repeats 200] [--number 20] [--compare OTHER.so]

For each MLP body of ``bodies.py`` (float32 ``tolist()``, float64 ``tolist()``,
4 decimal places; TF Serving rows and KServe V2 JSON) it times json_fast's
reader (``parse_leading_array`` / ``parse_v2_data_arrays``: the C helper, the
regular expressions, orjson for the rest of the body, the numpy arrays) and
``orjson.loads`` of the whole body, alternating the two within every repeat,
and prints the best per-call time of each in µs and their ratio (short windows,
many of them: on a shared machine the best window is the one nothing else ran in). ``--compare
PATH`` also times another build of the C helper (e.g. main's, compiled to
PATH), loaded in place of this one.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bodies import write_all  # noqa: E402

from moorings.codecs import _jsonnum, json_fast  # noqa: E402

BODIES = {  # row label: (body name, reader)
    "TFS rows, float32 tolist()": ("mlp-rows", json_fast.parse_leading_array),
    "TFS rows, float64 tolist()": ("mlp-rows-f64", json_fast.parse_leading_array),
    "TFS rows, 4 decimals": ("mlp-rows-4dp", json_fast.parse_leading_array),
    "V2 JSON, float32 tolist()": ("mlp-v2", json_fast.parse_v2_data_arrays),
    "V2 JSON, float64 tolist()": ("mlp-v2-f64", json_fast.parse_v2_data_arrays),
    "V2 JSON, 4 decimals": ("mlp-v2-4dp", json_fast.parse_v2_data_arrays),
}


def load_build(path: Path) -> ModuleType:
    """Another build of the C helper, as a module of its own."""
    loader = importlib.machinery.ExtensionFileLoader("_jsonnum", str(path))
    spec = importlib.util.spec_from_file_location("_jsonnum", path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def per_call_us(fn: Callable[[bytes], Any], body: bytes, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn(body)
    return (time.perf_counter() - start) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--compare", type=Path, help="another build of moorings.codecs._jsonnum")
    args = parser.parse_args()
    paths = write_all()
    builds: dict[str, ModuleType] = {"this build": _jsonnum}
    if args.compare:
        builds["compared"] = load_build(args.compare)
    header = "| body | bytes | " + " | ".join(f"reader, {b} (µs)" for b in builds)
    print(header + " | orjson.loads (µs) | reader ÷ orjson |")
    print("|---|---:|" + "---:|" * (len(builds) + 2))
    for label, (name, reader) in BODIES.items():
        body = paths[name].read_bytes()
        best = {key: float("inf") for key in [*builds, "orjson"]}
        for _ in range(args.repeats):
            for build, module in builds.items():
                json_fast._jsonnum = module  # type: ignore[assignment]
                assert reader(body) is not None, (build, name)  # the fast path took it
                best[build] = min(best[build], per_call_us(reader, body, args.number))
            best["orjson"] = min(best["orjson"], per_call_us(orjson.loads, body, args.number))
        json_fast._jsonnum = _jsonnum  # type: ignore[assignment]
        cells = " | ".join(f"{best[b]:.1f}" for b in builds)
        ratio = best["this build"] / best["orjson"]
        print(f"| {label} | {len(body):,} | {cells} | {best['orjson']:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
