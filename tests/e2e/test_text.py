"""A text classifier served from plain strings: the server tokenizes with the version's tokenizer.json.

The model is an ONNX bag of embeddings over ``input_ids``/``attention_mask``; clients send
sentences (TF Serving JSON, KServe V2 BYTES, an ``s3://`` object), and every answer must equal
ONNX Runtime run directly on the ids the same tokenizer makes.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from moorings.dtypes import INT64
from moorings.preprocess.text import TextPreprocessor, parse_text
from moorings.types import TensorSpec
from tests.preprocess.test_text import write_wordpiece
from tests.support.s3 import s3_server
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

TEXTS = ["Hello worlds", "cat sat", "cat"]
MAX_LENGTH = 16


def _write_classifier(version: Path) -> None:
    write_wordpiece(version)
    embeddings = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["emb", "input_ids"], ["vectors"]),
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["maskf", "last"], ["mask3"]),
            helper.make_node("Mul", ["vectors", "mask3"], ["kept"]),
            helper.make_node("ReduceSum", ["kept", "one"], ["summed"], keepdims=0),
            helper.make_node("Softmax", ["summed"], ["probabilities"], axis=1),
        ],
        "sentiment",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        [
            numpy_helper.from_array(embeddings, "emb"),
            numpy_helper.from_array(np.array([2], np.int64), "last"),
            numpy_helper.from_array(np.array([1], np.int64), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(version / "model.onnx"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text") / "repo"
    _write_classifier(root / "sentiment" / "1")
    (root / "sentiment" / "model.toml").write_text(
        f'[inputs.text]\nkind = "text"\nmax_length = {MAX_LENGTH}\n'
    )
    return root


def _expected(repo: Path, texts: list[str]) -> np.ndarray:
    version = repo / "sentiment" / "1"
    specs = {name: TensorSpec(name, INT64, (-1, -1)) for name in ("input_ids", "attention_mask")}
    encoder = TextPreprocessor.from_declaration(
        parse_text("text", {"max_length": MAX_LENGTH}), version, specs
    )
    session = ort.InferenceSession(str(version / "model.onnx"))
    ids = encoder.encode(np.array([t.encode() for t in texts], dtype=object))
    (probabilities,) = session.run(None, ids)
    return np.asarray(probabilities)


def test_sentences_in_probabilities_out_on_every_route(repo: Path) -> None:
    want = _expected(repo, TEXTS)
    with s3_server() as s3:
        s3.client().create_bucket(Bucket="texts")
        s3.client().put_object(Bucket="texts", Key="review 1.txt", Body=b"cat sat")
        args = ("--allow-input-url", "s3://texts", "--s3-endpoint-url", s3.endpoint)
        with running_server(repo, *args, tfserving_grpc=False) as server:
            metadata = httpx.get(f"{server.url}/v1/models/sentiment/metadata").json()
            inputs = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
            assert list(inputs) == ["text"] and inputs["text"]["dtype"] == "DT_STRING"

            predict = f"{server.url}/v1/models/sentiment:predict"
            answer = httpx.post(predict, json={"instances": TEXTS}, timeout=30)
            assert answer.status_code == 200, answer.text
            got = np.array(answer.json()["predictions"], np.float32)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

            body = {"instances": [{"url": "s3://texts/review 1.txt"}]}
            answer = httpx.post(predict, json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            got = np.array(answer.json()["predictions"], np.float32)
            np.testing.assert_allclose(got, want[1:2], rtol=1e-5, atol=1e-6)

            v2 = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3], "data": TEXTS}]}
            answer = httpx.post(f"{server.url}/v2/models/sentiment/infer", json=v2, timeout=30)
            assert answer.status_code == 200, answer.text
            data = np.array(answer.json()["outputs"][0]["data"], np.float32).reshape(3, 3)
            np.testing.assert_allclose(data, want, rtol=1e-5, atol=1e-6)

            numbers = httpx.post(predict, json={"instances": [[1, 2]]})
            assert numbers.status_code == 400 and "text" in numbers.json()["error"]


def test_concurrent_sentences_of_different_lengths_batch_together(repo: Path) -> None:
    sentences = ["cat", "hello worlds cat sat", "cat sat"] * 8
    want = _expected(repo, sentences)
    with running_server(repo, "--batch-timeout-micros", "20000", tfserving_grpc=False) as server:

        def one(text: str) -> httpx.Response:
            return httpx.post(
                f"{server.url}/v1/models/sentiment:predict", json={"instances": [text]}, timeout=30
            )

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, sentences))
    assert [a.status_code for a in answers] == [200] * len(sentences), answers[0].text
    got = np.array([a.json()["predictions"][0] for a in answers], np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
