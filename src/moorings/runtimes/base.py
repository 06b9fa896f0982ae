"""The interface every runtime implements.

A runtime is one loaded model version in one framework. Construction is cheap;
``load()`` does the expensive work; ``predict()`` is called from inference
threads (never on the event loop) with inputs already checked against the
signature, and returns one numpy array per requested output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

from moorings.config import RuntimeOptions
from moorings.errors import Unimplemented
from moorings.types import ClassifyResult, Example, Signature, Tensors


class Runtime(ABC):
    """One model version in one framework."""

    #: the name used in model.toml's ``runtime.name`` and in logs
    kind: str = ""
    #: per-request steps around a batched ``predict`` (Python models): one request's tensors in
    #: and out, run on the inference pool; None: none
    preprocess: Callable[[Tensors], Tensors] | None = None
    postprocess: Callable[[Tensors], Tensors] | None = None
    #: True when ``stream`` yields partial results (else a stream answers ``predict``'s one result)
    streams: bool = False

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        self.path = path
        self.options = options

    @abstractmethod
    def load(self) -> None:
        """Load the model from ``self.path``; raise LoadError with a clear message on failure."""

    @property
    @abstractmethod
    def signatures(self) -> dict[str, Signature]:
        """The model's signatures by name; every runtime offers ``serving_default``."""

    @abstractmethod
    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        """Run ``signature`` on checked inputs; return every output of the signature."""

    def classify(self, signature: Signature, examples: list[Example]) -> ClassifyResult:
        raise Unimplemented(f"the {self.kind} runtime has no classify method")

    def regress(self, signature: Signature, examples: list[Example]) -> list[float]:
        raise Unimplemented(f"the {self.kind} runtime has no regress method")

    def stream(self, signature: Signature, inputs: Tensors) -> Iterator[Tensors]:
        """Partial results of one request, each as it is made (called on inference threads)."""
        raise Unimplemented(f"the {self.kind} runtime does not stream")

    def unload(self) -> None:  # noqa: B027 - most runtimes free by dropping references
        """Free what ``load()`` took; the default drops nothing explicitly."""
