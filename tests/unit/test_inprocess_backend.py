"""InProcessBackend: plain-object workers behind the InvocationBackend protocol."""

from __future__ import annotations

import httpx
import pytest

from reference.gateway.backends.base import InvocationBackend, WorkerInfo
from reference.gateway.backends.inprocess import DESTROYED_KEPT, InProcessBackend
from reference.gateway.models.scaling import ScalingConfig
from reference.gateway.services.pool import UnknownFunctionError, WorkerNotCheckedOutError


def test_it_satisfies_the_invocation_backend_protocol():
    assert isinstance(InProcessBackend({}), InvocationBackend)


async def test_entering_provisions_min_capacity_and_leaving_destroys_every_worker():
    backend = InProcessBackend({"echo": ScalingConfig(min_capacity=2, max_capacity=3)})

    async with backend:
        assert backend.pools.stats()["echo"].idle == 2
        worker = await backend.acquire_worker("echo")

    assert worker in backend.destroyed
    assert len(backend.destroyed) == 2
    assert backend.pools.pool("echo").closed


async def test_workers_are_worker_infos_of_their_function_with_unique_ids():
    async with InProcessBackend({"echo": ScalingConfig(max_capacity=3)}) as backend:
        workers = [await backend.acquire_worker("echo") for _ in range(3)]

    assert all(isinstance(worker, WorkerInfo) and worker.function == "echo" for worker in workers)
    assert len({worker.id for worker in workers}) == 3
    assert all(worker.url.endswith(".invalid") for worker in workers)  # never resolvable


async def test_a_released_worker_is_reused_and_an_evicted_one_is_destroyed():
    async with InProcessBackend({"echo": ScalingConfig(max_capacity=1)}) as backend:
        worker = await backend.acquire_worker("echo")
        await backend.release_worker("echo", worker)
        assert await backend.acquire_worker("echo") is worker

        await backend.evict_worker("echo", worker)
        replacement = await backend.acquire_worker("echo")

        assert list(backend.destroyed) == [worker]
        assert replacement is not worker
        with pytest.raises(WorkerNotCheckedOutError):
            await backend.release_worker("echo", worker)


async def test_evicting_twice_destroys_once():
    async with InProcessBackend({"echo": ScalingConfig()}) as backend:
        worker = await backend.acquire_worker("echo")
        await backend.evict_worker("echo", worker)
        await backend.evict_worker("echo", worker)

        assert list(backend.destroyed) == [worker]


async def test_an_unknown_function_is_refused():
    async with InProcessBackend({"echo": ScalingConfig()}) as backend:
        with pytest.raises(UnknownFunctionError, match="no function named 'nope'"):
            await backend.acquire_worker("nope")


async def test_the_provision_hook_sees_each_cold_start_and_its_error_reaches_the_caller():
    seen: list[str] = []

    async def hook(function: str) -> None:
        seen.append(function)
        if len(seen) == 1:
            raise ConnectionError("image pull failed")

    async with InProcessBackend({"echo": ScalingConfig()}, provision_hook=hook) as backend:
        with pytest.raises(ConnectionError, match="image pull failed"):
            await backend.acquire_worker("echo")
        worker = await backend.acquire_worker("echo")

    assert seen == ["echo", "echo"]
    assert worker.function == "echo"


async def test_the_transport_factory_gives_workers_a_transport_to_call_them_through():
    async def app(scope, receive, send):  # a minimal ASGI worker
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"pong"})

    backend = InProcessBackend(
        {"echo": ScalingConfig()}, transport_factory=lambda function: httpx.ASGITransport(app)
    )
    async with backend:
        worker = await backend.acquire_worker("echo")
        async with httpx.AsyncClient(transport=worker.transport) as client:
            response = await client.get(worker.url)
        await backend.release_worker("echo", worker)

    assert response.text == "pong"


async def test_only_the_most_recent_destroyed_workers_are_kept() -> None:
    async with InProcessBackend({"f": ScalingConfig(max_capacity=1)}) as backend:
        workers = []
        for _ in range(DESTROYED_KEPT + 5):
            worker = await backend.acquire_worker("f")
            await backend.evict_worker("f", worker)
            workers.append(worker)
        assert len(backend.destroyed) == DESTROYED_KEPT
        assert backend.destroyed[-1] is workers[-1]
        assert workers[0] not in backend.destroyed
