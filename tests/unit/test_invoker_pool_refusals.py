"""A pool that refuses a worker back (drained at shutdown) never changes the call's answer."""

from __future__ import annotations

import asyncio
import json

import httpx

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.core.breaker import BreakerConfig
from reference.gateway.models import FunctionEntity
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.invoker import LambdaInvoker
from reference.gateway.services.pool import WorkerNotCheckedOutError
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.worker_transports import WorkerTransports


class DrainedBackend:
    """Hands out a worker, then refuses it back as a drained pool does."""

    def __init__(self, handler) -> None:
        self.transport = httpx.MockTransport(handler)
        self.refused: list[str] = []

    async def acquire_worker(self, function: str) -> WorkerInfo:
        return WorkerInfo(f"{function}-1", function, "http://w", self.transport)

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        self.refused.append("release")
        raise WorkerNotCheckedOutError(f"worker {worker.id} is not checked out")

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        self.refused.append("evict")
        raise WorkerNotCheckedOutError(f"worker {worker.id} is not checked out")

    async def __aenter__(self) -> DrainedBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def invoker_for(backend: DrainedBackend, timeout: float = 5.0) -> LambdaInvoker:
    registry = FunctionRegistry({"echo": FunctionEntity(name="echo", timeout_seconds=timeout)})
    board = BreakerBoard(BreakerConfig())
    return LambdaInvoker(backend, registry, board, WorkerTransports())  # type: ignore[arg-type]


async def test_an_answer_is_kept_when_the_release_is_refused() -> None:
    backend = DrainedBackend(lambda request: httpx.Response(200, json={"x": 1}))
    result = await invoker_for(backend).invoke_function("echo", b"{}")
    assert result.success and result.status_code == 200 and json.loads(result.payload) == {"x": 1}
    assert backend.refused == ["release"]


async def test_a_refused_eviction_does_not_mask_the_workers_error() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    backend = DrainedBackend(broken)
    result = await invoker_for(backend).invoke_function("echo", b"{}")
    assert result.status_code == 502 and json.loads(result.payload)["code"] == "worker_error"
    assert backend.refused == ["evict"]


async def test_a_refused_eviction_does_not_mask_a_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    backend = DrainedBackend(slow)
    result = await invoker_for(backend, timeout=0.05).invoke_function("echo", b"{}")
    assert result.status_code == 504 and json.loads(result.payload)["code"] == "worker_timeout"
    assert backend.refused == ["evict"]
