"""An in-process gRPC server (its own event loop in a thread) over a real Manager and DataPlane.

Every test of a served call runs on both front ends: grpcio's server and Moorings' own HTTP/2 one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from moorings.config import ServerSettings
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.grpc.server import ProtoServices, build_grpc_server
from moorings.repository.source import LocalSource
from tests.support import onnx_models


class InProcessServer:
    def __init__(
        self,
        dataplane: DataPlane,
        port: int,
        extra: Sequence[Callable[[Any], None]] = (),
        tfserving_grpc: bool = True,
        front_end: str = "grpcio",
    ) -> None:
        self.target = f"127.0.0.1:{port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings = ServerSettings(
            repository=Path("."),
            grpc_port=port,
            max_grpc_message_bytes=1 << 20,
            tfserving_grpc=tfserving_grpc,
            grpc_server=front_end,
        )

        async def start() -> tuple[Any, ProtoServices]:
            server, tf_serving = build_grpc_server(dataplane, settings, extra)
            await server.start()
            return server, tf_serving

        self.server, self.tf_serving = asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)
        self.front_end = front_end

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def write_half_model(folder: Path) -> None:
    """``h[-1,2] float16 -> doubled[-1,2] float16``."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["h", "h"], ["doubled"])],
        "half",
        [helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["batch", 2])],
        [helper.make_tensor_value_info("doubled", TensorProto.FLOAT16, ["batch", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


@pytest.fixture(scope="package")
def grpc_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, onnx_models.Mlp]:
    root = tmp_path_factory.mktemp("grpc-repo")
    mlp = onnx_models.write_mlp(root / "mlp" / "1", seed=4)
    (root / "mlp" / "1" / "labels.txt").write_text("\n".join(MLP_NAMES) + "\n")
    onnx_models.write_two_in_two_out(root / "two" / "1")
    write_half_model(root / "half" / "1")
    return root, mlp


@pytest.fixture(scope="package")
def dataplane(grpc_repo: tuple[Path, onnx_models.Mlp]) -> Iterator[DataPlane]:
    root = grpc_repo[0]
    manager = Manager(LocalSource(root), Loader(root))
    manager.poll_once()
    manager.wait_until_idle(60)
    plane = DataPlane(manager, inference_threads=2)
    yield plane
    manager.stop()
    plane.close()


FRONT_ENDS = ["grpcio", "moorings"]
#: the class names of the "mlp" model (its labels.txt)
MLP_NAMES = ["tabby cat", "beagle", "goldfish"]


@pytest.fixture(scope="package", params=FRONT_ENDS)
def front_end(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="package")
def grpc_server(dataplane: DataPlane, front_end: str) -> Iterator[InProcessServer]:
    from tests.support.server import free_port

    server = InProcessServer(dataplane, free_port(), front_end=front_end)
    yield server
    server.close()


X = np.random.default_rng(9).normal(size=(2, 4)).astype(np.float32)
