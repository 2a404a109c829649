"""The janitor tops pools back up to ``min_capacity`` after evictions, as the simulator's does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig
from reference.gateway.services.janitor import Janitor

WARM = {"echo": ScalingConfig(min_capacity=2, max_capacity=4, acquire_timeout=1)}


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(300):  # bounded: three seconds at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def run_janitor_until_full(backend: InProcessBackend) -> Janitor:
    """Run a fast janitor until the echo pool is back at its two warm workers, then stop it."""
    janitor = Janitor(backend, interval=0.01)
    janitor.start()
    try:
        await wait_for(lambda: backend.pools.stats()["echo"].total == 2)
    finally:
        await janitor.aclose()
    return janitor


async def test_an_evicted_warm_worker_is_replaced_by_the_janitor() -> None:
    async with InProcessBackend(WARM) as backend:
        assert backend.pools.stats()["echo"].total == 2
        worker = await backend.acquire_worker("echo")
        await backend.evict_worker("echo", worker)
        assert backend.pools.stats()["echo"].total == 1
        janitor = await run_janitor_until_full(backend)
        assert janitor.top_ups >= 1 and backend.pools.stats()["echo"].total == 2


async def test_a_failed_top_up_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    failures = [RuntimeError("no room"), RuntimeError("no room")]
    warming = True

    async def provision(function: str) -> None:
        if not warming and failures:
            raise failures.pop()

    async with InProcessBackend(WARM, provision_hook=provision) as backend:
        warming = False
        for worker in [await backend.acquire_worker("echo") for _ in range(2)]:
            await backend.evict_worker("echo", worker)
        await run_janitor_until_full(backend)
    assert any("restoring min_capacity failed" in r.getMessage() for r in caplog.records)
