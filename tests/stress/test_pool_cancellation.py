"""A waiter that is cancelled or times out leaves no slot and no wake-up behind."""

from __future__ import annotations

import asyncio
import sys
import warnings

import pytest

from gateproof.testing.pool_harness import bounded, settle, wait_tasks

# A deadline may fire late on a loaded machine, never early; how late is not judged
# here: the harness's guard names a pool that waits on past its timeout (a hang).
TIMEOUT = 0.02
SERVED = 1.0  # seconds of running loop (then more turns) for a worker that is there to be had


async def cancel(task: asyncio.Task) -> object:
    """Cancel a caller; returns what it got if the cancel came too late to stop it."""
    task.cancel()
    outcome = (await asyncio.gather(task, return_exceptions=True))[0]
    return None if isinstance(outcome, asyncio.CancelledError) else outcome


async def cancel_after_hand_off(harness, task: asyncio.Task) -> None:
    """Cancel a caller a worker was just handed to; a worker it kept anyway is released on.

    The cancel arrives as the wait completes. On Python 3.11, ``asyncio.wait_for``
    (which a pool may use) then returns the result instead of raising
    ``CancelledError`` (fixed in 3.12): the caller keeps the worker. Not the pool's doing.
    """
    kept = await cancel(task)
    if kept is not None:
        if sys.version_info < (3, 12):
            warnings.warn(
                "Python 3.11: asyncio.wait_for swallowed a cancel that arrived with the "
                "hand-off; the cancelled caller kept its worker",
                RuntimeWarning,
                stacklevel=1,
            )
        await harness.release(kept)


async def test_a_cancelled_waiter_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    assert await cancel(waiter) is None
    await harness.release(worker)

    got = await bounded(
        harness.acquire(),
        SERVED,
        "a cancelled waiter left its place behind: the next caller waited",
    )
    assert got is worker
    assert (await harness.snapshot()).waiting in (0, None)


async def test_a_cancelled_waiter_does_not_take_the_next_waiters_wake_up(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    cancelled = asyncio.create_task(harness.acquire())
    next_in_line = asyncio.create_task(harness.acquire())
    await settle()

    await cancel(cancelled)
    await harness.release(worker)

    got = await bounded(
        next_in_line, SERVED, "lost wake-up: the release went to a cancelled waiter"
    )
    assert got is worker


async def test_a_waiter_cancelled_right_after_its_hand_off_passes_the_worker_on(make_harness):
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    cancelled = asyncio.create_task(harness.acquire())
    next_in_line = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(worker)  # goes to `cancelled`, which has not resumed yet
    await cancel_after_hand_off(harness, cancelled)

    got = await bounded(
        next_in_line,
        SERVED,
        "lost wake-up: a worker released to a cancelled waiter never reached the next one",
    )
    assert got is worker


async def test_a_waiter_cancelled_after_its_worker_was_evicted_loses_no_worker(make_harness):
    """Its hand-off evicted before it resumed, a release on its way to it, then a cancel."""
    harness = make_harness(max_capacity=2)
    evicted = await harness.acquire()
    other = await harness.acquire()
    first = asyncio.create_task(harness.acquire())
    second = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(evicted)  # to the first waiter...
    await harness.evict(evicted)  # ...evicted before it resumed
    await harness.release(other)
    await cancel_after_hand_off(harness, first)
    served = await bounded(second, SERVED, "the second waiter was never served")
    await harness.release(served)

    both = [
        await bounded(harness.acquire(), SERVED, "a worker was lost with the cancelled waiter")
        for _ in range(2)
    ]
    assert len({id(worker) for worker in both}) == 2
    assert all(worker in harness.alive() for worker in both)


async def test_a_caller_who_left_before_its_hand_off_resumed_holds_no_claim_later(
    make_harness,
):
    """Handed a worker, cancelled before it resumed; the worker is later taken and evicted."""
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()
    await harness.release(worker)  # to the waiter...
    await cancel_after_hand_off(harness, waiter)  # ...which leaves before it resumed

    again = await bounded(harness.acquire(), SERVED, "the worker the waiter left was lost")
    await harness.evict(again)
    fresh = await bounded(
        harness.acquire(),
        SERVED,
        "after the eviction the pool served nobody: a caller long gone still held a claim "
        "on its place",
    )

    assert fresh in harness.alive()


async def test_a_timed_out_waiter_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    worker = await harness.acquire()

    with pytest.raises(TimeoutError):
        await harness.acquire()
    await harness.release(worker)

    got = await bounded(
        harness.acquire(),
        SERVED,
        "a timed-out waiter left its place behind: the next caller waited",
    )
    assert got is worker


async def test_acquire_timeout_is_honoured(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    await harness.acquire()
    loop = asyncio.get_running_loop()

    started = loop.time()
    with pytest.raises(TimeoutError):
        await harness.acquire()
    waited = loop.time() - started

    assert waited >= TIMEOUT - 0.002, f"acquire gave up early, after {waited:.4f}s"
    assert (await harness.snapshot()).waiting in (0, None), "the timed-out caller still waits"


async def test_acquire_timeout_covers_the_cold_start(make_harness):
    harness = make_harness(max_capacity=1, acquire_timeout=TIMEOUT)
    gate = harness.block_next()  # a cold start that takes longer than the timeout
    loop = asyncio.get_running_loop()

    started = loop.time()
    with pytest.raises(TimeoutError):
        await harness.acquire()  # the harness fails it, naming the rule, if it waits on
    waited = loop.time() - started
    gate.set()
    await settle()

    assert waited >= TIMEOUT - 0.002, f"acquire gave up early, after {waited:.4f}s"
    got = await bounded(
        harness.acquire(), SERVED, "the cold start that outlived its caller's timeout was lost"
    )
    assert got in harness.alive()
    assert len(harness.alive()) == 1


async def test_a_caller_cancelled_during_its_cold_start_leaves_no_slot_behind(make_harness):
    harness = make_harness(max_capacity=1)
    gate = harness.block_next()
    caller = asyncio.create_task(harness.acquire())
    await settle()

    await cancel(caller)
    gate.set()
    await settle()

    waited = asyncio.create_task(harness.acquire())
    done = await wait_tasks({waited}, SERVED)
    if not done:
        waited.cancel()
        provisioning = (await harness.snapshot()).provisioning
        pytest.fail(
            "a caller cancelled during its cold start left its slot taken: "
            + (f"provisioning={provisioning} forever" if provisioning else "nobody else is served")
        )
    worker = waited.result()
    assert worker in harness.alive()
    assert len(harness.alive()) == 1
