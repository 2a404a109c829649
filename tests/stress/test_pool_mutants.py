"""Rules the mutation score showed the suite did not yet hold a pool to.

Each test names a rule every pool keeps; ``docs/mutation.md`` lists the
mutant of the reference pool that passed the suite without it.
"""

from __future__ import annotations

import asyncio

import pytest

from gateproof.testing.pool_harness import bounded, settle

SERVED = 2.0  # seconds: a bound on a wait that should end at once, never a speed target
EARLY = 0.001  # seconds: the loop may run a timer this much ahead (clock resolution and rounding)


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


@pytest.mark.parametrize("other_back", ["after the eviction", "before the eviction"])
async def test_a_waiter_whose_worker_was_evicted_after_its_hand_off_gets_the_next_release(
    make_harness, other_back
):
    """Released to a waiter that has not resumed yet, evicted; another worker comes back."""
    harness = make_harness(max_capacity=2)
    evicted = await harness.acquire()
    other = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(evicted)
    if other_back == "before the eviction":
        await harness.release(other)  # nobody else waits: it idles
    await harness.evict(evicted)  # before the waiter runs again
    if other_back == "after the eviction":
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


async def test_every_caller_waiting_on_a_full_pool_times_out_and_none_early(make_harness):
    """Callers arriving one after another each reach their own acquire_timeout, not before.

    A slow machine can only make a timeout later, never earlier, so the lower
    bound holds on any machine (the loop's clock, read before each call).
    """
    harness = make_harness(max_capacity=1, acquire_timeout=0.2)
    timeout = harness.config.acquire_timeout
    await harness.acquire()  # the only worker, kept for the whole test
    loop = asyncio.get_running_loop()

    async def caller() -> tuple[object, float]:
        started = loop.time()
        try:
            outcome: object = await harness.acquire()
        except TimeoutError as error:
            outcome = error
        return outcome, loop.time() - started

    callers = []
    for _ in range(3):  # apart in time, so their deadlines differ
        callers.append(asyncio.create_task(caller()))
        await asyncio.sleep(timeout / 4)
    results = await asyncio.gather(*callers)

    outcomes = [outcome for outcome, _ in results]
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes), (
        f"callers waiting on a full pool did not all time out: {outcomes!r}"
    )
    waited = [round(seconds, 3) for _, seconds in results]
    assert min(waited) >= timeout - EARLY, (
        f"a caller timed out before its acquire_timeout={timeout:g} s: waited {waited} s"
    )


async def test_a_waiter_whose_worker_was_evicted_after_its_hand_off_still_times_out(
    make_harness,
):
    """Its deadline does not go away with the worker: it times out if nothing else comes."""
    harness = make_harness(max_capacity=1, acquire_timeout=0.2)
    worker = await harness.acquire()
    waiter = asyncio.create_task(harness.acquire())
    await settle()
    harness.block_next()  # the cold start that replaces the evicted worker never ends

    await harness.release(worker)
    await harness.evict(worker)  # before the waiter runs again

    with pytest.raises(TimeoutError):
        await waiter  # the harness fails it, naming the rule, if it outlives its timeout


async def test_start_after_adopt_provisions_only_what_min_capacity_lacks(make_harness):
    """The gateway adopts the workers it finds running, then starts the pool."""
    harness = make_harness(max_capacity=3, min_capacity=2)
    require(harness, "adopt")
    require(harness, "start")
    await harness.adopt([harness.new_worker()])

    await harness.start()
    await settle()

    assert harness.provision_calls == 1, (
        f"start after adopting 1 worker started {harness.provision_calls} cold starts: "
        f"min_capacity=2 lacked 1"
    )


async def test_start_without_min_capacity_provisions_nothing(make_harness):
    harness = make_harness(max_capacity=2, min_capacity=0)
    require(harness, "start")

    await harness.start()
    await settle()

    assert harness.provision_calls == 0, (
        f"start with min_capacity=0 started {harness.provision_calls} cold starts"
    )
