"""Cold starts run outside any critical section; a failure frees its slot and reaches the caller."""

from __future__ import annotations

import asyncio

import pytest

from gateproof.testing.pool_harness import bounded, settle, wait_tasks

SERVED = 1.0


async def test_a_provisioning_error_reaches_the_caller(make_harness):
    harness = make_harness(max_capacity=1)
    error = harness.fail_next(ConnectionError("image pull failed"))

    with pytest.raises(ConnectionError) as raised:
        await harness.acquire()

    assert raised.value is error


async def test_a_provisioning_failure_frees_its_slot(make_harness):
    harness = make_harness(max_capacity=1)
    harness.fail_next()

    with pytest.raises(RuntimeError):
        await harness.acquire()
    worker = await bounded(
        harness.acquire(), SERVED, "a failed cold start kept its slot: the next caller waited"
    )

    assert harness.alive() == [worker]


async def test_a_provisioning_failure_wakes_the_next_waiter(make_harness):
    harness = make_harness(max_capacity=1)
    gate = harness.block_next(error=RuntimeError("cold start failed"))
    first = asyncio.create_task(harness.acquire())
    await settle()
    second = asyncio.create_task(harness.acquire())
    await settle()

    gate.set()

    with pytest.raises(RuntimeError):
        await bounded(first, SERVED, "a failed cold start never reached its caller")
    got = await bounded(second, SERVED, "a failed cold start did not wake the next waiter")
    assert got in harness.alive()


async def test_cold_starts_run_concurrently_outside_any_lock(make_harness):
    harness = make_harness(max_capacity=3)
    gates = [harness.block_next() for _ in range(3)]
    callers = [asyncio.create_task(harness.acquire()) for _ in range(3)]
    await settle()

    assert harness.provision_calls == 3, "a cold start waited for another one to finish"
    for gate in reversed(gates):
        gate.set()
    workers = await bounded(
        asyncio.gather(*callers), SERVED, "finished cold starts were not handed out"
    )
    assert len({id(worker) for worker in workers}) == 3


async def test_a_slow_cold_start_does_not_hold_back_a_released_worker(make_harness):
    harness = make_harness(max_capacity=2)
    worker = await harness.acquire()
    gate = harness.block_next()
    cold = asyncio.create_task(harness.acquire())
    await settle()

    await harness.release(worker)  # the pool is not locked by the cold start in progress
    fresh = asyncio.create_task(harness.acquire())
    done = await wait_tasks({cold, fresh}, SERVED, first=True)

    assert done, "a released worker waited for an unrelated cold start to finish"
    assert done.pop().result() is worker
    gate.set()
    both = await bounded(asyncio.gather(cold, fresh), SERVED, "a finished cold start was lost")
    assert {id(w) for w in both} == {id(w) for w in harness.alive()}
