"""A HALF_OPEN breaker with every probe slot taken asks for a short retry, not a full recovery."""

from __future__ import annotations

import json

import httpx

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.core.breaker import BreakerConfig, BreakerState
from reference.gateway.models import FunctionEntity
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.invoker import LambdaInvoker
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.worker_transports import WorkerTransports


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_probe_slots_taken_means_retry_after_one_second() -> None:
    clock = Clock()
    config = BreakerConfig(
        minimum_calls=2, window_size=4, recovery_timeout=30, half_open_max_calls=1
    )
    board = BreakerBoard(config, clock=clock)
    registry = FunctionRegistry({"echo": FunctionEntity(name="echo")})
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    scaling = {name: f.scaling for name, f in registry.as_mapping().items()}
    backend = InProcessBackend(scaling, transport_factory=lambda name: transport)
    invoker = LambdaInvoker(backend, registry, board, WorkerTransports())
    breaker = board.get("echo")
    while breaker.state is not BreakerState.OPEN:
        assert breaker.allow()
        breaker.record_failure(breaker.epoch)
    opened = await invoker.invoke_function("echo", b"{}")
    assert opened.status_code == 503 and opened.headers["Retry-After"] == "30"
    clock.now += 31
    assert breaker.allow() and breaker.state is BreakerState.HALF_OPEN  # the one probe, running
    rejected = await invoker.invoke_function("echo", b"{}")
    assert rejected.status_code == 503
    assert json.loads(rejected.payload)["code"] == "circuit_open"
    assert rejected.headers["Retry-After"] == "1"
