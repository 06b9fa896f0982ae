"""A version's raw inputs: its model.toml declarations matched to its signatures.

The pipeline is built once per loaded version. It gives the signatures clients see (a
declared input shows what clients send: a string input with one value per row, in place of
the model inputs it fills) and, per request, turns those raw values into the tensors the
runtime takes (:meth:`InputPipeline.prepare`, on a batch thread or the inference pool).
Inputs that are not declared pass through unchanged.

Each kind has a binder in :data:`BINDERS`: an image fills the model input of its own name
with decoded pixels; a text input fills the model's token inputs (ids, mask, type ids) with
its tokenizer's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from moorings.errors import LoadError
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import Declaration, ImageInput
from moorings.preprocess.text import TextInput, TextPreprocessor
from moorings.types import Signature, Tensors, TensorSpec


@dataclass(frozen=True)
class BindContext:
    """What a kind may need to bind a declaration: the version's folder (assets) and the limits."""

    version_dir: Path
    limits: InputLimits


class BoundInput(Protocol):
    """A declaration matched to one signature."""

    @property
    def wire(self) -> TensorSpec:
        """The input as clients send it."""

    @property
    def model_inputs(self) -> tuple[str, ...]:
        """The model inputs it fills (clients do not send them)."""

    @property
    def fixed_shape(self) -> bool:
        """Whether every request's tensors have the same shape past the rows (what batching needs)."""

    def tensors(self, values: np.ndarray) -> Tensors:
        """The raw values of one request (one per row) as the model inputs it fills."""


#: a kind's binder: (declaration, a signature, context, strict) -> the bound input, or None when
#: the declaration is not about this signature's inputs (with ``strict``: a LoadError saying why);
#: LoadError naming the model.toml key when they do not fit
Binder = Callable[[Declaration, Signature, BindContext, bool], BoundInput | None]


def _bind_image(
    declaration: Declaration, signature: Signature, context: BindContext, strict: bool
) -> BoundInput | None:
    from moorings.preprocess.image import bind_image  # Pillow only for image models

    assert isinstance(declaration, ImageInput)
    tensor = signature.inputs.get(declaration.name)
    if tensor is None:
        if strict:
            raise LoadError(
                f"model.toml declares [inputs.{declaration.name}], but no signature has an input of that "
                f"name (inputs: {', '.join(sorted(signature.inputs)) or 'none'})"
            )
        return None
    return bind_image(declaration, tensor, context.limits)


@dataclass(frozen=True)
class _BoundText:
    preprocessor: TextPreprocessor

    @property
    def wire(self) -> TensorSpec:
        return self.preprocessor.wire

    @property
    def model_inputs(self) -> tuple[str, ...]:
        return self.preprocessor.model_inputs

    @property
    def fixed_shape(self) -> bool:
        return self.preprocessor.pad_to_max

    def tensors(self, values: np.ndarray) -> Tensors:
        return self.preprocessor.encode(values)


def _bind_text(
    declaration: Declaration, signature: Signature, context: BindContext, strict: bool
) -> BoundInput | None:
    assert isinstance(declaration, TextInput)
    inputs = signature.inputs
    applies = declaration.ids in inputs or (len(inputs) == 1 and "ids" not in declaration.given)
    if not applies and not strict:
        return None
    return _BoundText(TextPreprocessor.from_declaration(declaration, context.version_dir, inputs))


#: every kind's binder, beside its parser in :data:`moorings.preprocess.spec.KINDS`
BINDERS: dict[str, Binder] = {"image": _bind_image, "text": _bind_text}


class InputPipeline:
    """The declared inputs of one loaded version."""

    def __init__(
        self,
        declarations: dict[str, Declaration],
        signatures: dict[str, Signature],
        context: BindContext,
    ) -> None:
        #: the signatures as clients see them
        self.signatures: dict[str, Signature] = {}
        #: signatures whose prepared tensors may differ in shape between requests (not batched)
        self.varying: set[str] = set()
        self._runtime: dict[str, Signature] = {}
        self._bound: dict[str, list[BoundInput]] = {}
        used: set[str] = set()
        for name, signature in signatures.items():
            self._runtime[name] = signature
            bound: list[BoundInput] = []
            for key, declaration in declarations.items():
                found = BINDERS[declaration.kind](declaration, signature, context, False)
                if found is not None:
                    bound.append(found)
                    used.add(key)
            if not bound:
                self.signatures[name] = signature
                continue
            self.signatures[name] = replace(signature, inputs=_client_inputs(signature, bound))
            self._bound[name] = bound
            if not all(b.fixed_shape for b in bound):
                self.varying.add(name)
        unused = [declarations[key] for key in declarations if key not in used]
        if unused and signatures:
            first = signatures.get("serving_default") or next(iter(signatures.values()))
            BINDERS[unused[0].kind](unused[0], first, context, True)  # raises, naming the key
            raise LoadError(f"model.toml [inputs.{unused[0].name}] fits no signature of the model")

    def runtime_signature(self, signature: Signature) -> Signature:
        """The runtime's own signature behind the one clients see."""
        return self._runtime[signature.name]

    def prepare(self, signature: Signature, inputs: Tensors) -> Tensors:
        """The request's raw values turned into the runtime's tensors (others pass unchanged)."""
        bound = self._bound.get(signature.name)
        if not bound:
            return inputs
        raw = {b.wire.name for b in bound}
        tensors = {name: value for name, value in inputs.items() if name not in raw}
        for item in bound:
            tensors.update(item.tensors(inputs[item.wire.name]))
        return tensors


def _client_inputs(signature: Signature, bound: list[BoundInput]) -> dict[str, TensorSpec]:
    """The signature's inputs as clients send them: each declared input in place of those it fills."""
    filled: dict[str, str] = {}
    for item in bound:
        for model_input in item.model_inputs:
            if model_input in filled:
                raise LoadError(
                    f"model.toml [inputs.{filled[model_input]}] and [inputs.{item.wire.name}] both fill "
                    f"the model input {model_input!r}"
                )
            filled[model_input] = item.wire.name
    inputs = {key: spec for key, spec in signature.inputs.items() if key not in filled}
    for item in bound:
        if item.wire.name in inputs:
            raise LoadError(
                f"model.toml [inputs.{item.wire.name}] names an input the model also takes as a tensor; "
                "give the declaration another name"
            )
        inputs[item.wire.name] = item.wire
    return inputs


def build_pipeline(
    declarations: dict[str, Declaration], signatures: dict[str, Signature], context: BindContext
) -> InputPipeline | None:
    """The version's pipeline; None when model.toml declares no inputs."""
    if not declarations:
        return None
    return InputPipeline(declarations, signatures, context)
