"""Callers are served strictly in arrival order, whatever frees the worker."""

from __future__ import annotations

import asyncio

from gateproof.testing.pool_harness import bounded, settle

FIFO_BROKEN = "FIFO broken: waiters were not served in arrival order"
ALL_SERVED = 5.0


def start_waiters(harness, count: int, arrived: list[int], served: list[int]) -> list[asyncio.Task]:
    """Callers that record when they call acquire and when they get a worker, then release it."""

    async def waiter(number: int) -> None:
        arrived.append(number)
        worker = await harness.acquire()
        served.append(number)
        await asyncio.sleep(0)
        await harness.release(worker)

    return [asyncio.create_task(waiter(number)) for number in range(count)]


async def test_waiters_are_served_in_arrival_order_when_workers_are_released(make_harness):
    harness = make_harness(max_capacity=1)
    held = await harness.acquire()
    arrived: list[int] = []
    served: list[int] = []
    tasks = start_waiters(harness, 6, arrived, served)
    await settle()
    assert served == [], "a waiter was served while the only worker was checked out"

    await harness.release(held)
    await bounded(asyncio.gather(*tasks), ALL_SERVED, "lost wake-up: a waiter was never served")

    assert served == arrived, FIFO_BROKEN


async def test_a_caller_arriving_right_after_a_release_queues_behind_the_waiter(make_harness):
    harness = make_harness(max_capacity=1)
    held = await harness.acquire()
    served: list[str] = []

    async def first_in_line() -> None:
        worker = await harness.acquire()
        served.append("waiter")
        await harness.release(worker)

    waiter = asyncio.create_task(first_in_line())
    await settle()

    await harness.release(held)
    worker = await harness.acquire()  # arrives after the waiter: must not take its worker
    served.append("latecomer")
    await harness.release(worker)
    await bounded(waiter, ALL_SERVED, "lost wake-up: the head waiter was never served")

    assert served == ["waiter", "latecomer"], (
        "FIFO broken: a caller arriving after a release took the worker from the head waiter"
    )


async def test_waiters_are_served_in_arrival_order_when_a_worker_is_evicted(make_harness):
    harness = make_harness(max_capacity=1)
    held = await harness.acquire()
    arrived: list[int] = []
    served: list[int] = []
    tasks = start_waiters(harness, 4, arrived, served)
    await settle()

    assert await harness.evict(held)  # frees the slot: a new worker goes to the head waiter
    await bounded(asyncio.gather(*tasks), ALL_SERVED, "lost wake-up: a waiter was never served")

    assert served == arrived, FIFO_BROKEN


async def test_waiters_are_served_in_arrival_order_after_a_provisioning_failure(make_harness):
    harness = make_harness(max_capacity=1)
    error = harness.fail_next(ticks=3)
    arrived: list[str] = []
    outcomes: list[str] = []

    async def caller(name: str) -> None:
        arrived.append(name)
        try:
            worker = await harness.acquire()
        except RuntimeError as failure:
            assert failure is error, "the caller got a different error than provisioning raised"
            outcomes.append(f"{name}: error")
            return
        outcomes.append(f"{name}: served")
        await asyncio.sleep(0)
        await harness.release(worker)

    await bounded(
        asyncio.gather(*(caller(name) for name in ("a", "b", "c"))),
        ALL_SERVED,
        "a provisioning failure left waiters unserved",
    )

    first, *others = arrived
    assert outcomes == [f"{first}: error"] + [f"{name}: served" for name in others], (
        "the first caller in line must get the cold start's error, the others a worker in order"
    )
