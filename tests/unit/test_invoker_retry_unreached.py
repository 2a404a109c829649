"""A call whose request never reached a worker is sent once more, on another; no other call is.

Why: in a chaos run (workers SIGKILLed under load) a worker found dead when the
gateway connected cost the caller a 502, yet nothing had run, so sending the call
again elsewhere is safe. A request that reached a worker may have run: an invocation
is not idempotent, so it is never sent twice. The retry stays within the call's own
acquire timeout and ``timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.core.breaker import BreakerConfig
from reference.gateway.models import FunctionEntity, InvocationResult, ScalingConfig
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.invoker import LambdaInvoker
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.worker_transports import WorkerTransports

pytestmark = pytest.mark.timeout(30)

Behaviour = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def broke_after_sending(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("the worker closed the connection before answering", request=request)


async def answers(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


class Workers:
    """A backend whose n-th worker behaves as ``behaviours[n]``; it records the ledger."""

    def __init__(self, *behaviours: Behaviour, stall_after: int | None = None) -> None:
        self.behaviours = list(behaviours)
        self.stall_after = stall_after  # acquisitions past this many never end
        self.acquired: list[WorkerInfo] = []
        self.released: list[str] = []
        self.evicted: list[str] = []

    async def acquire_worker(self, function: str) -> WorkerInfo:
        if self.stall_after is not None and len(self.acquired) >= self.stall_after:
            await asyncio.Event().wait()
        behaviour = self.behaviours[len(self.acquired)]
        transport = httpx.MockTransport(behaviour)
        worker = WorkerInfo(f"w{len(self.acquired)}", function, "http://w", transport)
        self.acquired.append(worker)
        return worker

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        self.released.append(worker.id)

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        self.evicted.append(worker.id)

    async def __aenter__(self) -> Workers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def invoker_for(
    backend: Workers, *, timeout: float = 5.0, acquire_timeout: float = 5.0
) -> tuple[LambdaInvoker, list[str]]:
    function = FunctionEntity(
        name="echo",
        timeout_seconds=timeout,
        scaling=ScalingConfig(max_capacity=2, acquire_timeout=acquire_timeout),
    )
    retried: list[str] = []
    invoker = LambdaInvoker(
        backend,
        FunctionRegistry({"echo": function}),
        BreakerBoard(BreakerConfig(minimum_calls=10, window_size=20)),
        WorkerTransports(),
        on_retry=retried.append,
    )
    return invoker, retried


def code_of(result: InvocationResult) -> str:
    return json.loads(result.payload or b"{}")["code"]


async def test_a_refused_connection_is_retried_once_on_another_worker() -> None:
    backend = Workers(refused, answers)
    invoker, retried = invoker_for(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 200, result.payload
    assert result.retries == 1 and retried == ["echo"]
    assert backend.evicted == ["w0"] and backend.released == ["w1"]


async def test_a_request_that_reached_its_worker_is_never_sent_again() -> None:
    backend = Workers(broke_after_sending, answers)
    invoker, retried = invoker_for(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "worker_error"
    assert result.retries == 0 and retried == []
    assert [w.id for w in backend.acquired] == ["w0"] and backend.evicted == ["w0"]


async def test_only_one_retry_then_502_worker_unreachable() -> None:
    backend = Workers(refused, refused, answers)
    invoker, retried = invoker_for(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "worker_unreachable"
    assert result.retries == 1 and retried == ["echo"]
    assert backend.evicted == ["w0", "w1"] and backend.released == []


async def test_the_retry_waits_for_a_worker_only_until_the_calls_acquire_deadline() -> None:
    backend = Workers(refused, answers, stall_after=1)
    invoker, _ = invoker_for(backend, acquire_timeout=0.2)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 503 and code_of(result) == "no_capacity"
    assert result.retries == 1 and backend.evicted == ["w0"]


async def test_the_retry_runs_within_what_is_left_of_the_calls_timeout() -> None:
    """Each attempt alone fits ``timeout_seconds``; both together do not: 504."""

    async def refused_slowly(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.6)
        raise httpx.ConnectError("connection refused", request=request)

    async def answers_slowly(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.6)
        return httpx.Response(200, json={"ok": True})

    backend = Workers(refused_slowly, answers_slowly)
    invoker, _ = invoker_for(backend, timeout=1.0)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 504 and code_of(result) == "worker_timeout"
    assert result.retries == 1 and backend.evicted == ["w0", "w1"]
