"""An evicted worker (a dead container) is never handed out again, busy or idle."""

from __future__ import annotations

import asyncio


async def settle(ticks: int = 20) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


async def test_an_evicted_idle_worker_is_never_handed_out_again(make_harness):
    harness = make_harness(max_capacity=2)
    first, second = await harness.acquire(), await harness.acquire()
    harness.release(first)
    harness.release(second)

    assert harness.evict(first) is True

    handed = {await harness.acquire(), await harness.acquire()}  # the harness fails on `first`
    assert first not in handed
    assert second in handed


async def test_an_evicted_busy_worker_is_never_handed_out_again(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()

    assert harness.evict(worker) is True
    replacement = await harness.acquire()

    assert replacement is not worker
    assert len(harness.alive()) == 1


async def test_evicting_a_busy_worker_frees_its_slot_for_the_head_waiter(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    harness.evict(worker)
    replacement = await asyncio.wait_for(waiter, 1.0)

    assert replacement is not worker
    assert harness.provision_calls == 2


async def test_a_worker_evicted_after_its_hand_off_is_not_returned_to_the_waiter(make_harness):
    """Released to a waiter that has not resumed yet, then evicted by a health check."""
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    harness.release(worker)
    harness.evict(worker)  # before the waiter runs again
    replacement = await asyncio.wait_for(waiter, 1.0)

    assert replacement is not worker


async def test_evicting_twice_or_evicting_a_stranger_returns_false(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    assert harness.evict(worker) is True
    before = harness.snapshot()

    assert harness.evict(worker) is False
    assert harness.evict(harness.new_worker()) is False
    assert harness.snapshot() == before
