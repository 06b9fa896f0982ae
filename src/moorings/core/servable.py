"""A servable is one loaded model version; a handle keeps it alive while in use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from moorings.batch_settings import BatchingSettings
from moorings.batching.batcher import Batcher, batchable
from moorings.errors import NotFound
from moorings.observe.metrics import batch_observer
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
    ) -> None:
        self.id = servable_id
        self.runtime = runtime
        self.classes = classes
        self.signatures: dict[str, Signature] = dict(runtime.signatures)
        self._batched = {name for name, sig in self.signatures.items() if batchable(sig)}
        self.batcher: Batcher | None = None
        if batching is not None and batching.enabled and self._batched:
            name = f"{servable_id.name}-{servable_id.version}"
            self.batcher = Batcher(runtime.predict, batching, name=name, observer=batch_observer(servable_id))

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
        return self.runtime.predict(signature, inputs)

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
