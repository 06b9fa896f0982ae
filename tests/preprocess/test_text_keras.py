"""A real Keras Tokenizer's to_json() file: the server's ids equal Keras' own (texts_to_sequences +
pad_sequences), with its defaults (padding and truncation at the front)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.dtypes import by_name
from moorings.preprocess.text import TextPreprocessor, parse_text
from moorings.types import TensorSpec

pytestmark = pytest.mark.tensorflow

CORPUS = ["The cat sat on the mat.", "A dog ate my homework!", "Cats and dogs; the end?", "été à Paris"]
QUERIES = ["the cat ate a fish", "dog", "THE END, the mat, the cat, the dog, the homework", "", "Été"]


@pytest.mark.parametrize(
    "settings", [{"oov_token": "<oov>"}, {"num_words": 6}, {"num_words": 6, "oov_token": "?"}]
)
def test_ids_equal_keras(tmp_path: Path, settings: dict[str, object]) -> None:
    from keras.src.legacy.preprocessing.text import Tokenizer
    from keras.src.utils.sequence_utils import pad_sequences

    keras_tokenizer = Tokenizer(**settings)
    keras_tokenizer.fit_on_texts(CORPUS)
    (tmp_path / "tokenizer.json").write_text(keras_tokenizer.to_json())
    inputs = {"tokens": TensorSpec("tokens", by_name("int32"), (-1, 6))}
    text = TextPreprocessor.from_declaration(parse_text("text", {}), tmp_path, inputs)
    values = np.array([q.encode() for q in QUERIES], dtype=object)
    ours = text.encode(values)["tokens"]
    expected = pad_sequences(keras_tokenizer.texts_to_sequences(QUERIES), maxlen=6)
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(ours, expected)
