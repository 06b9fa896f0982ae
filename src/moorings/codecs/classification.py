"""Top-k classes of score tensors, with class names: pure functions over numpy arrays.

Used by every front end that ranks an output: KServe V2's classification extension
(``"score:index:label"`` strings, as Triton writes them), TF Serving REST's ``top_k``
option on :predict, and the names :classify answers with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from moorings.errors import InvalidArgument
from moorings.types import ClassNames, Signature, Tensors

#: k when a request asks for top-k without a number (``"top_k": true``)
DEFAULT_TOP_K = 5
#: the largest k a request may ask for (more than any label file may name)
MAX_TOP_K = 100_000


def check_k(value: Any, where: str, flag: bool = False) -> int:
    """A requested k: a positive integer; with ``flag``, ``true`` too, meaning :data:`DEFAULT_TOP_K`."""
    if flag and value is True:
        return DEFAULT_TOP_K
    if type(value) is not int or not 1 <= value <= MAX_TOP_K:
        also = " or true" if flag else ""
        raise InvalidArgument(f"{where} must be a positive integer (at most {MAX_TOP_K}){also}")
    return value


def score_rows(array: np.ndarray, name: str) -> np.ndarray:
    """The scores as a 2-D float array, one row per batch entry (a 1-D output is one row)."""
    if array.dtype.kind not in "fiub":
        raise InvalidArgument(f"output {name!r} holds {array.dtype.name} values; only numbers can be ranked")
    if array.ndim == 0:
        raise InvalidArgument(f"output {name!r} is a scalar; ranking needs a vector of scores per row")
    rows = array.reshape(1, -1) if array.ndim == 1 else array.reshape(array.shape[0], -1)
    return rows.astype(np.float64, copy=False)


def top_k(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) of the ``k`` highest scores of each row, highest first (ties: lower index
    first; NaN last); ``k`` is cut to the row length."""
    k = min(k, rows.shape[1])
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(rows, order, axis=1)


def names_for(classes: ClassNames | None, output: str) -> tuple[str, ...] | None:
    """The class names that name ``output``: the version's, unless model.toml gives them to
    another output (``[classes] output``)."""
    if classes is None or not classes.names or classes.output not in (None, output):
        return None
    return classes.names


def name_of(index: int, names: tuple[str, ...] | None) -> str | None:
    return names[index] if names is not None and index < len(names) else None


def triton_strings(array: np.ndarray, k: int, names: tuple[str, ...] | None, output: str) -> np.ndarray:
    """Triton's classification answer: per row the top ``k`` as ``b"score:index:label"`` (or
    ``b"score:index"`` when there is no name), shape ``[rows, k]`` (``[k]`` for a 1-D output)."""
    rows = score_rows(array, output)
    indices, scores = top_k(rows, k)
    result = np.empty(indices.shape, dtype=object)
    for r in range(indices.shape[0]):
        for c in range(indices.shape[1]):
            index = int(indices[r, c])
            text = f"{scores[r, c]:f}:{index}"
            label = name_of(index, names)
            result[r, c] = (text if label is None else f"{text}:{label}").encode()
    return result.reshape(-1) if array.ndim == 1 else result


def ranked_output(signature: Signature, outputs: Tensors, classes: ClassNames | None) -> str:
    """The output to rank: the one model.toml names (``[classes] output``), else the only float
    output of rank 2 (``[batch, classes]``) of the signature."""
    if classes is not None and classes.output is not None:
        if classes.output not in outputs:
            raise InvalidArgument(
                f"the output to rank, {classes.output!r} (model.toml [classes] output), is not an output "
                f"of signature {signature.name!r}"
            )
        return classes.output
    floats = [n for n, a in outputs.items() if a.dtype.kind == "f" and a.ndim == 2]
    if len(floats) == 1:
        return floats[0]
    found = ", ".join(floats) if floats else "none"
    raise InvalidArgument(
        f"top_k needs one float output of shape [batch, classes]; signature {signature.name!r} has "
        f"{len(floats)} ({found}): name the one to rank in the model's model.toml ([classes] output)"
    )


def top_k_rows(array: np.ndarray, k: int, names: tuple[str, ...] | None, output: str) -> list[dict[str, Any]]:
    """Per row ``{"label", "confidence", "index", "top_k": [{"label", "confidence", "index"}, ...]}``,
    the label being the class name, or the index as text when the model has no names."""
    rows = score_rows(array, output)
    indices, scores = top_k(rows, k)
    answers = []
    for r in range(indices.shape[0]):
        entries = []
        for index, score in zip(indices[r].tolist(), scores[r].tolist(), strict=True):
            label = name_of(index, names) or str(index)
            entries.append({"label": label, "confidence": score, "index": index})
        best = entries[0]
        answers.append({**best, "top_k": entries})
    return answers


def named_classes(labels: list[list[str]], names: tuple[str, ...]) -> list[list[str]]:
    """Each row's labels replaced by the class names, by position (a position past the names keeps
    its label)."""
    return [[names[i] if i < len(names) else label for i, label in enumerate(row)] for row in labels]
