"""A waiter that is cancelled or times out leaves no slot and no wake-up behind."""

from __future__ import annotations

import asyncio

import pytest

# A deadline may fire a little late on a loaded machine, never early.
TIMEOUT = 0.02
LATE_MARGIN = 0.5


async def settle(ticks: int = 20) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


async def cancel(task: asyncio.Task) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_waiter_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    await cancel(waiter)
    harness.release(worker)

    assert harness.snapshot().waiting == 0
    assert await asyncio.wait_for(harness.acquire(), 1.0) is worker


async def test_a_cancelled_waiter_does_not_take_the_next_waiters_wake_up(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    cancelled = asyncio.create_task(harness.acquire())
    next_in_line = asyncio.create_task(harness.acquire())
    await settle()

    await cancel(cancelled)
    harness.release(worker)

    assert await asyncio.wait_for(next_in_line, 1.0) is worker


async def test_a_waiter_cancelled_right_after_its_hand_off_passes_the_worker_on(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    cancelled = asyncio.create_task(harness.acquire())
    next_in_line = asyncio.create_task(harness.acquire())
    await settle()

    harness.release(worker)  # goes to `cancelled`, which has not resumed yet
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)

    try:
        got = await asyncio.wait_for(next_in_line, 0.2)
    except TimeoutError:
        pytest.fail("lost wake-up: a worker released to a cancelled waiter never reached the next")
    assert got is worker


async def test_a_timed_out_waiter_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    worker = await harness.acquire()

    with pytest.raises(TimeoutError):
        await harness.acquire()
    harness.release(worker)

    assert harness.snapshot().waiting == 0
    assert await harness.acquire() is worker


async def test_acquire_timeout_is_honoured(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    await harness.acquire()
    loop = asyncio.get_running_loop()

    started = loop.time()
    with pytest.raises(TimeoutError):
        await harness.acquire()
    waited = loop.time() - started

    assert waited >= TIMEOUT - 0.002, f"acquire gave up early, after {waited:.4f}s"
    assert waited < TIMEOUT + LATE_MARGIN, f"acquire gave up {waited - TIMEOUT:.3f}s late"


async def test_acquire_timeout_covers_the_cold_start(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    gate = harness.block_next()  # a cold start that takes longer than the timeout
    loop = asyncio.get_running_loop()

    started = loop.time()
    with pytest.raises(TimeoutError):
        await harness.acquire()
    waited = loop.time() - started
    gate.set()
    await settle()

    assert TIMEOUT - 0.002 <= waited < TIMEOUT + LATE_MARGIN
    assert await asyncio.wait_for(harness.acquire(), 1.0) in harness.alive()
    assert len(harness.alive()) == 1


async def test_a_caller_cancelled_during_its_cold_start_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1)
    gate = harness.block_next()
    caller = asyncio.create_task(harness.acquire())
    await settle()

    await cancel(caller)
    gate.set()
    await settle()

    worker = await asyncio.wait_for(harness.acquire(), 1.0)
    assert worker in harness.alive()
    assert len(harness.alive()) == 1
