"""The embedding-search benchmark: clustered float32 data, every backend, raw FAISS in the same run.

    .venv/bin/python benchmarks/search/run.py --sizes 100000x128,100000x384 [--backends ...]
        [--queries 1000] [--batch 100] [--no-server] [--pg-limit 20000]

Per backend and size: build time, recall@10 against exact search, QPS at k=10 for single queries
and for batches (in-process, and through a real ``moorings serve``: REST with JSON bodies, REST
with .npy bodies, gRPC with VectorBatch bytes, each path also asking for the columns layout of
the answer), and memory (RSS
growth of this process while building; the server's RSS). Raw FAISS runs the very index the
embedded store built (``index.search`` on the same queries), so the ratio isolates Moorings'
overhead at identical recall (the server/raw column, batch QPS). One JSON line per result on
stdout; a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.server import free_port  # noqa: E402
from tests.support.vectors import clustered, queries_near  # noqa: E402

from moorings.search.faiss_index import hnsw_ef_search  # noqa: E402
from moorings.search.faiss_store import FaissBackend  # noqa: E402
from moorings.search.reduce import exact_neighbours, recall  # noqa: E402
from moorings.search.types import CollectionSpec, ItemBatch  # noqa: E402
from moorings.search.validate import normalise  # noqa: E402

K = 10
NUMPY = orjson.OPT_SERIALIZE_NUMPY
INGEST_BATCH = 10_000


def rss_mb(pid: int | None = None) -> float:
    return float(psutil.Process(pid or os.getpid()).memory_info().rss) / 2**20


ROUNDS = 3
PIN = False
SERVER_CPU, CLIENT_CPU = 0, 1


def exact_truth(data: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact neighbours, 100 queries at a time (1000 x 1M scores at once would take 8 GB)."""
    return np.vstack(
        [exact_neighbours(data, queries[s : s + 100], K, "cosine") for s in range(0, len(queries), 100)]
    )


def timed_qps(fn: Any, count: int) -> float:
    """Best of ROUNDS runs: the machine is shared, and the best run is the least disturbed one."""
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        best = max(best, count / (time.perf_counter() - start))
    return best


def ingest(store: Any, vectors: np.ndarray) -> float:
    start = time.perf_counter()
    for s in range(0, len(vectors), INGEST_BATCH):
        e = min(s + INGEST_BATCH, len(vectors))
        ids = [str(i) for i in range(s, e)]
        store.upsert(ItemBatch(ids, vectors[s:e], [None] * (e - s), [None] * (e - s)))
    return time.perf_counter() - start


def in_process(
    store: Any, queries: np.ndarray, truth: np.ndarray, batch: int, single_n: int
) -> dict[str, Any]:
    found = np.array([[int(h.id) for h in hits] for hits in store.search(queries, K, None)])
    single = timed_qps(lambda: [store.search(q[None, :], K, None) for q in queries[:single_n]], single_n)
    batched = timed_qps(
        lambda: [store.search(queries[s : s + batch], K, None) for s in range(0, len(queries), batch)],
        len(queries),
    )
    return {
        "recall@10": round(recall(found, truth), 4),
        "qps_single": round(single),
        "qps_batch": round(batched),
    }


def raw_faiss(
    index: Any, queries: np.ndarray, batch: int, single_n: int, truth: np.ndarray
) -> dict[str, Any]:
    _, labels = index.search(queries, K)
    single = timed_qps(lambda: [index.search(q[None, :], K) for q in queries[:single_n]], single_n)
    batched = timed_qps(
        lambda: [index.search(queries[s : s + batch], K) for s in range(0, len(queries), batch)], len(queries)
    )
    return {
        "recall@10": round(recall(labels, truth), 4),
        "qps_single": round(single),
        "qps_batch": round(batched),
    }


def through_server(
    data_dir: Path, queries: np.ndarray, truth: np.ndarray, batch: int, single_n: int, raw_batches: Any
) -> list[dict[str, Any]]:
    """One ``moorings serve`` process, three clients of it: REST with JSON bodies, REST with .npy
    bodies, gRPC with VectorBatch bytes. Bodies and messages are built before the clock starts.
    ``raw_batches`` (raw FAISS on the same batches) is timed in the same rounds: server/raw."""
    import grpc
    import httpx

    from moorings.protos import search_pb2 as pb
    from moorings.protos import search_pb2_grpc as pb_grpc
    from moorings.search.npy import write_npy

    repo = data_dir / "empty-repo"
    repo.mkdir(exist_ok=True)
    port, grpc_port = free_port(), free_port()
    pin = ["taskset", "-c", str(SERVER_CPU)] if PIN else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if PIN else None
    process = subprocess.Popen(
        [*pin, sys.executable, "-m", "moorings", "serve", str(repo), "--rest-port", str(port), "--grpc-port",
         str(grpc_port), "--data-dir", str(data_dir), "--log-level", "warning", "--no-tfserving-grpc"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1/collections/bench:search"
    starts = range(0, len(queries), batch)
    try:
        with httpx.Client(timeout=600) as client, grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.2)
            client.post(url, json={"vector": queries[0].tolist(), "k": K})  # loads the collection
            stub = pb_grpc.CollectionServiceStub(channel)  # type: ignore[no-untyped-call]
            bodies = [
                orjson.dumps({"vector": q, "k": K, "include_metadata": False}, option=NUMPY)
                for q in queries[:single_n]
            ]
            json_batches = [
                orjson.dumps(
                    {
                        "queries": [{"vector": q} for q in queries[s : s + batch]],
                        "k": K,
                        "include_metadata": False,
                    },
                    option=NUMPY,
                )
                for s in starts
            ]
            options = orjson.dumps({"k": K, "include_metadata": False})
            npy_headers = {"content-type": "application/x-npy", "search-options-length": str(len(options))}
            npy_batches = [options + write_npy(queries[s : s + batch]) for s in starts]
            # the same batches asking for the columns layout (ids and scores as arrays per query)
            json_columns = [b[:-1] + b',"layout":"columns"}' for b in json_batches]
            options_c = orjson.dumps({"k": K, "include_metadata": False, "layout": "columns"})
            npy_headers_c = {**npy_headers, "search-options-length": str(len(options_c))}
            npy_columns = [options_c + b[len(options) :] for b in npy_batches]
            messages = [
                pb.SearchRequest(
                    collection="bench",
                    k=K,
                    omit_metadata=True,
                    vectors=pb.VectorBatch(
                        dim=queries.shape[1], float32_data=queries[s : s + batch].tobytes()
                    ),
                )
                for s in starts
            ]
            messages_c = [pb.SearchRequest(layout=pb.COLUMNS) for _ in messages]
            for m, c in zip(messages, messages_c, strict=True):
                c.MergeFrom(m)
            found: dict[str, list[list[int]]] = {}

            def rest(kind: str, batches: list[bytes], headers: dict[str, str] | None = None) -> None:
                found[kind] = []
                for b in batches:
                    answer = orjson.loads(client.post(url, content=b, headers=headers).content)
                    if kind.endswith("columns"):
                        found[kind].extend(list(map(int, r["ids"])) for r in answer["results"])
                    else:
                        found[kind].extend([int(h["id"]) for h in r["hits"]] for r in answer["results"])

            second = httpx.Client(timeout=600)

            def npy_two_connections() -> None:
                """The same batches over two connections, so the client's own work overlaps the server's."""
                answers: list[Any] = [None] * len(npy_batches)

                def send(conn: Any, part: range) -> None:
                    for n in part:
                        answers[n] = conn.post(url, content=npy_batches[n], headers=npy_headers).content

                half = len(npy_batches) // 2
                other = threading.Thread(target=send, args=(second, range(half, len(npy_batches))))
                other.start()
                send(client, range(half))
                other.join()
                found["npy2"] = [
                    [int(h["id"]) for h in r["hits"]] for a in answers for r in orjson.loads(a)["results"]
                ]

            def grpc_batches() -> None:
                found["grpc"] = []
                for m in messages:
                    found["grpc"].extend([int(h.id) for h in r.hits] for r in stub.Search(m).results)

            def grpc_columns() -> None:
                found["grpc columns"] = []
                for m in messages_c:
                    found["grpc columns"].extend(list(map(int, r.ids)) for r in stub.Search(m).results)

            # raw FAISS runs in the same rounds as the server paths (it on the server's core, they
            # from the client's), so both see the same background load; the best round counts
            runs: dict[str, tuple[int, Any]] = {
                "raw": (SERVER_CPU, raw_batches),
                "json": (CLIENT_CPU, lambda: rest("json", json_batches)),
                "npy": (CLIENT_CPU, lambda: rest("npy", npy_batches, npy_headers)),
                "grpc": (CLIENT_CPU, grpc_batches),
                "npy2": (CLIENT_CPU, npy_two_connections),
                "json columns": (CLIENT_CPU, lambda: rest("json columns", json_columns)),
                "npy columns": (CLIENT_CPU, lambda: rest("npy columns", npy_columns, npy_headers_c)),
                "grpc columns": (CLIENT_CPU, grpc_columns),
            }
            qps = dict.fromkeys(runs, 0.0)
            try:
                for _ in range(ROUNDS):
                    for kind, (cpu, fn) in runs.items():
                        if PIN:  # the client on the other core: it must not take the server's
                            os.sched_setaffinity(0, {cpu})
                        start = time.perf_counter()
                        fn()
                        qps[kind] = max(qps[kind], len(queries) / (time.perf_counter() - start))
                if PIN:
                    os.sched_setaffinity(0, {CLIENT_CPU})
                single = timed_qps(lambda: [client.post(url, content=b) for b in bodies], single_n)
            finally:
                if PIN:
                    os.sched_setaffinity(0, {SERVER_CPU})
            rss = round(rss_mb(process.pid))
            second.close()
            paths = {
                "json": "server REST JSON",
                "npy": "server REST npy",
                "grpc": "server gRPC bytes",
                "npy2": "server REST npy, 2 connections",
                "json columns": "server REST JSON, columns layout",
                "npy columns": "server REST npy, columns layout",
                "grpc columns": "server gRPC bytes, columns layout",
            }
            rows: list[dict[str, Any]] = [{"path": "raw FAISS, same rounds", "qps_batch": round(qps["raw"])}]
            for kind in paths:
                rows.append(
                    {
                        "path": paths[kind],
                        "recall@10": round(recall(np.array(found[kind]), truth), 4),
                        "qps_single": round(single) if kind == "json" else None,
                        "qps_batch": round(qps[kind]),
                        "server_rss_mb": rss,
                        "server/raw": f"{100 * qps[kind] / qps['raw']:.0f} %",
                    }
                )
            return rows
    finally:
        process.terminate()
        process.wait(60)


def run_faiss(
    kind: str, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, args: argparse.Namespace
) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="moorings-bench-", dir=args.work))
    n, dim = data.shape
    try:
        before = rss_mb()
        backend = FaissBackend(folder)
        store = backend.create(CollectionSpec("bench", dim, metric="cosine", index=kind))  # type: ignore[arg-type]
        build = ingest(store, data)
        memory = rss_mb() - before
        base = {
            "size": f"{n}x{dim}",
            "backend": f"faiss-{kind}",
            "build_s": round(build, 1),
            "build_rss_mb": round(memory),
        }
        rows = [{**base, "path": "in-process", **in_process(store, queries, truth, args.batch, args.single)}]
        index = store.index.index
        if kind == "hnsw":  # the same search effort as the store uses at k=10
            index.hnsw.efSearch = hnsw_ef_search(K, index.ntotal)
        raw = raw_faiss(index, queries, args.batch, args.single, truth)
        rows.append({**base, "path": "raw FAISS", **raw})
        backend.close()  # saves the index, as a server shutdown does
        if args.server:
            starts = range(0, len(queries), args.batch)
            raw_batches = lambda: [index.search(queries[s : s + args.batch], K) for s in starts]  # noqa: E731
            for row in through_server(folder, queries, truth, args.batch, args.single, raw_batches):
                rows.append({**base, **row})
        return rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_postgres(
    kind: str, data: np.ndarray, queries: np.ndarray, truth: np.ndarray, args: argparse.Namespace
) -> list[dict[str, Any]]:
    from tests.support.postgres import embedded_postgres, fresh_database

    from moorings.search.postgres import PostgresBackend

    n, dim = data.shape
    with embedded_postgres() as admin:
        backend = PostgresBackend(fresh_database(admin, f"bench_{kind}"), kind)
        store = backend.create(CollectionSpec("bench", dim))
        build = ingest(store, data)
        base = {"size": f"{n}x{dim}", "backend": kind, "build_s": round(build, 1)}
        with backend.pool.connection() as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        base["db_size_mb"] = round(int(size[0]) / 2**20) if size else None
        nq = min(len(queries), args.pg_queries)
        row = {
            **base,
            "path": "in-process",
            **in_process(store, queries[:nq], truth[:nq], args.batch, min(args.single, nq)),
        }
        backend.close()
        return [row]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000x384,1000000x128", help="NxDIM,... (the issue's full run)")
    parser.add_argument("--backends", default="faiss-hnsw,faiss-ivf,faiss-flat,pgvector,cube")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=300, help="how many of the queries to send one by one")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pg-limit", type=int, default=20_000, help="largest N run on PostgreSQL backends")
    parser.add_argument("--pg-queries", type=int, default=200)
    parser.add_argument("--no-server", dest="server", action="store_false")
    parser.add_argument("--work", default="/tmp")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="one core for the search (server, raw FAISS and in-process runs on CPU 0, one FAISS "
        "thread), the other for the HTTP client (CPU 1): served / raw on equal terms",
    )
    args = parser.parse_args()
    global ROUNDS, PIN
    ROUNDS = args.rounds
    PIN = args.pin
    if PIN:
        import faiss

        faiss.omp_set_num_threads(1)
        os.sched_setaffinity(0, {SERVER_CPU})
    rows: list[dict[str, Any]] = []
    for size in args.sizes.split(","):
        n, dim = (int(x) for x in size.lower().split("x"))
        data = normalise(clustered(n, dim, clusters=max(50, n // 1000), seed=7), "cosine")
        queries = normalise(queries_near(data, args.queries, seed=8), "cosine")
        truth = exact_truth(data, queries)
        for backend in args.backends.split(","):
            if backend.startswith("faiss-"):
                new = run_faiss(backend.removeprefix("faiss-"), data, queries, truth, args)
            elif n <= args.pg_limit:
                new = run_postgres(backend, data, queries, truth, args)
            else:
                pg_n = args.pg_limit
                sub = data[:pg_n]
                new = run_postgres(backend, sub, queries, exact_truth(sub, queries), args)
            for row in new:
                print(json.dumps(row), flush=True)
            rows.extend(new)
    keys = [
        "size",
        "backend",
        "path",
        "build_s",
        "recall@10",
        "qps_single",
        "qps_batch",
        "build_rss_mb",
        "server_rss_mb",
        "db_size_mb",
        "server/raw",
    ]
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
