"""Where a REST search batch spends its time beside FAISS, in this process (no HTTP, no client).

    .venv/bin/python benchmarks/search/profile_rest.py [--size 20000x128] [--index ivf]
        [--body json|npy] [--metadata] [--layout hits|columns] [--profile]

Builds one collection of clustered vectors in a temporary folder (``FaissBackend``, as the server
does), then times, per 100-query batch, raw ``index.search`` on the store's own index against
``RestApp.handle`` on the same batch (the route, body parsing and checks, the hop to the search
threads, the store's search, the hits and the JSON answer), alternating the two so that both see
the same load. Times are CPU time of this process (all threads; the best round counts), which a
loaded machine disturbs less than wall time. ``--profile`` prints the cProfile of the REST
handler's calls (the thread hop is made inline for the profile, so the search thread's work is in
it). Without ``--layout`` it uses only what every version of the search API has had, so it can be
run on an earlier commit's sources (``PYTHONPATH=<git archive>/src``) for a before/after
comparison; ``--layout`` sends the search option of that name (``columns``: ids and scores as
arrays per query), which older sources refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.vectors import clustered, queries_near  # noqa: E402

from moorings.core.loader import Loader  # noqa: E402
from moorings.core.manager import Manager  # noqa: E402
from moorings.dataplane import DataPlane  # noqa: E402
from moorings.http1.messages import Request  # noqa: E402
from moorings.repository.source import LocalSource  # noqa: E402
from moorings.rest.app import RestApp  # noqa: E402
from moorings.search import executor  # noqa: E402
from moorings.search.faiss_index import hnsw_ef_search  # noqa: E402
from moorings.search.faiss_store import FaissBackend  # noqa: E402
from moorings.search.npy import write_npy  # noqa: E402
from moorings.search.service import Collections  # noqa: E402
from moorings.search.types import CollectionSpec, ItemBatch  # noqa: E402
from moorings.search.validate import normalise  # noqa: E402

K = 10
BATCH = 100


def bodies(queries: np.ndarray, kind: str, metadata: bool, layout: str | None = None) -> list[Request]:
    path = b"/v1/collections/bench:search"
    out = []
    extra = {} if layout is None else {"layout": layout}
    for s in range(0, len(queries), BATCH):
        rows = queries[s : s + BATCH]
        if kind == "json":
            body = orjson.dumps(
                {"queries": [{"vector": q} for q in rows], "k": K, "include_metadata": metadata, **extra},
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            headers = [(b"content-type", b"application/json")]
        else:
            options = orjson.dumps({"k": K, "include_metadata": metadata, **extra})
            body = options + write_npy(rows)
            headers = [
                (b"content-type", b"application/x-npy"),
                (b"search-options-length", str(len(options)).encode()),
            ]
        out.append(Request("POST", path, headers, body))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="20000x128")
    parser.add_argument("--index", default="ivf", choices=("ivf", "hnsw", "flat"))
    parser.add_argument("--body", default="json", choices=("json", "npy"))
    parser.add_argument("--metadata", action="store_true", help="store and answer metadata per hit")
    parser.add_argument("--layout", choices=("hits", "columns"), help="the search option (default: not sent)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    n, dim = (int(x) for x in args.size.split("x"))
    data = normalise(clustered(n, dim, clusters=max(50, n // 1000), seed=7), "cosine")
    queries = normalise(queries_near(data, args.queries, seed=8), "cosine")
    work = Path(tempfile.mkdtemp(prefix="moorings-profile-"))
    try:
        (work / "repo").mkdir()
        backend = FaissBackend(work / "data")
        store = backend.create(CollectionSpec("bench", dim, index=args.index))  # type: ignore[arg-type]
        for s in range(0, n, 10_000):
            e = min(n, s + 10_000)
            meta = [{"n": i, "tag": f"t{i % 7}"} for i in range(s, e)] if args.metadata else [None] * (e - s)
            store.upsert(
                ItemBatch([str(i) for i in range(s, e)], data[s:e], [f"item {i}" for i in range(s, e)], meta)
            )
        index = store.index.index
        if args.index == "hnsw":  # the search effort the store uses at k=10
            index.hnsw.efSearch = hnsw_ef_search(K, index.ntotal)
        manager = Manager(LocalSource(work / "repo"), Loader(work / "repo"))
        dataplane = DataPlane(manager, inference_threads=1)
        app = RestApp(dataplane, max_body_bytes=64 * 2**20, collections=Collections(backend))
        requests = bodies(queries, args.body, args.metadata, args.layout)
        starts = range(0, len(queries), BATCH)

        async def rest_round() -> None:
            for request in requests:
                status, _, _ = await app.handle(request)
                assert status == 200, status

        def raw_round() -> None:
            for s in starts:
                index.search(queries[s : s + BATCH], K)

        loop = asyncio.new_event_loop()
        loop.run_until_complete(rest_round())  # warm
        raw_best = rest_best = float("inf")
        for _ in range(args.rounds):  # alternating: both see the same background load
            t = time.process_time()
            raw_round()
            raw_best = min(raw_best, time.process_time() - t)
            t = time.process_time()
            loop.run_until_complete(rest_round())
            rest_best = min(rest_best, time.process_time() - t)
        batches = len(requests)
        print(
            f"{args.size} {args.index} {args.body} metadata={args.metadata} layout={args.layout}: raw FAISS "
            f"{1000 * raw_best / batches:.2f} ms CPU/batch, "
            f"REST handler {1000 * rest_best / batches:.2f} ms CPU/batch, "
            f"raw/REST {100 * raw_best / rest_best:.0f} %"
        )
        if args.profile:

            async def inline(fn: Any, *a: Any) -> Any:
                return fn(*a)

            from moorings.rest import collections as routes

            executor.run = routes.run = inline  # type: ignore[assignment]
            profiler = cProfile.Profile(time.thread_time_ns, 1e-9)  # CPU time: less load noise
            profiler.enable()
            for _ in range(3):
                loop.run_until_complete(rest_round())
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
        loop.close()
        backend.close()
        dataplane.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
