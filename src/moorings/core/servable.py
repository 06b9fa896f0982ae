"""A servable is one loaded model version; a handle keeps it alive while in use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from moorings.batch_settings import BatchingSettings
from moorings.batching.batcher import Batcher, batchable
from moorings.errors import NotFound
from moorings.observe.metrics import batch_observer
from moorings.preprocess.pipeline import InputPipeline
from moorings.runtimes.base import Runtime
from moorings.types import (
    DEFAULT_SIGNATURE,
    ClassifyResult,
    ClassNames,
    Example,
    ServableId,
    Signature,
    Tensors,
)


class Servable:
    """A loaded model version: its runtime, its signatures, its class names (when it has a labels
    file) and, when batching is on, its batcher."""

    def __init__(
        self,
        servable_id: ServableId,
        runtime: Runtime,
        batching: BatchingSettings | None = None,
        classes: ClassNames | None = None,
        pipeline: InputPipeline | None = None,
    ) -> None:
        self.id = servable_id
        self.runtime = runtime
        self.classes = classes
        #: the version's raw inputs (model.toml ``[inputs]``); None: clients send the runtime's tensors
        self.pipeline = pipeline
        #: the signatures clients see (a raw input shows as what clients send)
        self.signatures: dict[str, Signature] = dict(
            runtime.signatures if pipeline is None else pipeline.signatures
        )
        varying = set() if pipeline is None else pipeline.varying  # text padded per request
        self._batched = {
            name for name, sig in self.signatures.items() if batchable(sig) and name not in varying
        }
        self.batcher: Batcher | None = None
        if batching is not None and batching.enabled and self._batched:
            name = f"{servable_id.name}-{servable_id.version}"
            run, prepare = (
                (runtime.predict, None) if pipeline is None else (self._run_prepared, pipeline.prepare)
            )
            observer = batch_observer(servable_id)
            self.batcher = Batcher(run, batching, name=name, observer=observer, prepare=prepare)

    def submit_async(
        self, signature: Signature, inputs: Tensors, deadline: float | None, rows: int
    ) -> asyncio.Future[Tensors] | None:
        """Queue ``rows`` rows on the batcher from the event loop; None when this signature is not batched."""
        if self.batcher is None or signature.name not in self._batched:
            return None
        return self.batcher.submit_async(signature, inputs, deadline, rows)

    def signature(self, name: str | None) -> Signature:
        key = name or DEFAULT_SIGNATURE
        try:
            return self.signatures[key]
        except KeyError:
            known = ", ".join(sorted(self.signatures)) or "none"
            raise NotFound(
                f"model {self.id.name!r} version {self.id.version} has no signature {key!r} "
                f"(signatures: {known})"
            ) from None

    def predict(self, signature: Signature, inputs: Tensors) -> Tensors:
        """Run ``signature`` (as clients see it) on a request's inputs, raw ones turned into tensors."""
        if self.pipeline is None:
            return self.runtime.predict(signature, inputs)
        return self._run_prepared(signature, self.pipeline.prepare(signature, inputs))

    def _run_prepared(self, signature: Signature, tensors: Tensors) -> Tensors:
        """Run the runtime's own signature behind ``signature`` on tensors already prepared."""
        assert self.pipeline is not None
        return self.runtime.predict(self.pipeline.runtime_signature(signature), tensors)

    def classify(self, signature: Signature, examples: list[Example]) -> ClassifyResult:
        return self.runtime.classify(signature, examples)

    def regress(self, signature: Signature, examples: list[Example]) -> list[float]:
        return self.runtime.regress(signature, examples)

    def unload(self) -> None:
        if self.batcher is not None:
            self.batcher.close()
        self.runtime.unload()


class ServableHandle:
    """A counted reference to a servable; the version is not unloaded while a handle is open.

    Use it as a context manager; ``release()`` is idempotent.
    """

    __slots__ = ("_release", "servable")

    def __init__(self, servable: Servable, release: Callable[[], None]) -> None:
        self.servable = servable
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> Servable:
        return self.servable

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
