"""One warm-up replay: a typed request and the dataplane method that runs it on a servable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from moorings.core.servable import Servable
from moorings.dataplane import DataPlane
from moorings.requests import ExamplesRequest, PredictRequest

#: (dataplane, servable, deadline) -> the run of one request
Run = Callable[[DataPlane, Servable, float], Awaitable[Any]]


@dataclass(frozen=True)
class Call:
    #: where the request came from, for error messages ("tf_serving_warmup_requests record 3")
    where: str
    run: Run


def predict_call(request: PredictRequest, where: str) -> Call:
    async def run(dataplane: DataPlane, servable: Servable, deadline: float) -> Any:
        request.deadline = deadline
        return await dataplane.predict(request, servable)

    return Call(where, run)


def classify_call(request: ExamplesRequest, where: str) -> Call:
    async def run(dataplane: DataPlane, servable: Servable, deadline: float) -> Any:
        request.deadline = deadline
        return await dataplane.classify(request, servable)

    return Call(where, run)


def regress_call(request: ExamplesRequest, where: str) -> Call:
    async def run(dataplane: DataPlane, servable: Servable, deadline: float) -> Any:
        request.deadline = deadline
        return await dataplane.regress(request, servable)

    return Call(where, run)
