"""Text inputs: plain strings tokenized on the server into a model's id, mask and type-id inputs.

Declared in ``model.toml`` beside the version's vocabulary::

    [inputs.text]                    # "text": the input clients send (strings, one per row)
    kind = "text"
    tokenizer = "tokenizer.json"     # a file of the version folder: a Hugging Face tokenizer.json,
                                     # or a Keras Tokenizer.to_json() file (or its word index alone)
    max_length = 128                 # default: the model's fixed sequence length, else 512
    padding = "max_length"           # every row to max_length; "longest": to the request's longest
                                     # text (only for a model served unbatched: rows of requests
                                     # batched together must be as wide as each other)
    truncation = true                # false: a text of more than max_length tokens is a 400
    side = "right"                   # where padding and truncation happen ("left"; Keras: "left")
    ids = "input_ids"                # the model inputs it feeds; mask and type ids only when the
    mask = "attention_mask"          # model has them (naming one the model lacks fails the load)
    type_ids = "token_type_ids"
    pad_id = 0                       # default: the tokenizer's pad token, else 0

Files are JSON, read with ``json`` or the ``tokenizers`` package (``pip install
'moorings[text]'``); nothing is unpickled. :func:`parse_text` reads the table;
:meth:`TextPreprocessor.from_declaration` binds it to a version (its folder and its
signature's inputs) and :meth:`TextPreprocessor.encode` turns one request's strings
into the model's tensors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from moorings import dtypes
from moorings.errors import InvalidArgument, LoadError
from moorings.types import TensorSpec

#: the largest vocabulary file read
MAX_VOCABULARY_BYTES = 64 * 1024 * 1024
#: the sequence length when neither the declaration nor the model fixes one
DEFAULT_MAX_LENGTH = 512
#: the longest sequence a declaration may ask for
MAX_LENGTH_LIMIT = 65536
_PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "[pad]", "<PAD>")
_KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_KEYS = {"tokenizer", "max_length", "padding", "truncation", "side", "ids", "mask", "type_ids", "pad_id"}


@dataclass(frozen=True)
class TextInput:
    """What ``[inputs.<name>] kind = "text"`` declares (``name``: the input clients send)."""

    name: str
    kind: str = "text"
    tokenizer: str = "tokenizer.json"
    max_length: int | None = None
    padding: str = "max_length"
    truncation: bool = True
    #: None: "right", or "left" for a Keras word index (as Keras' pad_sequences does)
    side: str | None = None
    ids: str = "input_ids"
    mask: str = "attention_mask"
    type_ids: str = "token_type_ids"
    pad_id: int | None = None
    #: the model.toml keys given (a mask or type-ids input named there must exist)
    given: frozenset[str] = frozenset()


def parse_text(name: str, table: dict[str, Any]) -> TextInput:
    """The declaration of ``[inputs.<name>]`` (its table without ``kind``); InvalidArgument naming
    the key that is wrong."""
    where = f"inputs.{name}"
    unknown = set(table) - _KEYS
    if unknown:
        raise InvalidArgument(
            f"unknown key(s) in [{where}]: {', '.join(sorted(unknown))} (a text input takes: "
            f"{', '.join(sorted(_KEYS))})"
        )
    for key in ("tokenizer", "ids", "mask", "type_ids"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise InvalidArgument(f"{where}.{key} must be a non-empty string")
    max_length = table.get("max_length")
    if max_length is not None and (type(max_length) is not int or not 1 <= max_length <= MAX_LENGTH_LIMIT):
        raise InvalidArgument(f"{where}.max_length must be an integer from 1 to {MAX_LENGTH_LIMIT}")
    padding = table.get("padding", "max_length")
    if padding not in ("longest", "max_length"):
        raise InvalidArgument(f"{where}.padding must be 'longest' or 'max_length', got {padding!r}")
    truncation = table.get("truncation", True)
    if type(truncation) is not bool:
        raise InvalidArgument(f"{where}.truncation must be true or false")
    side = table.get("side")
    if side is not None and side not in ("right", "left"):
        raise InvalidArgument(f"{where}.side must be 'right' or 'left', got {side!r}")
    pad_id = table.get("pad_id")
    if pad_id is not None and (type(pad_id) is not int or not 0 <= pad_id < 2**31):
        raise InvalidArgument(f"{where}.pad_id must be an integer from 0 to 2**31 - 1")
    defaults = TextInput(name)
    return TextInput(
        name=name,
        tokenizer=table.get("tokenizer", defaults.tokenizer),
        max_length=max_length,
        padding=padding,
        truncation=truncation,
        side=side,
        ids=table.get("ids", defaults.ids),
        mask=table.get("mask", defaults.mask),
        type_ids=table.get("type_ids", defaults.type_ids),
        pad_id=pad_id,
        given=frozenset(table),
    )


class Vocabulary(Protocol):
    """Turns texts into token ids (and type ids), truncated to ``max_length`` when asked."""

    #: the pad token's id, when the vocabulary names one
    pad_id: int | None
    #: the side padding and truncation default to
    side: str

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]: ...


class HuggingFaceVocabulary:
    """A ``tokenizer.json`` through the ``tokenizers`` package (its normaliser, pre-tokenizer,
    model and special tokens). Padding is done by :class:`TextPreprocessor`; truncation, which
    must keep the special tokens, by the tokenizer (set once here, never changed after)."""

    side = "right"

    def __init__(self, text: str, max_length: int | None, side: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise LoadError(
                "a tokenizer.json needs the tokenizers package (pip install 'moorings[text]')"
            ) from None
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # the Rust side raises plain Exceptions
            raise LoadError(f"the tokenizer file is not a valid tokenizer.json: {str(exc)[:200]}") from None
        pad = (tokenizer.padding or {}).get("pad_id")
        if pad is None:
            pad = next((i for t in _PAD_TOKENS if (i := tokenizer.token_to_id(t)) is not None), None)
        self.pad_id: int | None = pad
        tokenizer.no_padding()
        if max_length is None:
            tokenizer.no_truncation()
        else:
            tokenizer.enable_truncation(max_length, direction=side)
        self.tokenizer = tokenizer

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        return [(e.ids, e.type_ids) for e in self.tokenizer.encode_batch(list(texts))]


class KerasVocabulary:
    """A Keras ``Tokenizer.to_json()`` file (or a plain ``{"word": index}`` object), applied as
    Keras' ``texts_to_sequences`` does: lower case, filtered characters as separators, split,
    words beyond ``num_words`` or unknown become the OOV token when there is one, else are dropped.
    Truncation is done by :class:`TextPreprocessor`."""

    side = "left"
    pad_id: int | None = 0

    def __init__(self, data: dict[str, Any]) -> None:
        config = data.get("config") if data.get("class_name") == "Tokenizer" else None
        if config is None:
            config = {"word_index": data}
        if not isinstance(config, dict):
            raise LoadError("the Keras tokenizer file has no 'config' object")
        index = config.get("word_index")
        if isinstance(index, str):  # to_json() writes its dictionaries as JSON strings
            try:
                index = json.loads(index)
            except ValueError:
                raise LoadError("the Keras tokenizer's word_index is not valid JSON") from None
        if not isinstance(index, dict) or not all(
            isinstance(k, str) and type(v) is int and 0 <= v < 2**31 for k, v in index.items()
        ):
            raise LoadError("the Keras tokenizer's word_index must map words to integers from 0 to 2**31 - 1")
        self.word_index: dict[str, int] = index
        self.lower = bool(config.get("lower", True))
        self.split = str(config.get("split", " ")) or " "
        self.char_level = bool(config.get("char_level", False))
        filters = config.get("filters", _KERAS_FILTERS)
        self.table = str.maketrans(dict.fromkeys(str(filters or ""), self.split))
        num_words = config.get("num_words")
        self.num_words = num_words if type(num_words) is int and num_words > 0 else None
        oov = config.get("oov_token")
        self.oov_id = index.get(oov) if isinstance(oov, str) else None

    def _words(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        if self.char_level:
            return list(text)
        text = text.translate(self.table)
        return [w for w in text.split(self.split) if w]

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        encoded = []
        for text in texts:
            ids = []
            for word in self._words(text):
                i = self.word_index.get(word)
                if i is not None and (self.num_words is None or i < self.num_words):
                    ids.append(i)
                elif self.oov_id is not None:
                    ids.append(self.oov_id)
            encoded.append((ids, [0] * len(ids)))
        return encoded


def load_vocabulary(file: Path, max_length: int | None, side: str | None) -> Vocabulary:
    """The vocabulary in ``file``, its format read from its content (LoadError when unreadable)."""
    try:
        size = file.stat().st_size
        if size > MAX_VOCABULARY_BYTES:
            raise LoadError(f"the tokenizer file {file.name} is larger than {MAX_VOCABULARY_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LoadError(
            f"the tokenizer file {file.name} is not readable JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise LoadError(f"the tokenizer file {file.name} must hold a JSON object")
    if "model" in data and "class_name" not in data:
        return HuggingFaceVocabulary(text, max_length, side or "right")
    return KerasVocabulary(data)


def _version_file(version_dir: Path, relative: str, where: str) -> Path:
    """``relative`` inside ``version_dir`` (no absolute path, no '..', no link leading out)."""
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        raise LoadError(f"{where} must name a file inside the version folder, got {relative!r}")
    root = version_dir.resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        raise LoadError(f"{where}: the version folder has no file {relative!r}")
    return file


def _integer_input(spec: TensorSpec, where: str) -> None:
    if not spec.dtype.is_integer:
        raise LoadError(f"{where}: model input {spec.name!r} is {spec.dtype.name}, not integers")
    if spec.shape is not None and len(spec.shape) != 2:
        raise LoadError(
            f"{where}: model input {spec.name!r} has shape {spec.describe_shape()}; "
            "it must be [batch, length]"
        )


class TextPreprocessor:
    """A text declaration bound to one version: its vocabulary and the model inputs it feeds."""

    def __init__(
        self,
        declaration: TextInput,
        vocabulary: Vocabulary,
        feeds: dict[str, TensorSpec],
        max_length: int,
        pad_to_max: bool,
        side: str,
    ) -> None:
        self.declaration = declaration
        self.vocabulary = vocabulary
        #: "ids" / "mask" / "type_ids" -> the model input it fills
        self.feeds = feeds
        self.max_length = max_length
        self.pad_to_max = pad_to_max
        self.side = side
        pad = declaration.pad_id if declaration.pad_id is not None else vocabulary.pad_id
        self.pad_id = pad if pad is not None else 0
        #: the input as clients send it: one string per row
        self.wire = TensorSpec(declaration.name, dtypes.STRING, (-1,))

    @property
    def model_inputs(self) -> tuple[str, ...]:
        """The model inputs this declaration fills (clients do not send them)."""
        return tuple(spec.name for spec in self.feeds.values())

    @classmethod
    def from_declaration(
        cls, declaration: TextInput, version_dir: Path, model_inputs: Mapping[str, TensorSpec]
    ) -> TextPreprocessor:
        """Bind ``declaration`` to a version: read its vocabulary file and match the model's inputs
        (a signature's ``inputs``); LoadError naming the model.toml key when they do not fit."""
        where = f"inputs.{declaration.name}"
        feeds: dict[str, TensorSpec] = {}
        ids_name = declaration.ids
        if ids_name not in model_inputs and "ids" not in declaration.given and len(model_inputs) == 1:
            ids_name = next(iter(model_inputs))  # a Keras model's one sequence input
        if ids_name not in model_inputs:
            raise LoadError(
                f"{where}.ids: the model has no input {ids_name!r} "
                f"(inputs: {', '.join(sorted(model_inputs))})"
            )
        feeds["ids"] = model_inputs[ids_name]
        for role, name in (("mask", declaration.mask), ("type_ids", declaration.type_ids)):
            if name in model_inputs and name != ids_name:
                feeds[role] = model_inputs[name]
            elif role in declaration.given:
                raise LoadError(f"{where}.{role}: the model has no input {name!r}")
        lengths = set()
        for spec in feeds.values():
            _integer_input(spec, where)
            if spec.shape is not None and spec.shape[1] > 0:
                lengths.add(spec.shape[1])
        if len(lengths) > 1:
            raise LoadError(f"{where}: the model's token inputs have different lengths {sorted(lengths)}")
        fixed = next(iter(lengths), None)
        if fixed is not None and declaration.max_length not in (None, fixed):
            raise LoadError(
                f"{where}.max_length is {declaration.max_length}, but the model takes sequences of {fixed}"
            )
        max_length = fixed or declaration.max_length or DEFAULT_MAX_LENGTH
        file = _version_file(version_dir, declaration.tokenizer, f"{where}.tokenizer")
        truncate_at = max_length if declaration.truncation else None
        vocabulary = load_vocabulary(file, truncate_at, declaration.side)
        side = declaration.side or vocabulary.side
        pad_to_max = fixed is not None or declaration.padding == "max_length"
        return cls(declaration, vocabulary, feeds, max_length, pad_to_max, side)

    def encode(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """One request's strings (bytes, one per row) as the model's inputs; InvalidArgument
        naming the row for text that is not UTF-8 or, without truncation, too long."""
        name = self.declaration.name
        flat = values.reshape(-1) if values.ndim == 2 and values.shape[1:] == (1,) else values
        if flat.ndim != 1:
            raise InvalidArgument(
                f"input {name!r}: expected one string per row, got shape {list(values.shape)}"
            )
        texts = []
        for row, value in enumerate(flat.tolist()):
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidArgument(f"input {name!r}: row {row} is not UTF-8 text") from None
            if not isinstance(value, str):
                raise InvalidArgument(f"input {name!r}: row {row} is not a string")
            texts.append(value)
        encoded = self.vocabulary.encode(texts)
        longest = max((len(ids) for ids, _ in encoded), default=0)
        if longest > self.max_length:
            if not self.declaration.truncation:
                row = next(i for i, (ids, _) in enumerate(encoded) if len(ids) > self.max_length)
                raise InvalidArgument(
                    f"input {name!r}: row {row} has {len(encoded[row][0])} tokens, more than "
                    f"{self.max_length} (the model's max_length; truncation is off)"
                )
            encoded = [self._truncated(ids, types) for ids, types in encoded]  # Keras vocabularies
            longest = self.max_length
        width = self.max_length if self.pad_to_max else max(longest, 1)
        n = len(encoded)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        types = np.zeros((n, width), dtype=np.int64)
        for row, (row_ids, row_types) in enumerate(encoded):
            count = len(row_ids)
            at = slice(width - count, width) if self.side == "left" else slice(0, count)
            ids[row, at] = row_ids
            mask[row, at] = 1
            types[row, at] = row_types
        arrays = {"ids": ids, "mask": mask, "type_ids": types}
        return {
            spec.name: arrays[role].astype(spec.dtype.numpy, copy=False) for role, spec in self.feeds.items()
        }

    def _truncated(self, ids: list[int], types: list[int]) -> tuple[list[int], list[int]]:
        if len(ids) <= self.max_length:
            return ids, types
        if self.side == "left":
            return ids[-self.max_length :], types[-self.max_length :]
        return ids[: self.max_length], types[: self.max_length]
