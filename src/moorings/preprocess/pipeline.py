"""A version's raw inputs: its model.toml declarations matched to its signatures.

The pipeline is built once per loaded version. It gives the signatures clients see (a
declared input shows what clients send: a string input with one value per row) and, per
request, turns those raw values into the tensors the runtime takes (:meth:`prepare`, on a
batch thread or the inference pool). Inputs that are not declared pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from moorings.errors import LoadError
from moorings.preprocess.limits import InputLimits
from moorings.preprocess.spec import ImageInput, InputDeclaration
from moorings.types import Signature, Tensors, TensorSpec


@dataclass(frozen=True)
class BindContext:
    """What a kind may need to bind a declaration: the version's folder (assets) and the limits."""

    version_dir: Path
    limits: InputLimits


class BoundInput(Protocol):
    """A declaration matched to one model input."""

    @property
    def wire(self) -> TensorSpec:
        """The input as clients send it."""

    def convert(self, values: np.ndarray) -> np.ndarray:
        """The raw values of one request (one per row) as the model's tensor."""


#: a kind's binder: (declaration, the model's tensor, context) -> the bound input; LoadError
#: naming the model.toml key when they do not fit
Binder = Callable[[InputDeclaration, TensorSpec, BindContext], BoundInput]


def _bind_image(declaration: InputDeclaration, tensor: TensorSpec, context: BindContext) -> BoundInput:
    from moorings.preprocess.image import bind_image  # Pillow only for image models

    assert isinstance(declaration, ImageInput)
    return bind_image(declaration, tensor, context.limits)


#: every kind's binder, beside its parser in :data:`moorings.preprocess.spec.KINDS`
BINDERS: dict[str, Binder] = {"image": _bind_image}


class InputPipeline:
    """The declared inputs of one loaded version."""

    def __init__(
        self,
        declarations: dict[str, InputDeclaration],
        signatures: dict[str, Signature],
        context: BindContext,
    ) -> None:
        #: the signatures as clients see them
        self.signatures: dict[str, Signature] = {}
        self._runtime: dict[str, Signature] = {}
        self._bound: dict[str, dict[str, BoundInput]] = {}
        used: set[str] = set()
        for name, signature in signatures.items():
            bound = {
                key: BINDERS[declarations[key].kind](declarations[key], spec, context)
                for key, spec in signature.inputs.items()
                if key in declarations
            }
            used.update(bound)
            self._runtime[name] = signature
            if bound:
                inputs = {
                    key: bound[key].wire if key in bound else spec for key, spec in signature.inputs.items()
                }
                self.signatures[name] = replace(signature, inputs=inputs)
                self._bound[name] = bound
            else:
                self.signatures[name] = signature
        unused = sorted(set(declarations) - used)
        if unused:
            takes = sorted({key for s in signatures.values() for key in s.inputs})
            raise LoadError(
                f"model.toml declares [inputs.{unused[0]}], but no signature has an input of that name "
                f"(inputs: {', '.join(takes) or 'none'})"
            )

    def runtime_signature(self, signature: Signature) -> Signature:
        """The runtime's own signature behind the one clients see."""
        return self._runtime[signature.name]

    def prepare(self, signature: Signature, inputs: Tensors) -> Tensors:
        """The request's raw values turned into the runtime's tensors (others pass unchanged)."""
        bound = self._bound.get(signature.name)
        if not bound:
            return inputs
        return {
            name: bound[name].convert(value) if name in bound else value for name, value in inputs.items()
        }


def build_pipeline(
    declarations: dict[str, InputDeclaration], signatures: dict[str, Signature], context: BindContext
) -> InputPipeline | None:
    """The version's pipeline; None when model.toml declares no inputs."""
    if not declarations:
        return None
    return InputPipeline(declarations, signatures, context)
