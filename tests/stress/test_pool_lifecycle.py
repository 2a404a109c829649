"""Start (or keeping min_capacity warm), pruning, adoption, drain and stats."""

from __future__ import annotations

import asyncio

import pytest

from gateproof.testing.pool_harness import (
    ContractViolation,
    bounded,
    reported,
    settle,
    unfinished,
)


def require(harness, member: str) -> None:
    if not harness.has(member):
        pytest.skip(f"the pool under test has no {member}()")


async def test_min_capacity_is_kept_warm(make_harness):
    harness = make_harness(max_capacity=4, min_capacity=2)

    if harness.has("start"):
        await harness.start()
        how = "after start()"
    else:  # no start(): the pool must warm up on its own, at the latest around the first call
        await harness.release(await harness.acquire())
        await settle()
        how = "after the first call (the pool has no start())"

    warm = len(harness.owned())
    assert warm >= 2, f"min_capacity is never kept warm: {warm} workers {how}, min_capacity=2"
    assert harness.provision_calls <= 4


async def test_prune_idle_evicts_only_workers_idle_past_idle_timeout(make_harness):
    harness = make_harness(max_capacity=3, idle_timeout=10.0)
    require(harness, "prune_idle")
    workers = [await harness.acquire() for _ in range(3)]
    for worker in workers:
        await harness.release(worker)

    await harness.advance(9.0)
    assert await harness.prune() == [], "prune_idle took workers idle for less than idle_timeout"
    await harness.advance(2.0)  # past the timeout, whether the pool compares with > or >=
    pruned = await harness.prune()

    assert {id(w) for w in pruned} == {id(w) for w in workers}
    assert harness.owned() == []
    assert await harness.acquire() not in workers


async def test_prune_idle_keeps_min_capacity_warm(make_harness):
    harness = make_harness(max_capacity=4, min_capacity=2, idle_timeout=10.0)
    require(harness, "prune_idle")
    workers = [await harness.acquire() for _ in range(4)]
    for worker in workers:
        await harness.release(worker)

    await harness.advance(60.0)
    pruned = await harness.prune()  # the harness names a prune below min_capacity

    assert len(pruned) == 2
    assert len(harness.owned()) == 2


async def test_prune_idle_never_takes_a_busy_worker(make_harness):
    harness = make_harness(max_capacity=3, idle_timeout=10.0)
    require(harness, "prune_idle")
    busy = [await harness.acquire() for _ in range(2)]
    idle = await harness.acquire()
    await harness.release(idle)

    await harness.advance(60.0)
    assert await harness.prune() == [idle]
    for worker in busy:
        await harness.release(worker)


async def test_adopt_respects_max_capacity(make_harness):
    harness = make_harness(max_capacity=2)
    require(harness, "adopt")
    found = [harness.new_worker() for _ in range(3)]

    adopted = await harness.adopt(found)

    assert len(adopted) == 2
    assert len(harness.owned()) == 2
    assert await harness.adopt([harness.new_worker()]) == []
    assert await harness.acquire() in adopted
    assert harness.provision_calls == 0


async def test_drain_fails_pending_waiters_cleanly_and_returns_every_worker(make_harness):
    harness = make_harness(max_capacity=2)
    busy = await harness.acquire()
    idle = await harness.acquire()
    await harness.release(idle)
    await harness.acquire()  # takes `idle` again: both now busy
    waiters = [asyncio.create_task(harness.acquire()) for _ in range(3)]
    await settle()

    drained = await bounded(harness.drain(), 2.0, "drain did not finish")
    pending = await unfinished(waiters)  # loop turns, not seconds: a stall cannot fail it
    for task in pending:
        task.cancel()

    assert {id(busy), id(idle)} == {id(worker) for worker in drained}
    done = [task for task in waiters if task not in pending]
    served = [t for t in done if not t.cancelled() and t.exception() is None]
    assert not served, f"drain did not close the pool: {len(served)} pending callers were served"
    assert not pending, f"drain left callers waiting: {len(pending)} pending acquires never failed"
    for task in done:
        assert not isinstance(task.exception(), TimeoutError), "drain left a waiter to time out"
    await a_closed_pool_refuses_at_once(harness)


async def a_closed_pool_refuses_at_once(harness) -> None:
    """A later acquire must fail within a few loop turns: waiting out its timeout is the defect.

    The caller's acquire_timeout (5 s) never runs out while the loop turns, so a
    pool that fails the waiters it had but lets new callers wait is told apart
    from one that refuses them without reading any clock.
    """
    late = asyncio.create_task(harness.acquire())
    if await unfinished([late]):
        late.cancel()
        await asyncio.gather(late, return_exceptions=True)
        pytest.fail(
            "drain did not close the pool: a later acquire waited instead of being refused "
            "(it would have ended only at its acquire_timeout)"
        )
    error = late.exception()
    if error is None:
        pytest.fail(
            f"drain did not close the pool: a later acquire succeeded "
            f"({harness.name(late.result())})"
        )
    if isinstance(error, ContractViolation):
        raise error  # any other error refuses: the contract names no type for "closed"


async def test_stats_count_idle_busy_provisioning_and_waiting(make_harness):
    harness = make_harness(max_capacity=3)
    busy = await harness.acquire()
    idle = await harness.acquire()
    await harness.release(idle)
    assert reported(await harness.snapshot(), idle=1, busy=1)

    again = await harness.acquire()  # the idle one
    gate = harness.block_next()
    cold = asyncio.create_task(harness.acquire())
    await settle()
    assert reported(await harness.snapshot(), provisioning=1)

    gate.set()
    third = await bounded(cold, 1.0, "a finished cold start was not handed out")
    waiters = [asyncio.create_task(harness.acquire()) for _ in range(2)]
    await settle()
    assert reported(await harness.snapshot(), idle=0, busy=3, provisioning=0, waiting=2)

    for worker in (busy, again, third):
        await harness.release(worker)
    for waiter in waiters:
        await harness.release(
            await bounded(waiter, 1.0, "a released worker never reached a waiter")
        )
    assert reported(await harness.snapshot(), idle=3, busy=0, provisioning=0, waiting=0)
