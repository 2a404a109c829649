"""An evicted worker (a dead container) is never handed out again, busy or idle."""

from __future__ import annotations

import asyncio

from gateproof.testing.pool_harness import bounded, settle

SERVED = 1.0


async def test_an_evicted_idle_worker_is_never_handed_out_again(make_harness):
    harness = make_harness(max_capacity=2)
    first, second = await harness.acquire(), await harness.acquire()
    await harness.release(first)
    await harness.release(second)

    assert await harness.evict(first) is True

    handed = [await harness.acquire(), await harness.acquire()]  # the harness fails on `first`
    assert first not in handed
    assert second in handed


async def test_an_evicted_busy_worker_is_never_handed_out_again(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()

    assert await harness.evict(worker) is True
    replacement = await harness.acquire()

    assert replacement is not worker
    assert len(harness.alive()) == 1


async def test_evicting_a_busy_worker_frees_its_slot_for_the_head_waiter(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    await harness.evict(worker)
    replacement = await bounded(
        waiter, SERVED, "evicting a busy worker did not free its slot for the head waiter"
    )

    assert replacement is not worker
    assert harness.provision_calls == 2


async def test_a_worker_evicted_after_its_hand_off_is_not_returned_to_the_waiter(make_harness):
    """Released to a waiter that has not resumed yet, then evicted by a health check."""
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(worker)
    await harness.evict(worker)  # before the waiter runs again
    replacement = await bounded(
        waiter, SERVED, "the waiter lost its place when its worker was evicted after the hand-off"
    )

    assert replacement is not worker


async def test_evicting_twice_or_evicting_a_stranger_returns_false(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    assert await harness.evict(worker) is True
    before = await harness.snapshot()

    assert await harness.evict(worker) is False
    assert await harness.evict(harness.new_worker()) is False
    assert await harness.snapshot() == before
