"""Start, idle pruning, adoption, drain and stats."""

from __future__ import annotations

import asyncio

import pytest


async def settle(ticks: int = 20) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


def require(harness, method: str) -> None:
    if not hasattr(harness.pool, method):
        pytest.skip(f"the pool under test has no {method}()")


async def test_start_provisions_min_capacity_before_the_first_call(make_harness):
    harness = make_harness(max_capacity=4, min_capacity=2)
    require(harness, "start")

    await harness.start()

    assert harness.provision_calls == 2
    assert harness.snapshot().idle == 2


async def test_prune_idle_evicts_only_workers_idle_for_idle_timeout(make_harness):
    harness = make_harness(max_capacity=3, idle_timeout=10.0)
    require(harness, "prune_idle")
    workers = [await harness.acquire() for _ in range(3)]
    for worker in workers:
        harness.release(worker)

    assert harness.prune(harness.clock.advance(9.0)) == []
    pruned = harness.prune(harness.clock.advance(1.0))

    assert set(pruned) == set(workers)
    assert harness.snapshot().idle == 0
    assert await harness.acquire() not in workers


async def test_prune_idle_keeps_min_capacity_warm(make_harness):
    harness = make_harness(max_capacity=4, min_capacity=2, idle_timeout=10.0)
    require(harness, "prune_idle")
    workers = [await harness.acquire() for _ in range(4)]
    for worker in workers:
        harness.release(worker)

    pruned = harness.prune(harness.clock.advance(60.0))

    assert len(pruned) == 2
    assert harness.snapshot().idle == 2


async def test_prune_idle_never_takes_a_busy_worker(make_harness):
    harness = make_harness(max_capacity=3, idle_timeout=10.0)
    require(harness, "prune_idle")
    busy = [await harness.acquire() for _ in range(2)]
    idle = await harness.acquire()
    harness.release(idle)

    assert harness.prune(harness.clock.advance(60.0)) == [idle]
    for worker in busy:
        harness.release(worker)


async def test_adopt_respects_max_capacity(make_harness):
    harness = make_harness(max_capacity=2)
    require(harness, "adopt")
    found = [harness.new_worker() for _ in range(3)]

    adopted = harness.adopt(found)

    assert len(adopted) == 2
    assert harness.snapshot().idle == 2
    assert harness.adopt([harness.new_worker()]) == []
    assert await harness.acquire() in adopted
    assert harness.provision_calls == 0


async def test_drain_fails_pending_waiters_cleanly_and_returns_every_worker(make_harness):
    harness = make_harness(max_capacity=2)
    busy = await harness.acquire()
    idle = await harness.acquire()
    harness.release(idle)
    await harness.acquire()  # takes `idle` again or the other: both now busy
    waiters = [asyncio.create_task(harness.acquire()) for _ in range(3)]
    await settle()

    drained = await harness.drain()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 1.0)

    assert {busy, idle} == set(drained)
    for outcome in outcomes:
        assert isinstance(outcome, Exception), f"a waiter got {outcome!r} from a drained pool"
        assert not isinstance(outcome, TimeoutError), "drain left a waiter to time out"
    with pytest.raises(Exception):  # noqa: B017 - the contract names no type for "closed"
        await harness.acquire()


async def test_stats_count_idle_busy_provisioning_and_waiting(make_harness):
    harness = make_harness(max_capacity=3)
    busy = await harness.acquire()
    idle = await harness.acquire()
    harness.release(idle)
    assert (harness.snapshot().idle, harness.snapshot().busy) == (1, 1)

    again = await harness.acquire()  # the idle one
    gate = harness.block_next()
    cold = asyncio.create_task(harness.acquire())
    await settle()
    assert harness.snapshot().provisioning == 1

    gate.set()
    third = await cold
    waiters = [asyncio.create_task(harness.acquire()) for _ in range(2)]
    await settle()
    snapshot = harness.snapshot()
    assert (snapshot.idle, snapshot.busy, snapshot.provisioning) == (0, 3, 0)
    assert snapshot.waiting == 2

    for worker in (busy, again, third):
        harness.release(worker)
    for waiter in waiters:
        harness.release(await waiter)
    assert harness.snapshot() == type(snapshot)(idle=3, busy=0, provisioning=0, waiting=0)
