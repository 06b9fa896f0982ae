"""Text inputs through the pipeline of a loaded version (real Loader, a real ONNX model summing
ids under the mask, a real WordPiece tokenizer.json): plain strings in over the REST app, as JSON
and as a form upload, batched (padded to max_length) and unbatched (padded to the longest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from moorings.rest.app import RestApp
from tests.preprocess.test_text import write_wordpiece
from tests.support.asgi import call, serving_app
from tests.support.forms import multipart

#: [CLS]=2 hello=4 world=5 [SEP]=3; [CLS] cat=7 sat=8 cat=7 ##s=6 [SEP]
TOTALS = [2 + 4 + 5 + 3, 2 + 7 + 8 + 7 + 6 + 3]


def write_masked_sum(folder: Path) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["input_ids", "attention_mask"], ["kept"]),
            helper.make_node("ReduceSum", ["kept", "axes"], ["total"], keepdims=0),
        ],
        "masked_sum",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("total", TensorProto.INT64, ["batch"])],
        [helper.make_tensor(name="axes", data_type=TensorProto.INT64, dims=[1], vals=[1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    write_wordpiece(folder)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    root = tmp_path_factory.mktemp("text-repo")
    write_masked_sum(root / "padded" / "1")
    (root / "padded" / "model.toml").write_text('[inputs.text]\nkind = "text"\nmax_length = 16\n')
    write_masked_sum(root / "longest" / "1")
    (root / "longest" / "model.toml").write_text('[inputs.text]\nkind = "text"\npadding = "longest"\n')
    with serving_app(root) as served:
        yield served


@pytest.mark.parametrize("model", ["padded", "longest"])
def test_plain_strings_in(app: RestApp, model: str) -> None:
    r = call(app, "POST", f"/v1/models/{model}:predict", json={"instances": ["Hello world", "cat sat cats"]})
    assert r.status == 200, r.body
    assert r.json() == {"predictions": TOTALS}
    body, content_type = multipart([("text", None, b"hello world"), ("text", None, b"cat sat cats")])
    r = call(app, "POST", f"/v1/models/{model}:predict", content=body, headers={"content-type": content_type})
    assert r.status == 200, r.body
    assert r.json() == {"predictions": TOTALS}


def test_the_metadata_shows_one_string_input(app: RestApp) -> None:
    r = call(app, "GET", "/v2/models/padded")
    assert r.json()["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]


def test_text_that_is_not_utf8_is_named(app: RestApp) -> None:
    body, content_type = multipart([("text", "t.bin", b"\xff\xfe")])
    r = call(app, "POST", "/v1/models/padded:predict", content=body, headers={"content-type": content_type})
    assert r.status == 400 and "input 'text': row 0 is not UTF-8 text" in r.json()["error"]
