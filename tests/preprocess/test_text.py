"""Text inputs: tokenizers built here (a WordPiece tokenizer.json, a Keras word index), real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from moorings.dtypes import INT64, by_name
from moorings.errors import InvalidArgument, LoadError
from moorings.preprocess.text import TextInput, TextPreprocessor, parse_text
from moorings.types import TensorSpec

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "##s": 6, "cat": 7, "sat": 8}


def write_wordpiece(folder: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(VOCAB, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return tokenizer


def write_keras(folder: Path, **config: object) -> None:
    """A file as Keras' Tokenizer.to_json() writes it: its dictionaries as JSON strings."""
    word_index = {"<oov>": 1, "the": 2, "cat": 3, "sat": 4, "on": 5, "mat": 6}
    base = {
        "num_words": None, "filters": '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n', "lower": True, "split": " ",
        "char_level": False, "oov_token": "<oov>", "document_count": 1,
        "word_counts": json.dumps({"the": 2}), "word_docs": json.dumps({}), "index_docs": json.dumps({}),
        "index_word": json.dumps({str(v): k for k, v in word_index.items()}),
        "word_index": json.dumps(word_index),
    }  # fmt: skip
    base.update(config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps({"class_name": "Tokenizer", "config": base}))


def spec(name: str, shape: tuple[int, ...] = (-1, -1), dtype: str = "int64") -> TensorSpec:
    return TensorSpec(name, by_name(dtype), shape)


BERT_INPUTS = {n: spec(n) for n in ("input_ids", "attention_mask", "token_type_ids")}


def strings(*texts: str | bytes) -> np.ndarray:
    array = np.empty(len(texts), dtype=object)
    array[:] = [t.encode() if isinstance(t, str) else t for t in texts]
    return array


def bind(folder: Path, table: dict[str, object], inputs: dict[str, TensorSpec]) -> TextPreprocessor:
    return TextPreprocessor.from_declaration(parse_text("text", table), folder, inputs)


def test_wordpiece_ids_mask_and_type_ids_padded_to_the_longest(tmp_path: Path) -> None:
    tokenizer = write_wordpiece(tmp_path)
    text = bind(tmp_path, {"padding": "longest"}, BERT_INPUTS)
    assert text.wire.name == "text" and text.wire.dtype.is_string and text.wire.shape == (-1,)
    assert set(text.model_inputs) == set(BERT_INPUTS)
    out = text.encode(strings("Hello worlds", "cat"))
    assert out["input_ids"].tolist() == [[2, 4, 5, 6, 3], [2, 7, 3, 0, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert out["token_type_ids"].tolist() == [[0] * 5, [0] * 5]
    assert out["input_ids"].dtype == np.int64
    assert tokenizer.encode("Hello worlds").ids == out["input_ids"][0].tolist()  # the package's own answer


def test_rows_are_padded_to_max_length_by_default(tmp_path: Path) -> None:
    """Requests batched together are concatenated row-wise: every request's rows are equally wide."""
    write_wordpiece(tmp_path)
    text = bind(tmp_path, {"max_length": 8}, BERT_INPUTS)
    one, other = text.encode(strings("cat")), text.encode(strings("hello worlds cat", "sat"))
    assert one["input_ids"].shape == (1, 8) and other["input_ids"].shape == (2, 8)
    assert one["input_ids"].tolist() == [[2, 7, 3, 0, 0, 0, 0, 0]]
    assert bind(tmp_path, {}, BERT_INPUTS).encode(strings("cat"))["input_ids"].shape == (1, 512)


def test_fixed_length_truncation_keeps_special_tokens(tmp_path: Path) -> None:
    write_wordpiece(tmp_path)
    inputs = {n: spec(n, (-1, 4), "int32") for n in ("input_ids", "attention_mask")}
    text = bind(tmp_path, {}, inputs)
    out = text.encode(strings("cat sat cat sat", "cat"))
    assert out["input_ids"].tolist() == [[2, 7, 8, 3], [2, 7, 3, 0]]
    assert out["input_ids"].dtype == np.int32 and set(out) == {"input_ids", "attention_mask"}


def test_max_length_padding_and_left_side(tmp_path: Path) -> None:
    write_wordpiece(tmp_path)
    text = bind(tmp_path, {"max_length": 6, "padding": "max_length", "side": "left"}, BERT_INPUTS)
    assert text.encode(strings("cat"))["input_ids"].tolist() == [[0, 0, 0, 2, 7, 3]]


def test_without_truncation_a_long_text_is_a_400_naming_the_row(tmp_path: Path) -> None:
    write_wordpiece(tmp_path)
    text = bind(tmp_path, {"max_length": 4, "truncation": False}, BERT_INPUTS)
    with pytest.raises(InvalidArgument, match="row 1 has 6 tokens, more than 4"):
        text.encode(strings("cat", "cat sat cat sat"))


def test_bad_text_is_a_400(tmp_path: Path) -> None:
    write_wordpiece(tmp_path)
    text = bind(tmp_path, {"padding": "longest"}, BERT_INPUTS)
    with pytest.raises(InvalidArgument, match="row 1 is not UTF-8"):
        text.encode(strings("cat", b"\xff\xfe"))
    with pytest.raises(InvalidArgument, match="one string per row"):
        text.encode(strings("a", "b", "c", "d").reshape(2, 2))
    assert text.encode(strings("cat").reshape(1, 1))["input_ids"].shape == (1, 3)
    assert text.encode(strings())["input_ids"].shape == (0, 1)


def test_keras_word_index_as_keras_applies_it(tmp_path: Path) -> None:
    write_keras(tmp_path)
    text = bind(tmp_path, {"max_length": 5, "padding": "max_length"}, {"tokens": spec("tokens")})
    assert text.model_inputs == ("tokens",)
    out = text.encode(strings("The cat, sat on THE mat!", "a dog"))["tokens"]
    # "the cat sat on the mat" is 6 words: left (Keras' "pre") truncation keeps the last 5;
    # unknown words become the OOV token (1), and padding goes on the left
    assert out.tolist() == [[3, 4, 5, 2, 6], [0, 0, 0, 1, 1]]


def test_keras_num_words_and_no_oov(tmp_path: Path) -> None:
    write_keras(tmp_path, num_words=4, oov_token=None)
    text = bind(tmp_path, {"padding": "longest"}, {"tokens": spec("tokens")})
    assert text.encode(strings("the cat sat on the mat"))["tokens"].tolist() == [[2, 3, 2]]


def test_a_plain_word_index(tmp_path: Path) -> None:
    (tmp_path / "words.json").write_text(json.dumps({"hello": 1, "there": 2}))
    text = bind(
        tmp_path, {"tokenizer": "words.json", "side": "right", "padding": "longest"}, {"ids": spec("ids")}
    )
    assert text.encode(strings("Hello, there! Friend"))["ids"].tolist() == [[1, 2]]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"max_length": 0}, "max_length must be an integer"),
        ({"padding": "both"}, "padding must be"),
        ({"truncation": "yes"}, "truncation must be true or false"),
        ({"side": "middle"}, "side must be"),
        ({"pad_id": -1}, "pad_id must be"),
        ({"vocab": "x"}, "unknown key(s) in [inputs.text]: vocab"),
        ({"ids": ""}, "ids must be a non-empty string"),
    ],
)
def test_bad_declarations(table: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_text("text", table)
    assert message in caught.value.message


def test_load_errors_name_the_key(tmp_path: Path) -> None:
    write_wordpiece(tmp_path / "v")
    version = tmp_path / "v"
    (tmp_path / "outside.json").write_text("{}")
    cases = [
        ({"tokenizer": "../outside.json"}, BERT_INPUTS, "inputs.text.tokenizer must name a file inside"),
        ({"tokenizer": "/etc/passwd"}, BERT_INPUTS, "inputs.text.tokenizer must name a file inside"),
        ({"tokenizer": "missing.json"}, BERT_INPUTS, "has no file 'missing.json'"),
        ({}, {"x": spec("x"), "y": spec("y")}, "inputs.text.ids: the model has no input 'input_ids'"),
        ({"mask": "m"}, BERT_INPUTS, "inputs.text.mask: the model has no input 'm'"),
        ({"max_length": 8}, {"input_ids": spec("input_ids", (-1, 4))}, "model takes sequences of 4"),
        ({}, {"input_ids": spec("input_ids", dtype="float32")}, "not integers"),
        ({}, {"input_ids": spec("input_ids", (-1,))}, "[batch, length]"),
    ]
    for table, inputs, message in cases:
        with pytest.raises(LoadError) as caught:
            bind(version, table, inputs)
        assert message in caught.value.message, caught.value.message
        assert str(tmp_path) not in caught.value.message


def test_a_link_out_of_the_version_folder_is_refused(tmp_path: Path) -> None:
    write_wordpiece(tmp_path / "elsewhere")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "tokenizer.json").symlink_to(tmp_path / "elsewhere" / "tokenizer.json")
    with pytest.raises(LoadError, match="has no file"):
        bind(tmp_path / "v", {}, BERT_INPUTS)


def test_broken_vocabulary_files(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(LoadError, match="not readable JSON"):
        bind(tmp_path, {}, BERT_INPUTS)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "Nonsense"}}))
    with pytest.raises(LoadError, match=r"not a valid tokenizer\.json"):
        bind(tmp_path, {}, BERT_INPUTS)
    (tmp_path / "tokenizer.json").write_text(json.dumps({"word": "one"}))
    with pytest.raises(LoadError, match="word_index must map words"):
        bind(tmp_path, {}, BERT_INPUTS)


def test_the_tensors_run_in_a_real_model(tmp_path: Path) -> None:
    """An ONNX model summing ids under the mask: the encoded request runs as the model declares."""
    write_wordpiece(tmp_path)
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
    session = ort.InferenceSession(model.SerializeToString())
    inputs = {i.name: TensorSpec(i.name, INT64, (-1, -1)) for i in session.get_inputs()}
    text = TextPreprocessor.from_declaration(TextInput("text", padding="longest"), tmp_path, inputs)
    (total,) = session.run(None, text.encode(strings("hello world", "cat sat cats")))
    assert total.tolist() == [2 + 4 + 5 + 3, 2 + 7 + 8 + 7 + 6 + 3]
