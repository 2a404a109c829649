"""A release the pool should not take is refused with ValueError and changes nothing."""

from __future__ import annotations


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
