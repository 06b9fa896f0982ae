"""The cost of writing one batch answer, per layout and protocol, in this process (no search, no I/O).

    .venv/bin/python benchmarks/search/answers.py [--queries 100] [--k 10] [--metadata]

Builds the results of a batch (``--queries`` results of ``--k`` hits with string ids, as the
embedded store returns them), then times, best of 7 repeats: the REST JSON answer's bytes in the
hits and the columns layout (``json_codec.search_answer``), and the gRPC ``SearchResponse`` in both
layouts, built and serialised (what the gRPC server sends). ``--metadata``: every hit has a name and
a small metadata object, and the answers include them.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from moorings.grpc import search as grpc_search  # noqa: E402
from moorings.search import json_codec as codec  # noqa: E402
from moorings.search.types import Hits, SearchRequest, SearchResult  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--metadata", action="store_true")
    args = parser.parse_args()
    k = args.k
    results = []
    for q in range(args.queries):
        ids = [str(q * 1000 + j) for j in range(k)]
        scores = [0.9 - j / 97 for j in range(k)]
        names: list[str | None] = [f"item {i}" if args.metadata else None for i in ids]
        metadata = [{"n": j, "tag": "t"} if args.metadata else None for j in range(k)]
        results.append(SearchResult(Hits(ids, scores, names, metadata)))
    hits = SearchRequest(queries=[], batch=True, include_metadata=args.metadata)
    columns = SearchRequest(queries=[], batch=True, include_metadata=args.metadata, layout="columns")
    runs: dict[str, Callable[[], object]] = {
        "REST JSON, hits": lambda: codec.search_answer(hits, results),
        "REST JSON, columns": lambda: codec.search_answer(columns, results),
        "gRPC, hits": lambda: grpc_search._response(hits, results).SerializeToString(),
        "gRPC, columns": lambda: grpc_search._column_response(results, args.metadata).SerializeToString(),
    }
    for name, fn in runs.items():
        best = min(timeit.repeat(fn, number=50, repeat=7)) / 50
        print(f"{args.queries} x {k} hits, metadata={args.metadata}: {name}: {best * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
