"""Phase 0.1: many concurrent callers share a small pool without timing out."""

from __future__ import annotations

import asyncio

from gateproof.testing.pool_harness import Provision


async def test_100_concurrent_acquires_on_5_workers_all_succeed(make_harness):
    harness = make_harness(max_capacity=5, acquire_timeout=5.0)
    served = 0

    async def short_call() -> None:
        nonlocal served
        worker = await harness.acquire()  # a TimeoutError here fails the test
        await asyncio.sleep(0.001)
        harness.release(worker)
        served += 1

    await asyncio.gather(*(short_call() for _ in range(100)))

    assert served == 100
    assert harness.provision_calls <= 5, "provisioned more workers than max_capacity"
    assert harness.snapshot().waiting == 0


async def test_100_concurrent_acquires_with_slow_cold_starts_all_succeed(make_harness):
    harness = make_harness(max_capacity=5, acquire_timeout=5.0)
    harness.plans.extend(Provision(ticks=3) for _ in range(5))

    async def short_call() -> None:
        worker = await harness.acquire()
        await asyncio.sleep(0)
        harness.release(worker)

    await asyncio.gather(*(short_call() for _ in range(100)))

    assert len(harness.alive()) <= 5
    assert harness.snapshot().busy == 0


async def test_clients_calling_again_after_a_release_never_starve_the_waiters(make_harness):
    """Each client loops: acquire, work, release, think, acquire again.

    A client that comes back must queue behind the callers already waiting; a
    pool that lets it take the released worker first breaks FIFO, and the woken
    waiter finds nothing (the acquire race of the legacy pool).
    """
    harness = make_harness(max_capacity=2, acquire_timeout=5.0)

    async def client() -> int:
        for _ in range(5):
            worker = await harness.acquire()
            await asyncio.sleep(0)
            harness.release(worker)
            await asyncio.sleep(0)
        return 5

    assert await asyncio.gather(*(client() for _ in range(6))) == [5] * 6
    assert harness.provision_calls <= 2
