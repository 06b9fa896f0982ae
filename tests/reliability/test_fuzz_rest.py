"""Hypothesis-made requests against every REST route of ONE server process: never a 5xx, never a crash.

Each case is written as raw bytes on its own connection (no client library normalises it):
a method, a path built from the server's routes with odd segments mixed in (percent signs,
dots, non-ASCII bytes, empty segments, very long names), headers the server reads
(Content-Type, Content-Encoding, Inference-Header-Content-Length, Request-Timeout,
X-Request-Id, traceparent) with random values, and a body that is random JSON shaped like a
TF Serving, KServe V2 or collection request, a V2 binary request, a ``.npy`` search query,
gzip, or random bytes.
1,000 cases short, 5,000 full. At the end the server must be alive, its log free of
tracebacks, and its resident memory within 64 MiB of what it was after the first cases.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.scale import pick
from tests.support import onnx_models
from tests.support.procstat import sample
from tests.support.server import RunningServer, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

CASES = int(pick(1000, 5000))
#: resident memory may grow this much over the run (MiB): caches of bounded size fill up
RSS_GROWTH_MIB = 64.0
MODELS = ["mlp", "ints", "two"]
COLLECTION = "vectors"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("fuzz")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1", seed=1)
    onnx_models.write_int_model(root / "repo" / "ints" / "1")
    onnx_models.write_two_in_two_out(root / "repo" / "two" / "1")
    (root / "repo" / "mlp" / "model.toml").write_text("[labels]\nstable = 1\n")
    with running_server(root / "repo", "--data-dir", str(root / "data")) as running:
        created = httpx.post(f"{running.url}/v1/collections", json={"name": COLLECTION, "dim": 4})
        assert created.status_code == 201, created.text
        items = [{"id": f"item-{i}", "vector": [i, 1.0, 2.0, 3.0], "metadata": {"i": i}} for i in range(20)]
        upserted = httpx.post(f"{running.url}/v1/collections/{COLLECTION}:upsert", json={"items": items})
        assert upserted.status_code == 200, upserted.text
        yield running


# -- paths ---------------------------------------------------------------------------------------

ODD = st.one_of(
    st.sampled_from(
        ["", ".", "..", "%", "%2F", "%00", "%zz", "a b", "é", "\u202e", "🙂", "-1", "0", "9" * 30]
    ),
    st.text(alphabet=string.printable, max_size=20),
    st.text(max_size=8),
    st.text(alphabet="a", min_size=60, max_size=200),
)
NAME = st.one_of(st.sampled_from([*MODELS, COLLECTION]), ODD)
VERSION = st.one_of(st.sampled_from(["1", "2"]), st.integers(-(2**70), 2**70).map(str), ODD)


@st.composite
def paths(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["tfs", "v2", "collections", "other"]))
    if kind == "tfs":
        segments = ["v1", "models", draw(NAME)]
        which = draw(st.sampled_from(["", "versions", "labels"]))
        if which == "versions":
            segments += ["versions", draw(VERSION)]
        elif which == "labels":
            segments += ["labels", draw(st.one_of(st.just("stable"), ODD))]
        tail = draw(st.sampled_from(["", ":predict", ":classify", ":regress", "/metadata", ":odd", "/x"]))
        if tail.startswith("/"):
            segments.append(tail[1:])
        else:
            segments[-1] += tail
        return segments
    if kind == "v2":
        segments = ["v2"]
        if draw(st.booleans()):
            segments += ["models", draw(NAME)]
            if draw(st.booleans()):
                segments += ["versions", draw(VERSION)]
            segments += draw(st.sampled_from([[], ["ready"], ["infer"], ["config"], ["infer", "x"]]))
        else:
            segments += draw(st.sampled_from([[], [""], ["health", "live"], ["health", "ready"], ["health"]]))
        return segments
    if kind == "collections":
        segments = ["v1", "collections"]
        if draw(st.booleans()):
            name = draw(NAME)
            verb = draw(st.sampled_from(["", ":upsert", ":delete", ":search", ":x"]))
            segments.append(name + verb)
            if draw(st.booleans()):
                segments += ["items", draw(st.one_of(st.just("item-1"), ODD))]
        return segments
    return draw(st.sampled_from([[""], ["metrics"], ["v1"], ["v1", "models"], ["v1", "models", ""], ["x"]]))


def encode_path(segments: list[str], raw: bool) -> bytes:
    """The request-target: percent-encoded, or (``raw``) the segments' UTF-8 bytes as they are."""
    if raw:
        return b"/" + "/".join(segments).encode("utf-8", "surrogatepass")
    from urllib.parse import quote

    return b"/" + "/".join(quote(s, safe=":@!$&'()*+,;=") for s in segments).encode("ascii")


# -- bodies ----------------------------------------------------------------------------------------

NUMBER = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, 1e308, -1e-308, 2**63, -(2**63) - 1]),
)
SCALAR = st.one_of(NUMBER, st.booleans(), st.none(), st.text(max_size=10))
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.builds(lambda b: {"b64": base64.b64encode(b).decode()}, st.binary(max_size=12)),
    ),
    max_leaves=30,
)
ROW = st.one_of(st.lists(NUMBER, min_size=0, max_size=6), VALUE)
DTYPES = ["FP32", "FP64", "FP16", "INT8", "INT32", "INT64", "UINT8", "BOOL", "BYTES", "BF16", "X"]
SHAPE = st.lists(st.one_of(st.integers(-2, 8), st.integers(0, 2**62)), max_size=4)


def _maybe(draw: st.DrawFn, key: str, strategy: st.SearchStrategy[Any], body: dict[str, Any]) -> None:
    if draw(st.booleans()):
        body[key] = draw(strategy)


@st.composite
def tfserving_bodies(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {}
    which = draw(st.sampled_from(["instances", "inputs", "examples", "neither"]))
    if which == "instances":
        body["instances"] = draw(st.one_of(st.lists(ROW, max_size=6), VALUE))
    elif which == "inputs":
        body["inputs"] = draw(
            st.one_of(st.dictionaries(st.sampled_from(["x", "a", "b", "ids", "?"]), ROW, max_size=3), VALUE)
        )
    elif which == "examples":
        body["examples"] = draw(st.lists(st.dictionaries(st.text(max_size=4), VALUE, max_size=3), max_size=4))
        _maybe(draw, "context", st.dictionaries(st.text(max_size=4), VALUE, max_size=2), body)
    _maybe(draw, "signature_name", st.one_of(st.just("serving_default"), st.text(max_size=10)), body)
    return body


@st.composite
def v2_bodies(draw: st.DrawFn) -> Any:
    def tensor(draw: st.DrawFn) -> dict[str, Any]:
        t: dict[str, Any] = {}
        _maybe(draw, "name", st.one_of(st.sampled_from(["x", "a", "b", "ids"]), st.text(max_size=5)), t)
        _maybe(draw, "shape", st.one_of(SHAPE, VALUE), t)
        _maybe(draw, "datatype", st.one_of(st.sampled_from(DTYPES), VALUE), t)
        _maybe(draw, "data", st.one_of(st.lists(NUMBER, max_size=8), VALUE), t)
        _maybe(draw, "parameters", st.dictionaries(st.sampled_from(["binary_data_size", "x"]), VALUE), t)
        return t

    body: dict[str, Any] = {"inputs": [tensor(draw) for _ in range(draw(st.integers(0, 3)))]}
    if draw(st.booleans()):
        body["outputs"] = [
            {"name": draw(st.text(max_size=12)), "parameters": {"binary_data": draw(st.booleans())}}
            for _ in range(draw(st.integers(0, 2)))
        ]
    _maybe(
        draw,
        "parameters",
        st.dictionaries(st.sampled_from(["timeout", "binary_data_output", "x"]), VALUE),
        body,
    )
    _maybe(draw, "id", VALUE, body)
    return body


@st.composite
def collection_bodies(draw: st.DrawFn) -> Any:
    return draw(
        st.sampled_from(
            [
                {"name": draw(NAME), "dim": draw(st.one_of(st.integers(-3, 2**40), VALUE))},
                {
                    "items": [
                        {"name": draw(st.text(max_size=8)), "vector": draw(st.lists(NUMBER, max_size=6))}
                    ]
                },
                {
                    "vector": draw(st.lists(NUMBER, max_size=6)),
                    "k": draw(st.one_of(st.integers(-2, 2**40), VALUE)),
                },
                {"name": draw(st.text(max_size=8)), "k": 3},
                {"names": draw(st.lists(st.text(max_size=8), max_size=3))},
                draw(VALUE),
            ]
        )
    )


@st.composite
def npy_bodies(draw: st.DrawFn) -> bytes:
    """A ``.npy`` array as a collection search takes it, with a header of random fields."""
    shape = tuple(
        draw(st.lists(st.one_of(st.integers(0, 6), st.sampled_from([2**31, 2**63, -1])), max_size=3))
    )
    descr = draw(st.sampled_from(["<f4", "<f2", "<f8", ">f4", "|O", "<i4", "x"]))
    header = f"{{'descr': {descr!r}, 'fortran_order': {draw(st.booleans())}, 'shape': {shape!r}, }}"
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.text(max_size=60))
    raw = header.encode("utf-8", "surrogatepass")
    raw += b" " * (-(len(raw) + 11) % 64) + b"\n"
    major = draw(st.sampled_from([1, 1, 2, 3, 9]))
    size = len(raw).to_bytes(2 if major == 1 else 4, "little")
    count = 1
    for n in shape:
        count *= max(n, 0)
    data = draw(st.binary(max_size=64)) if draw(st.booleans()) or count > 64 else b"\0" * (4 * count)
    return b"\x93NUMPY" + bytes([major, 0]) + size + raw + data


def _fitting_method(segments: list[str]) -> str:
    """The method the route the segments look like takes."""
    last = segments[-1] if segments else ""
    if segments[:2] == ["v1", "collections"]:
        return "POST" if ":" in last or len(segments) == 2 else "GET"
    if last.endswith((":predict", ":classify", ":regress")) or last == "infer":
        return "POST"
    return "GET"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["none", "tfs", "v2", "collection", "v2-binary", "npy", "bytes", "gzip"]))
    # half the bodies go to the route that reads them, the others anywhere
    fitting = {
        "tfs": st.sampled_from(MODELS).map(lambda m: ["v1", "models", m + ":predict"]),
        "v2": st.sampled_from(MODELS).map(lambda m: ["v2", "models", m, "infer"]),
        "v2-binary": st.sampled_from(MODELS).map(lambda m: ["v2", "models", m, "infer"]),
        "collection": st.sampled_from(["", ":upsert", ":delete", ":search"]).map(
            lambda verb: ["v1", "collections", COLLECTION + verb]
        ),
        "npy": st.just(["v1", "collections", COLLECTION + ":search"]),
    }
    segments = draw(fitting[kind] if kind in fitting and draw(st.booleans()) else paths())
    method = _fitting_method(segments)
    if draw(st.integers(0, 3)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "X"]))
    path = encode_path(segments, raw=draw(st.booleans()))
    headers: list[tuple[bytes, bytes]] = []
    body = b""
    if kind in ("tfs", "v2", "collection", "gzip"):
        strategy = {"tfs": tfserving_bodies(), "v2": v2_bodies(), "collection": collection_bodies()}
        value = draw(strategy.get(kind, st.one_of(tfserving_bodies(), v2_bodies())))
        body = json.dumps(value).encode()
        if draw(st.integers(0, 9)) == 0:
            body = body[: draw(st.integers(0, len(body)))]  # cut short
        if kind == "gzip":
            body = gzip.compress(body)
            headers.append(
                (b"content-encoding", draw(st.sampled_from([b"gzip", b"deflate", b"br", b"gzip, x"])))
            )
    elif kind == "v2-binary":
        head = json.dumps(draw(v2_bodies())).encode()
        blob = draw(st.binary(max_size=256))
        body = head + blob
        length = draw(st.one_of(st.just(len(head)), st.integers(-5, len(body) + 5), st.just(0)))
        headers.append((b"inference-header-content-length", str(length).encode()))
    elif kind == "npy":
        body = draw(npy_bodies())
        headers.append((b"content-type", b"application/x-npy"))
        if draw(st.booleans()):
            options = json.dumps({"k": draw(st.one_of(st.integers(-1, 50), VALUE))}).encode()
            body = options + body
            headers.append(
                (b"search-options-length", str(draw(st.sampled_from([len(options), 0, 3]))).encode())
            )
    elif kind == "bytes":
        body = draw(st.binary(max_size=2048))
    if draw(st.booleans()):
        types = [
            b"application/json",
            b"application/octet-stream",
            b"application/x-npy",
            b"text/plain",
            b"x/\xff",
        ]
        headers.append((b"content-type", draw(st.sampled_from(types))))
    for name in (b"request-timeout", b"x-request-id", b"traceparent", b"inference-header-content-length"):
        if draw(st.integers(0, 5)) == 0:
            value = draw(
                st.one_of(st.text(alphabet=string.printable.strip(), max_size=40), st.binary(max_size=20))
            )
            value = value.encode("latin-1", "replace") if isinstance(value, str) else value
            headers.append((name, value.replace(b"\r", b"").replace(b"\n", b"")))
    head = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    head += [k + b": " + v for k, v in headers]
    head.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _exchange(port: int, request: bytes) -> bytes:
    """Send the request, read until the server closes; the answer's raw bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_fuzzed_requests_never_get_a_5xx(server: RunningServer) -> None:
    seen: dict[int, int] = {}
    rss: list[float] = []

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(request=requests())
    def case(request: bytes) -> None:
        answer = _exchange(server.rest_port, request)
        assert answer.startswith(b"HTTP/1.1 "), (request[:300], answer[:200])
        status = int(answer[9:12])
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (request[:500], answer[:500])
        if sum(seen.values()) == 50:
            rss.append(sample(server.process.pid).rss_mib)

    case()
    end = sample(server.process.pid)
    statuses = dict(sorted(seen.items()))
    print(f"fuzz: {sum(seen.values())} cases, {statuses}, RSS {rss[0]:.1f} -> {end.rss_mib:.1f} MiB")
    assert sum(seen.values()) >= CASES
    assert server.process.poll() is None
    assert httpx.get(f"{server.url}/v2/health/live").status_code == 200
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert end.rss_mib - rss[0] < RSS_GROWTH_MIB
