"""``moorings collection create|ingest|search|describe|list|drop``.

Two ways to reach the collections:

* through a running server's REST API: ``--url http://127.0.0.1:8501``, or by itself when a
  server holds the embedded store's folder (``--data-dir``): the folder belongs to that server
  while it runs, and the server writes its address into the folder's lock file;
* otherwise directly: ``--data-dir`` (the embedded FAISS store, default ``./moorings-data``) or
  ``--search-store postgresql://...`` (with ``--search-backend auto|pgvector|cube``), no server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from moorings.errors import InvalidArgument, MooringsError
from moorings.search.backends import BACKEND_CHOICES
from moorings.search.types import INDEX_KINDS, METRICS


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("embedding search")
    g.add_argument(
        "--data-dir",
        type=Path,
        default=Path("moorings-data"),
        help="folder of the embedded search store (default ./moorings-data, created on first use)",
    )
    g.add_argument(
        "--search-store",
        default="embedded",
        help="'embedded' (FAISS in-process, default) or a postgresql:// URL",
    )
    g.add_argument(
        "--search-backend",
        default="auto",
        choices=BACKEND_CHOICES,
        help="on PostgreSQL: pgvector when installed, else cube (default auto), or force one",
    )


def register_collection(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("collection", help="create, fill, search and drop embedding collections")
    add_search_arguments(p)
    p.add_argument("--url", help="work through a running server (http://HOST:PORT) instead of directly")
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="send the first token of this file (a token file of the server, e.g. its "
        "--admin-token-file with --url of the admin port) as 'Authorization: Bearer'",
    )
    cmds = p.add_subparsers(dest="action", required=True)
    cmds.add_parser("list", help="list the collections")
    c = cmds.add_parser("create", help="create a collection")
    c.add_argument("name")
    c.add_argument("--dim", type=int, required=True)
    _spec_options(c)
    d = cmds.add_parser("describe", help="a collection's settings and size")
    d.add_argument("name")
    i = cmds.add_parser("ingest", help="upsert vectors from .npy/.csv/.parquet or a .keras Embedding layer")
    i.add_argument("name")
    i.add_argument("vectors", type=Path, help=".npy, .csv, .parquet or .keras file")
    i.add_argument("--ids", type=Path, help="item ids, one per line (default: the row numbers)")
    i.add_argument("--names", type=Path, help="item names, one per line")
    i.add_argument("--metadata", type=Path, help="JSON Lines, one object (or null) per item")
    i.add_argument("--layer", help="the Embedding layer of a .keras model (when it has several)")
    i.add_argument("--batch-size", type=int, default=1000, help="items per committed batch (1000)")
    i.add_argument("--create", action="store_true", help="create the collection first if it does not exist")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")
    _spec_options(i)
    s = cmds.add_parser("search", help="the nearest items to a vector, an item or a name")
    s.add_argument("name")
    q = s.add_mutually_exclusive_group(required=True)
    q.add_argument("--vector", help="comma-separated numbers")
    q.add_argument("--id", dest="item_id", help="an item's id")
    q.add_argument("--like", dest="like", help="part of an item's name (case-insensitive)")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--filter", help='JSON, e.g. \'{"year": {"gte": 2000}}\'')
    s.add_argument("--blend", help='JSON, e.g. \'{"field": "freshness", "weight": 0.2}\'')
    r = cmds.add_parser("drop", help="delete a collection and its items")
    r.add_argument("name")


def _spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", default="cosine", choices=METRICS)
    p.add_argument("--index", default="auto", choices=INDEX_KINDS)
    p.add_argument(
        "--reduce-to", type=int, default=None, help="index a truncated-SVD projection of this size"
    )


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"--{what} is not JSON: {exc}") from None


def _print(value: Any) -> None:
    sys.stdout.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n"
    )


def run_collection(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except MooringsError as exc:
        sys.stderr.write(f"moorings collection: error: {exc.message}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    service: Any
    url = args.url
    if url is None and args.search_store == "embedded":
        from moorings.search.folder_lock import holder_url

        url = holder_url((args.data_dir / "collections").resolve())
        if url is not None:
            sys.stderr.write(
                f"moorings collection: {args.data_dir} is held by the server at {url}; using it\n"
            )
    if url:
        from moorings.search.client import RemoteCollections

        token = None
        if args.token_file is not None:
            from moorings.auth.tokens import read_token_file

            token = read_token_file(args.token_file, "--token-file")[0].decode()
        service = RemoteCollections(url, token=token)
    else:
        from moorings.search.backends import open_collections
        from moorings.search.json_api import JsonCollections

        service = JsonCollections(open_collections(args.search_store, args.data_dir, args.search_backend))
    try:
        if args.action == "list":
            _print(service.list_all())
        elif args.action == "create":
            _print(service.create(_spec(args, args.dim)))
        elif args.action == "describe":
            _print(service.describe(args.name))
        elif args.action == "drop":
            _print(service.drop(args.name))
        elif args.action == "search":
            body: dict[str, Any] = {"k": args.k}
            if args.vector is not None:
                try:
                    body["vector"] = [float(x) for x in args.vector.split(",")]
                except ValueError:
                    raise InvalidArgument("--vector must be comma-separated numbers") from None
            elif args.item_id is not None:
                body["id"] = args.item_id
            else:
                body["name"] = args.like
            for key in ("filter", "blend"):
                value = _json_arg(getattr(args, key), key)
                if value is not None:
                    body[key] = value
            _print(service.search(args.name, body))
        elif args.action == "ingest":
            _ingest(service, args)
        return 0
    finally:
        service.close()


def _spec(args: argparse.Namespace, dim: int) -> dict[str, Any]:
    return {
        "name": args.name,
        "dim": dim,
        "metric": args.metric,
        "index": args.index,
        "reduce_to": args.reduce_to,
    }


def _ingest(service: Any, args: argparse.Namespace) -> None:
    from moorings.errors import NotFound
    from moorings.search import ingest, reduce

    if args.batch_size < 1:
        raise InvalidArgument("--batch-size must be at least 1")
    source = ingest.load_source(args.vectors, args.ids, args.names, args.metadata, args.layer)
    dim = source.vectors.shape[1]
    try:
        spec = service.describe(args.name)
    except NotFound:
        if not args.create:
            raise
        spec = service.create(_spec(args, dim))
    if spec["dim"] != dim:
        raise InvalidArgument(
            f"{args.vectors.name} has vectors of dimension {dim}; {args.name!r} holds {spec['dim']}"
        )

    def write(ids: list[str], vectors: Any, names: Any, metadata: Any) -> None:
        service.upsert_arrays(args.name, ids, vectors, names, metadata)

    count = ingest.ingest(source, write, args.batch_size, progress=not args.no_progress, label=args.name)
    report: dict[str, Any] = {"ingested": count, "collection": service.describe(args.name)}
    reduce_to = spec.get("reduce_to") or (
        spec.get("index_dim") if spec.get("index_dim", dim) != dim else None
    )
    if reduce_to:
        vectors = source.vectors
        if spec["metric"] == "cosine":
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        projection = reduce.fit(vectors.astype(np.float32), int(reduce_to))
        report["reduce_to"] = int(reduce_to)
        report["reduced_recall_at_10"] = round(
            reduce.reduced_recall(vectors.astype(np.float32), projection, spec["metric"]), 4
        )
    _print(report)
