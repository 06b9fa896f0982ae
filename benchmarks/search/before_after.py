"""Search through two servers side by side: this checkout's code and an earlier commit's.

    .venv/bin/python benchmarks/search/before_after.py --before 3f8ce49 [--size 100000x128]
        [--indexes ivf,hnsw] [--rounds 5] [--pin] [--columns]

Builds one collection of clustered vectors (cosine, as ``run.py``) with the embedded store, copies
its folder, and starts two ``moorings serve`` processes on the copies: one running the sources of
``--before`` (``git archive`` of that commit, with this checkout's compiled extension), one running
this checkout. Then, in every round and in turn, raw FAISS on the very index the store built (as
saved and read back, which is what the servers load), the earlier server and this one answer the
same 100-query batches (REST with JSON bodies, REST with .npy bodies, gRPC with VectorBatch bytes;
k=10, no metadata in the answer), so all three see the same background load; the best round of
each counts. Besides QPS it records CPU time per batch:
the servers' (all their threads, from /proc) and raw FAISS's (its thread), which a loaded, shared
machine disturbs far less than wall-clock time. ``--pin``: the servers and raw FAISS on CPU 0 with
one FAISS thread, the client on CPU 1. ``--columns``: this checkout's server is also timed with
the ``"layout": "columns"`` search option (gRPC ``layout=COLUMNS``: ids and scores as arrays per
query), in the same rounds, as a third server column. Prints one Markdown row per index and path.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.server import free_port  # noqa: E402
from tests.support.vectors import clustered, queries_near  # noqa: E402

from moorings.search.faiss_index import hnsw_ef_search  # noqa: E402
from moorings.search.faiss_store import FaissBackend  # noqa: E402
from moorings.search.npy import write_npy  # noqa: E402
from moorings.search.types import CollectionSpec, ItemBatch  # noqa: E402
from moorings.search.validate import normalise  # noqa: E402

K = 10
BATCH = 100
SERVER_CPU, CLIENT_CPU = 0, 1


def export_sources(commit: str, into: Path) -> Path:
    """The ``src`` folder of ``commit``, with this checkout's compiled extension modules."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    for built in (ROOT / "src").rglob("*.so"):
        target = into / built.relative_to(ROOT)
        if target.parent.is_dir():
            shutil.copy2(built, target)
    return into / "src"


@contextmanager
def server(data_dir: Path, repo: Path, pin: bool, pythonpath: Path | None) -> Iterator[tuple[int, int, int]]:
    import httpx

    port, grpc_port = free_port(), free_port()
    env = dict(os.environ)
    if pin:
        env["OMP_NUM_THREADS"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [
        *(["taskset", "-c", str(SERVER_CPU)] if pin else []),
        sys.executable, "-m", "moorings", "serve", str(repo), "--rest-port", str(port),
        "--grpc-port", str(grpc_port), "--data-dir", str(data_dir), "--log-level", "warning",
        "--no-tfserving-grpc",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("a server did not start")
            time.sleep(0.2)
        yield port, grpc_port, process.pid
    finally:
        process.terminate()
        process.wait(60)


def clients(
    port: int, grpc_port: int, pid: int, queries: np.ndarray, columns: bool = False
) -> dict[str, Callable[[], list[list[str]]]]:
    """One callable per path: it sends every batch and returns the hit ids (``columns``: asking for
    the columns layout)."""
    import grpc
    import httpx

    from moorings.protos import search_pb2 as pb
    from moorings.protos import search_pb2_grpc as pb_grpc

    url = f"http://127.0.0.1:{port}/v1/collections/bench:search"
    starts = range(0, len(queries), BATCH)
    http = httpx.Client(timeout=600)
    stub = pb_grpc.CollectionServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))  # type: ignore[no-untyped-call]
    layout: dict[str, Any] = {"layout": "columns"} if columns else {}
    json_bodies = [
        orjson.dumps(
            {
                "queries": [{"vector": q} for q in queries[s : s + BATCH]],
                "k": K,
                "include_metadata": False,
                **layout,
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        for s in starts
    ]
    options = orjson.dumps({"k": K, "include_metadata": False, **layout})
    npy_headers = {"content-type": "application/x-npy", "search-options-length": str(len(options))}
    npy_bodies = [options + write_npy(queries[s : s + BATCH]) for s in starts]
    messages = [
        pb.SearchRequest(
            collection="bench",
            k=K,
            omit_metadata=True,
            vectors=pb.VectorBatch(dim=queries.shape[1], float32_data=queries[s : s + BATCH].tobytes()),
            **({"layout": pb.COLUMNS} if columns else {}),
        )
        for s in starts
    ]

    def rest(bodies: list[bytes], headers: dict[str, str] | None = None) -> list[list[str]]:
        found = []
        for body in bodies:
            answer = orjson.loads(http.post(url, content=body, headers=headers).content)
            if columns:
                found.extend(r["ids"] for r in answer["results"])
            else:
                found.extend([h["id"] for h in r["hits"]] for r in answer["results"])
        return found

    def grpc_path() -> list[list[str]]:
        if columns:
            return [list(r.ids) for m in messages for r in stub.Search(m).results]
        return [[h.id for h in r.hits] for m in messages for r in stub.Search(m).results]

    return {
        "REST JSON": lambda: rest(json_bodies),
        "REST npy": lambda: rest(npy_bodies, npy_headers),
        "gRPC bytes": grpc_path,
    }


def thread_cpu() -> float:
    """CPU seconds of this thread (raw FAISS runs on it, with one FAISS thread under --pin)."""
    return time.thread_time()


def process_cpu(pid: int) -> Callable[[], float]:
    """CPU seconds a server process has used, all its threads together (``/proc/PID/task/*/schedstat``:
    nanoseconds, where ``cpu_times`` counts 10 ms ticks)."""
    tasks = Path(f"/proc/{pid}/task")

    def used() -> float:
        total = 0
        for task in tasks.iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that ended
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    return used


def build(kind: str, data: np.ndarray, folder: Path) -> Any:
    backend = FaissBackend(folder)
    store = backend.create(CollectionSpec("bench", data.shape[1], metric="cosine", index=kind))  # type: ignore[arg-type]
    for s in range(0, len(data), 10_000):
        e = min(s + 10_000, len(data))
        store.upsert(ItemBatch([str(i) for i in range(s, e)], data[s:e], [None] * (e - s), [None] * (e - s)))
    backend.close()  # saves the index, as a server shutdown does
    # raw FAISS searches the saved index, as read back from disk: the one the servers load (the one
    # built row batch by row batch in this process lays its data out differently in memory)
    collection = folder / "collections" / "bench"
    saved = orjson.loads((collection / "MANIFEST.json").read_bytes())["index"]["file"]
    import faiss

    index = faiss.deserialize_index(np.fromfile(collection / saved, dtype=np.uint8))
    if kind == "hnsw":
        index.hnsw.efSearch = hnsw_ef_search(K, index.ntotal)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the commit whose server is compared")
    parser.add_argument("--size", default="100000x128")
    parser.add_argument("--indexes", default="ivf,hnsw")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--columns", action="store_true", help="also time this server's columns layout")
    args = parser.parse_args()
    n, dim = (int(x) for x in args.size.lower().split("x"))
    data = normalise(clustered(n, dim, clusters=max(50, n // 1000), seed=7), "cosine")
    queries = normalise(queries_near(data, args.queries, seed=8), "cosine")
    starts = range(0, len(queries), BATCH)
    work = Path(tempfile.mkdtemp(prefix="moorings-before-after-"))
    rows = []
    every_cpu = os.sched_getaffinity(0)
    try:
        before_src = export_sources(args.before, work / "before")
        (work / "repo").mkdir()
        for kind in args.indexes.split(","):
            if args.pin:  # the build on every core: only the searches are timed
                import faiss

                os.sched_setaffinity(0, every_cpu)
                faiss.omp_set_num_threads(len(every_cpu))
            index = build(kind, data, work / f"{kind}-after")
            shutil.copytree(work / f"{kind}-after", work / f"{kind}-before")
            with (
                server(work / f"{kind}-before", work / "repo", args.pin, before_src) as old,
                server(work / f"{kind}-after", work / "repo", args.pin, None) as new,
            ):
                if args.pin:
                    faiss.omp_set_num_threads(1)
                paths = {"before": clients(*old, queries), "after": clients(*new, queries)}
                cpu_of = {"raw": thread_cpu, "before": process_cpu(old[2]), "after": process_cpu(new[2])}
                if args.columns:
                    paths["columns"] = clients(*new, queries, columns=True)
                    cpu_of["columns"] = cpu_of["after"]
                servers = list(paths)
                for who in paths.values():  # warm up; all answer the same
                    for call in who.values():
                        call()
                for who in servers[1:]:
                    assert paths["before"]["REST npy"]() == paths[who]["REST npy"]()
                qps: dict[tuple[str, str], float] = {}
                cpu_ms: dict[tuple[str, str], float] = {}

                def raw(index: Any = index) -> None:
                    for s in starts:
                        index.search(queries[s : s + BATCH], K)

                for _ in range(args.rounds):
                    for path in paths["after"]:
                        for who, core, call in (
                            ("raw", SERVER_CPU, raw),
                            *((who, CLIENT_CPU, paths[who][path]) for who in servers),
                        ):
                            if args.pin:
                                os.sched_setaffinity(0, {core})
                            cpu = cpu_of[who]()
                            start = time.perf_counter()
                            call()
                            wall = time.perf_counter() - start
                            used = (cpu_of[who]() - cpu) * 1000 / len(starts)
                            qps[path, who] = max(qps.get((path, who), 0.0), len(queries) / wall)
                            cpu_ms[path, who] = min(cpu_ms.get((path, who), float("inf")), used)
                for path in paths["after"]:
                    raw_q, raw_c = qps[path, "raw"], cpu_ms[path, "raw"]
                    cells = [f"{raw_q:.0f}", f"{raw_c:.2f}"]
                    for who in servers:
                        cells.append(f"{qps[path, who]:.0f} ({100 * qps[path, who] / raw_q:.0f} %)")
                    for who in servers:
                        cells.append(f"{cpu_ms[path, who]:.2f} ({100 * raw_c / cpu_ms[path, who]:.0f} %)")
                    rows.append(f"| {args.size} | {kind} | {path} | " + " | ".join(cells) + " |")
                    print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    heads = ["before", "after", *(["after, columns"] if args.columns else [])]
    print(
        "\n| size | index | path | raw FAISS QPS | raw FAISS CPU ms/batch | "
        + " | ".join(f"{w} QPS (÷ raw)" for w in heads)
        + " | "
        + " | ".join(f"{w} server CPU ms/batch (raw ÷ it)" for w in heads)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * 2 * len(heads))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
