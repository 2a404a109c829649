"""Phase 0.1: many concurrent callers share a small pool without timing out."""

from __future__ import annotations

import asyncio

from gateproof.testing.pool_harness import Provision, bounded

ALL_SERVED = 10.0  # seconds for 100 short calls: generous, so only a hang trips it


async def test_100_concurrent_acquires_on_5_workers_all_succeed(make_harness):
    harness = make_harness(max_capacity=5, acquire_timeout=5.0)
    served = 0

    async def short_call() -> None:
        nonlocal served
        worker = await harness.acquire()  # a TimeoutError here fails the test
        await asyncio.sleep(0.001)
        await harness.release(worker)
        served += 1

    await bounded(
        asyncio.gather(*(short_call() for _ in range(100))),
        ALL_SERVED,
        "100 callers on 5 workers were not all served",
    )

    assert served == 100
    assert harness.provision_calls <= 5, "provisioned more workers than max_capacity"
    assert (await harness.snapshot()).waiting in (0, None)


async def test_100_concurrent_acquires_with_slow_cold_starts_all_succeed(make_harness):
    harness = make_harness(max_capacity=5, acquire_timeout=5.0)
    harness.plans.extend(Provision(ticks=3) for _ in range(5))

    async def short_call() -> None:
        worker = await harness.acquire()
        await asyncio.sleep(0)
        await harness.release(worker)

    await bounded(
        asyncio.gather(*(short_call() for _ in range(100))),
        ALL_SERVED,
        "100 callers on 5 slow-starting workers were not all served",
    )

    assert len(harness.alive()) <= 5
    assert harness.held == []


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
            await harness.release(worker)
            await asyncio.sleep(0)
        return 5

    served = await bounded(
        asyncio.gather(*(client() for _ in range(6))),
        ALL_SERVED,
        "clients calling again starved the waiters",
    )
    assert served == [5] * 6
    assert harness.provision_calls <= 2
