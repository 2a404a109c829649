"""A release the pool should not take is refused with ValueError and changes nothing."""

from __future__ import annotations

import asyncio

from gateproof.testing.pool_harness import bounded, settle

SERVED = 2.0  # seconds: a bound on a wait that should end at once, never a speed target


async def test_releasing_a_worker_twice_is_refused(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    await harness.release(worker)

    await harness.release_refused(worker, "an already released worker")

    assert len(harness.owned()) == 1


async def test_releasing_an_evicted_worker_is_refused_and_keeps_the_pool_within_capacity(
    make_harness,
):
    harness = make_harness(max_capacity=1)
    evicted = await harness.acquire()
    await harness.evict(evicted)
    replacement = await harness.acquire()  # the freed slot is used again

    await harness.release_refused(evicted, "an evicted worker")

    await harness.release(replacement)
    assert await harness.acquire() is replacement


async def test_releasing_an_idle_worker_after_its_eviction_is_refused(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    await harness.release(worker)
    await harness.evict(worker)

    await harness.release_refused(worker, "an evicted worker")

    assert len({id(await harness.acquire()), id(await harness.acquire())}) == 2


async def test_releasing_after_drain_is_refused(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    drained = await harness.drain()
    assert drained == [worker]

    await harness.release_refused(worker, "a drained worker")


async def test_releasing_a_worker_the_pool_never_handed_out_is_refused(make_harness):
    harness = make_harness(max_capacity=2)
    await harness.acquire()

    await harness.release_refused(harness.new_worker(), "a foreign worker")


async def test_a_double_release_never_lets_one_worker_go_to_two_callers(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    await harness.release(worker)
    try:
        await harness.release(worker)  # a caller's bug: the pool should refuse it
    except ValueError:
        return

    first = await harness.acquire()
    second = await harness.acquire()  # the harness names one worker handed out twice
    assert first is not second


async def test_a_worker_released_twice_before_its_next_caller_resumed_is_refused(make_harness):
    """The second release comes in the first one's loop turn, while the worker is on its way."""
    harness = make_harness(max_capacity=1)
    worker = await harness.acquire()
    first = asyncio.create_task(harness.acquire())
    second = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(worker)  # on its way to the first waiter
    await harness.release_refused(worker, "a worker already released")

    assert await bounded(first, SERVED, "the first waiter was never served") is worker
    await settle()
    assert not second.done(), f"the second waiter got {second.result()!r} too"
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
