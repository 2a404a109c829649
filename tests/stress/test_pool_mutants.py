"""Rules the mutation score showed the suite did not yet hold a pool to.

Each test names a rule every pool keeps; ``docs/mutation.md`` lists the
mutant of the reference pool that passed the suite without it.
"""

from __future__ import annotations

import asyncio

import pytest

from gateproof.testing.pool_harness import bounded, settle

SERVED = 2.0  # seconds: a bound on a wait that should end at once, never a speed target


def require(harness, member: str) -> None:
    if not harness.has(member):
        pytest.skip(f"the pool under test has no {member}()")


async def test_adopt_skips_workers_the_pool_already_holds_and_takes_the_rest(make_harness):
    harness = make_harness(max_capacity=3)
    require(harness, "adopt")
    busy = await harness.acquire()
    idle = await harness.acquire()
    await harness.release(idle)
    found = harness.new_worker()

    adopted = await harness.adopt([busy, idle, found])

    names = [harness.name(worker) for worker in adopted]
    assert names == [harness.name(found)], (
        f"adopt of [checked out, idle, new] took {names}: a worker the pool already holds "
        f"must not be taken in twice, and the one it does not hold must be"
    )
    handed = {id(await harness.acquire()) for _ in range(2)}
    assert handed == {id(idle), id(found)}


async def test_a_waiter_whose_worker_was_evicted_after_its_hand_off_gets_the_next_release(
    make_harness,
):
    """Released to a waiter that has not resumed yet, evicted, then another worker comes back."""
    harness = make_harness(max_capacity=2)
    evicted = await harness.acquire()
    other = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(evicted)
    await harness.evict(evicted)  # before the waiter runs again
    await harness.release(other)
    served = await bounded(
        waiter, SERVED, "the waiter whose worker was evicted was never served again"
    )

    assert served is not evicted
    assert served in harness.alive(), f"the waiter was handed {served!r}, not a live worker"


async def test_drain_during_a_cold_start_returns_every_worker_and_serves_nobody(make_harness):
    harness = make_harness(max_capacity=2)
    busy = await harness.acquire()
    harness.block_next()  # a cold start still running when the pool is drained
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    drained = await bounded(harness.drain(), SERVED, "drain did not finish")
    await settle()

    assert busy in drained, "drain did not return the checked-out worker"
    if waiter.done():
        assert waiter.exception() is not None, (
            f"drain did not close the pool: the caller waiting on a cold start got "
            f"{harness.name(waiter.result())}"
        )
    else:
        waiter.cancel()  # a pool may let its cold start run on; it must not serve it
