""":classify for a model with class names but no classify method of its own (ONNX, for one).

Each example names every input of the signature as a feature holding that row's values
(``{"x": [5.1, 3.5, 1.4, 0.2]}``); the examples are stacked into one batch, the signature
runs once, and its ranked output (see :func:`moorings.codecs.classification.ranked_output`)
is answered as every class, in index order, named by the version's class names.
"""

from __future__ import annotations

import numpy as np

from moorings.codecs.classification import name_of, names_for, ranked_output, score_rows
from moorings.codecs.json_values import to_array
from moorings.core.servable import Servable
from moorings.dataplane.inputs import check_inputs
from moorings.errors import InvalidArgument
from moorings.runtimes.base import Runtime
from moorings.types import ClassifyResult, Example, Signature, Tensors


def needs_scores_classify(servable: Servable) -> bool:
    """Whether :classify runs through :func:`classify_by_scores`: the version has class names and
    its runtime has no classify method."""
    return servable.classes is not None and type(servable.runtime).classify is Runtime.classify


def examples_as_inputs(signature: Signature, examples: list[Example]) -> Tensors:
    """One batch per input, each example's feature of that name being its row."""
    inputs: Tensors = {}
    for name, spec in signature.inputs.items():
        rows = []
        for i, example in enumerate(examples):
            if name not in example:
                takes = ", ".join(sorted(signature.inputs))
                raise InvalidArgument(f"example {i} lacks feature {name!r} (the model takes: {takes})")
            rows.append(example[name])
        if spec.dtype.is_string:  # text or {"b64": ...} (an encoded image, say): bytes per row
            inputs[name] = to_array(rows, spec.dtype, f"feature {name!r}")
            continue
        try:
            inputs[name] = np.asarray(rows, dtype=spec.dtype.numpy)
        except (ValueError, TypeError, OverflowError):
            raise InvalidArgument(
                f"feature {name!r} must hold {spec.dtype.v2_name} values of the same length in every example"
            ) from None
    return inputs


def classify_by_scores(servable: Servable, signature: Signature, examples: list[Example]) -> ClassifyResult:
    """Run the signature on the examples and answer every class with its score (on a worker thread)."""
    inputs = examples_as_inputs(signature, examples)
    check_inputs(signature, inputs, same_batch=True)
    outputs = {k: np.asarray(v) for k, v in servable.predict(signature, inputs).items()}
    name = ranked_output(signature, outputs, servable.classes)
    rows = score_rows(outputs[name], name)
    if rows.shape[0] != len(examples):
        raise InvalidArgument(f"output {name!r} has {rows.shape[0]} rows for {len(examples)} examples")
    names = names_for(servable.classes, name)
    labels = [name_of(i, names) or str(i) for i in range(rows.shape[1])]
    return ClassifyResult(labels=[labels] * len(examples), scores=rows.tolist())
