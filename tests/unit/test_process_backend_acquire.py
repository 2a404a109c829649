"""The process backend's first acquire rides the pool's shared deadline timer."""

from __future__ import annotations

import pytest

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.backends.process import ProcessBackend
from reference.gateway.models import FunctionEntity, ScalingConfig


async def test_the_first_try_uses_the_pools_default_timeout_and_retries_what_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scaling = ScalingConfig(max_capacity=2, acquire_timeout=3)
    backend = ProcessBackend({"echo": FunctionEntity(name="echo", scaling=scaling)})
    dead, live = (WorkerInfo(f"echo-{n}", "echo", "http://w") for n in range(2))
    handed = [dead, live]
    timeouts: list[float | None] = []
    evicted: list[WorkerInfo] = []

    async def acquire(timeout: float | None = None) -> WorkerInfo:
        timeouts.append(timeout)
        return handed.pop(0)

    async def evict_worker(function: str, worker: WorkerInfo) -> None:
        evicted.append(worker)

    monkeypatch.setattr(backend.pools.pool("echo"), "acquire", acquire)
    monkeypatch.setattr(backend.spawner, "is_alive", lambda worker: worker is live)
    monkeypatch.setattr(backend, "evict_worker", evict_worker)
    assert await backend.acquire_worker("echo") is live
    assert evicted == [dead]
    assert timeouts[0] is None  # the pool's shared deadline timer
    assert timeouts[1] is not None and 0 < timeouts[1] <= 3
