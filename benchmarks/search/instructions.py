"""Instructions per 100-query search batch, counted by valgrind (callgrind): a measure that does not
move with the machine's load, for comparing versions of the search path and answer layouts.

    .venv/bin/python benchmarks/search/instructions.py [--size 20000x128] [--index ivf]
        [--body json|npy] [--layouts default,columns] [--before COMMIT] [--batches 10,30]

Builds one collection (clustered vectors, cosine, as ``profile_rest.py``) and its pre-encoded
100-query request bodies (k=10, no metadata in the answer) in a temporary folder, natively. Then
runs, each under callgrind twice (with the smaller and the larger number of batches, so start-up
cancels out): raw ``index.search`` on the saved index, and ``RestApp.handle`` on the bodies (the
route, body parsing and checks, the hop to the search threads, the store's search, the hits and
the JSON answer; no HTTP) with this checkout's sources, and with ``--before``'s too (``git
archive`` of that commit's ``src``, this checkout's compiled extensions). Prints, per run, the
instructions per batch of each shared object and in all; the REST handler's count beyond raw
FAISS's is Moorings' own work per batch. ``--layouts``: one REST run per entry, ``default`` sending
no layout option, ``hits`` or ``columns`` sending it (sources before the option existed refuse it,
so ``--before`` always runs without it). Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
K = 10
BATCH = 100


def prepare(work: Path, size: str, index: str, body: str, layouts: list[str | None], batches: int) -> None:
    """The collection under ``work/data``, the queries in ``work/queries.npy`` and each layout's
    request bodies in ``work/bodies-LAYOUT.pickle`` (natively, outside the counts)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.search.profile_rest import bodies
    from tests.support.vectors import clustered, queries_near

    from moorings.search.faiss_store import FaissBackend
    from moorings.search.types import CollectionSpec, ItemBatch
    from moorings.search.validate import normalise

    n, dim = (int(x) for x in size.split("x"))
    data = normalise(clustered(n, dim, clusters=max(50, n // 1000), seed=7), "cosine")
    queries = normalise(queries_near(data, batches * BATCH, seed=8), "cosine")
    backend = FaissBackend(work / "data")
    store = backend.create(CollectionSpec("bench", dim, index=index))  # type: ignore[arg-type]
    for s in range(0, n, 10_000):
        e = min(n, s + 10_000)
        store.upsert(ItemBatch([str(i) for i in range(s, e)], data[s:e], [None] * (e - s), [None] * (e - s)))
    backend.close()  # saves the index, as a server shutdown does
    np.save(work / "queries.npy", queries)
    for layout in layouts:
        requests = [(r.headers, r.body) for r in bodies(queries, body, False, layout)]
        (work / f"bodies-{layout}.pickle").write_bytes(pickle.dumps(requests))


def child(work: Path, mode: str, batches: int, layout: str | None) -> None:
    """One counted run: ``batches`` batches, raw FAISS (``mode`` raw) or through the REST handler."""
    import faiss

    faiss.omp_set_num_threads(1)
    queries = np.load(work / "queries.npy")[: batches * BATCH]  # raw FAISS's
    from moorings.search.faiss_store import FaissBackend

    backend = FaissBackend(work / "data")
    index = backend.open("bench").index.index
    if index is not None and hasattr(index, "hnsw"):
        from moorings.search.faiss_index import hnsw_ef_search

        index.hnsw.efSearch = hnsw_ef_search(K, index.ntotal)
    if mode == "raw":
        for s in range(0, len(queries), BATCH):
            index.search(queries[s : s + BATCH], K)
        return
    from moorings.core.loader import Loader
    from moorings.core.manager import Manager
    from moorings.dataplane import DataPlane
    from moorings.http1.messages import Request
    from moorings.repository.source import LocalSource
    from moorings.rest.app import RestApp
    from moorings.search.service import Collections

    (work / "repo").mkdir(exist_ok=True)
    manager = Manager(LocalSource(work / "repo"), Loader(work / "repo"))
    app = RestApp(DataPlane(manager, inference_threads=1), 64 * 2**20, collections=Collections(backend))
    saved = pickle.loads((work / f"bodies-{layout}.pickle").read_bytes())[:batches]
    path = b"/v1/collections/bench:search"
    requests = [Request("POST", path, headers, body) for headers, body in saved]

    async def run() -> None:
        for request in requests:
            status, _, _ = await app.handle(request)
            assert status == 200, status

    asyncio.run(run())
    os._exit(0)  # no teardown in the count


def count(work: Path, tag: str, args: list[str], env: dict[str, str], n: int) -> dict[str, int]:
    out = work / f"cg.{tag}.{n}"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", str(work), "--batches-run", str(n), *args,
    ]  # fmt: skip
    # one FAISS thread on every thread (the search pool's too), as a pinned server runs
    subprocess.run(command, env={**env, "OMP_NUM_THREADS": "1"}, check=True, capture_output=True)
    flat = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--show-percs=no", str(out)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    totals: dict[str, int] = {}
    for line in flat.splitlines():
        match = re.match(r"\s*([\d,]+)\s+(.*)$", line)
        if not match:
            continue
        number, rest = int(match.group(1).replace(",", "")), match.group(2)
        if "PROGRAM TOTALS" in rest:
            totals["all"] = number
            continue
        obj = re.search(r"\[([^\]]*)\]\s*$", rest)
        if obj:
            name = obj.group(1).split("/")[-1]
            totals[name] = totals.get(name, 0) + number
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="20000x128")
    parser.add_argument("--index", default="ivf", choices=("ivf", "hnsw", "flat"))
    parser.add_argument("--body", default="json", choices=("json", "npy"))
    parser.add_argument("--layouts", default="default", help="comma-separated: default, hits, columns")
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    parser.add_argument("--before", help="also count this commit's sources")
    parser.add_argument("--batches", default="10,30", help="the two batch counts, SMALL,LARGE")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batches-run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="rest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child), args.mode, args.batches_run, args.layout)
        return
    small, large = (int(x) for x in args.batches.split(","))
    work = Path(tempfile.mkdtemp(prefix="moorings-search-instructions-"))
    try:
        layouts = [None if x == "default" else x for x in args.layouts.split(",")]
        if any(x not in (None, "hits", "columns") for x in layouts):
            parser.error("--layouts takes default, hits and columns")
        prepare(work, args.size, args.index, args.body, [*layouts, None], large)
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            ("raw FAISS", ["--mode", "raw"], dict(os.environ))
        ]
        for layout in layouts:
            name = f"REST {args.body}, layout {layout or 'not sent'}"
            runs.append((name, ["--layout", layout] if layout else [], dict(os.environ)))
        if args.before:
            from benchmarks.search.before_after import export_sources

            src = export_sources(args.before, work / "before")
            env = {**os.environ, "PYTHONPATH": str(src)}
            runs.append((f"REST {args.body}, layout not sent, at {args.before}", [], env))
        for name, extra, env in runs:
            tag = re.sub(r"\W", "_", name)
            a = count(work, tag, extra, env, small)
            b = count(work, tag, extra, env, large)
            per = {k: (b[k] - a.get(k, 0)) / (large - small) for k in b}
            top = sorted((k for k in per if k != "all"), key=lambda k: -per[k])[:6]
            print(
                f"{args.size} {args.index} {name}: {per['all'] / 1e6:.2f} M instructions/batch ("
                + ", ".join(f"{k} {per[k] / 1e6:.2f} M" for k in top)
                + ")",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
