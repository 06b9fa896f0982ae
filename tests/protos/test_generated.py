"""Message and service modules built from a pool, against protoc's generated ones and a real grpcio server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from moorings.protos import search_pb2, search_pb2_grpc
from moorings.protos.generated import MessageModule, ServiceModule
from moorings.protos.installed import load_pool
from tests.protos.conftest import aio_server

SEARCH = "moorings/protos/search.proto"


@pytest.fixture(scope="module")
def modules() -> tuple[Any, Any]:
    pool = load_pool(["moorings.protos.search_pb2"])
    return MessageModule(pool, SEARCH), ServiceModule(pool, SEARCH)


def test_messages_are_wire_compatible_with_the_generated_ones(modules: tuple[Any, Any]) -> None:
    messages, _ = modules
    ours = messages.UpsertRequest(collection="c")
    ours.items.add(id="a", vector=[0.5, -1.0], name="x")
    theirs = search_pb2.UpsertRequest.FromString(ours.SerializeToString())
    assert theirs.items[0].vector == [0.5, -1.0] and theirs.items[0].name == "x"
    assert type(theirs) is not type(ours)
    assert messages.UpsertRequest.FromString(theirs.SerializeToString()) == ours
    with pytest.raises(AttributeError, match=f"{SEARCH} has no attribute 'Nope'"):
        messages.Nope  # noqa: B018


@pytest.fixture(scope="module")
def target(modules: tuple[Any, Any]) -> Iterator[str]:
    messages, services = modules

    class Upserting(services.CollectionServiceServicer):  # type: ignore[misc]
        """Overrides one method of the built base; the others answer UNIMPLEMENTED."""

        async def Upsert(self, request: Any, context: Any) -> Any:
            return messages.UpsertResponse(upserted=len(request.items), count=7)

    with aio_server(
        lambda server: services.add_CollectionServiceServicer_to_server(Upserting(), server)
    ) as target:
        yield target


def test_the_generated_client_calls_the_built_service(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        stub = search_pb2_grpc.CollectionServiceStub(channel)
        request = search_pb2.UpsertRequest(
            collection="c", items=[search_pb2.Item(id="a"), search_pb2.Item(id="b")]
        )
        response = stub.Upsert(request, timeout=10)
        assert (response.upserted, response.count) == (2, 7)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListCollections(search_pb2.ListCollectionsRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert (
            info.value.details() == "/moorings.search.v1.CollectionService/ListCollections is not implemented"
        )
