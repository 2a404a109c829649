"""The reference pool's own promises, beyond the adapter contract the conformance suite holds
every pool to: its per-call timeouts and shared deadline timer, its error messages, its stats,
what ``drain`` and ``evict`` return, how it reports failed cold starts, and the
``PoolManager`` that holds one pool per function.

Timeouts run on :class:`~sim.virtual_loop.VirtualTimeLoop`, so every deadline is exact and
no test depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reference.gateway.models.scaling import ScalingConfig
from reference.gateway.services.pool import (
    AcquireTimeoutError,
    ContainerPool,
    PoolClosedError,
    PoolError,
    PoolManager,
    UnknownFunctionError,
    WorkerNotCheckedOutError,
)
from sim.virtual_loop import VirtualTimeLoop

T = Any


class Worker:
    def __init__(self, number: int) -> None:
        self.number = number

    def __repr__(self) -> str:
        return f"w{self.number}"


class Script:
    """A provisioner whose cold starts can be held at a gate or made to fail, in order."""

    def __init__(self) -> None:
        self.made: list[Worker] = []
        self.plans: list[tuple[asyncio.Event | None, BaseException | None]] = []

    def hold_next(self, error: BaseException | None = None) -> asyncio.Event:
        gate = asyncio.Event()
        self.plans.append((gate, error))
        return gate

    async def __call__(self) -> Worker:
        gate, error = self.plans.pop(0) if self.plans else (None, None)
        if gate is not None:
            await gate.wait()
        if error is not None:
            raise error
        worker = Worker(len(self.made) + 1)
        self.made.append(worker)
        return worker


def pool_of(script: Script, **scaling: Any) -> ContainerPool[Worker]:
    return ContainerPool("echo", ScalingConfig(**scaling), script)


def on_virtual_time(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on a loop whose clock jumps to each timer: deadlines are exact."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 1_000.0))
    finally:
        loop.close()


async def settle(ticks: int = 10) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


async def timed_out_at(pool: ContainerPool[Worker], timeout: float | None = None) -> float:
    """The loop time at which one acquire gave up (it must give up)."""
    with pytest.raises(AcquireTimeoutError):
        await pool.acquire(timeout)
    return asyncio.get_running_loop().time()


# -- timeouts -------------------------------------------------------------------------


def test_a_timeout_given_to_acquire_overrides_the_configured_one():
    async def main() -> float:
        pool = pool_of(Script(), max_capacity=1, acquire_timeout=100.0)
        await pool.acquire()
        return await timed_out_at(pool, 1.0)

    assert on_virtual_time(main) == 1.0


def test_callers_on_the_default_timeout_each_time_out_at_their_own_deadline():
    async def main() -> list[float]:
        pool = pool_of(Script(), max_capacity=1, acquire_timeout=10.0)
        await pool.acquire()
        first = asyncio.create_task(timed_out_at(pool))
        await asyncio.sleep(1.0)
        second = asyncio.create_task(timed_out_at(pool))
        await asyncio.sleep(2.0)
        third = asyncio.create_task(timed_out_at(pool))
        return list(await asyncio.gather(first, second, third))

    assert on_virtual_time(main) == [10.0, 11.0, 13.0]


def test_callers_with_their_own_timeouts_time_out_in_deadline_order_not_arrival_order():
    async def main() -> list[float]:
        pool = pool_of(Script(), max_capacity=1, acquire_timeout=10.0)
        await pool.acquire()
        shared = asyncio.create_task(timed_out_at(pool))  # the configured 10 s
        long = asyncio.create_task(timed_out_at(pool, 5.0))
        short = asyncio.create_task(timed_out_at(pool, 1.0))
        return list(await asyncio.gather(shared, long, short))

    assert on_virtual_time(main) == [10.0, 5.0, 1.0]


@pytest.mark.parametrize("timeout", [None, 10.0])
def test_a_waiter_whose_worker_was_evicted_before_it_resumed_keeps_its_deadline(timeout):
    """It waits on at the head of the queue, but only until its own acquire deadline."""

    async def main() -> list[float]:
        script = Script()
        pool = pool_of(script, max_capacity=1, acquire_timeout=10.0)
        worker = await pool.acquire()
        first = asyncio.create_task(timed_out_at(pool, timeout))
        await asyncio.sleep(1.0)
        later = asyncio.create_task(timed_out_at(pool))  # deadline 11
        await settle()
        script.hold_next()  # the replacement's cold start never ends
        pool.release(worker)  # handed to the first waiter...
        assert pool.evict(worker)  # ...and evicted before it resumed
        return list(await asyncio.gather(first, later))

    assert on_virtual_time(main) == [10.0, 11.0]


# -- a worker evicted after its hand-off -----------------------------------------------


async def test_a_waiter_whose_worker_was_evicted_keeps_its_place_ahead_of_a_newcomer():
    """A caller that releases and calls again at once runs before the waiter resumes."""
    script = Script()
    pool = pool_of(script, max_capacity=2)
    evicted, other = await pool.acquire(), await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await settle()

    pool.release(evicted)  # handed to the waiter...
    assert pool.evict(evicted)  # ...and evicted before it resumed
    pool.release(other)
    newcomer = await pool.acquire()  # in the same loop turn: the waiter has not resumed

    assert await waiter is other, "the newcomer jumped the queue to the released worker"
    assert newcomer is script.made[-1], "the newcomer did not wait for a cold start of its own"


async def test_a_waiter_cancelled_after_its_worker_was_evicted_passes_on_what_its_place_got():
    script = Script()
    pool = pool_of(script, max_capacity=2)
    evicted, other = await pool.acquire(), await pool.acquire()
    first = asyncio.create_task(pool.acquire())
    second = asyncio.create_task(pool.acquire())
    await settle()

    pool.release(evicted)  # handed to the first waiter...
    assert pool.evict(evicted)  # ...evicted before it resumed: its place is kept
    pool.release(other)  # reaches the kept place
    first.cancel()

    assert await second is other
    with pytest.raises(asyncio.CancelledError):
        await first
    stats = pool.stats()
    assert (stats.busy, stats.idle, stats.waiting) == (1, 1, 0)  # the cold start's worker idles


async def test_a_hand_off_undone_by_a_cancel_leaves_no_place_behind_for_a_later_eviction():
    pool = pool_of(Script(), max_capacity=1)
    worker = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await settle()
    pool.release(worker)  # handed to the waiter...
    waiter.cancel()  # ...which leaves before it resumed: the worker goes back idle
    await settle()

    again = await pool.acquire()
    assert again is worker
    assert pool.evict(worker)

    assert pool.stats().waiting == 0, "an eviction kept a place for a caller long gone"


async def test_a_worker_handed_to_a_waiter_that_has_not_resumed_cannot_be_released_again():
    pool = pool_of(Script(), max_capacity=1)
    worker = await pool.acquire()
    first = asyncio.create_task(pool.acquire())
    second = asyncio.create_task(pool.acquire())
    await settle()

    pool.release(worker)  # handed to the first waiter, which now holds it
    with pytest.raises(WorkerNotCheckedOutError, match=r"worker w1 is not checked out"):
        pool.release(worker)  # released twice in one loop turn

    assert await first is worker
    await settle()
    assert not second.done(), "one worker was handed to two callers"
    second.cancel()


# -- what the pool says -------------------------------------------------------------


async def test_errors_name_the_function_and_what_to_do():
    script = Script()
    pool = pool_of(script, max_capacity=1, acquire_timeout=0.01)
    worker = await pool.acquire()

    with pytest.raises(AcquireTimeoutError, match=r"'echo' within 0\.01s .*raise max_capacity"):
        await pool.acquire()
    with pytest.raises(WorkerNotCheckedOutError, match=r"worker w99 .*pool of 'echo'.*once"):
        pool.release(Worker(99))
    waiter = asyncio.create_task(pool.acquire(timeout=10.0))
    await settle()
    await pool.drain()
    with pytest.raises(PoolClosedError, match=r"pool of 'echo' was drained while waiting"):
        await waiter
    with pytest.raises(PoolClosedError, match=r"pool of 'echo' is drained; create a new pool"):
        await pool.acquire()
    assert worker in script.made


async def test_a_cold_start_cancelled_from_inside_reaches_its_waiter_as_a_pool_error():
    script = Script()
    gate = script.hold_next(asyncio.CancelledError())
    pool = pool_of(script, max_capacity=1)

    waiter = asyncio.create_task(pool.acquire())
    await settle()
    names = [task.get_name() for task in asyncio.all_tasks()]
    assert "provision-echo" in names, "a cold start runs as a task named after its function"
    gate.set()

    with pytest.raises(PoolError, match=r"provisioning a worker for 'echo' was cancelled"):
        await waiter


async def test_stats_report_the_function_its_capacity_and_the_callers_waiting():
    pool = pool_of(Script(), max_capacity=1)
    await pool.acquire()
    waiter = asyncio.create_task(pool.acquire(timeout=10.0))
    await settle()

    stats = pool.stats()

    assert (stats.function, stats.max_capacity, stats.waiting) == ("echo", 1, 1)
    assert (stats.busy, stats.idle, stats.provisioning, stats.total) == (1, 0, 0, 1)
    waiter.cancel()


async def test_closed_is_false_until_drain():
    pool = pool_of(Script())
    assert pool.closed is False
    await pool.drain()
    assert pool.closed is True


# -- fast paths and return values -------------------------------------------------


async def test_an_idle_worker_is_handed_out_without_a_loop_turn():
    pool = pool_of(Script(), max_capacity=1)
    worker = await pool.acquire()
    pool.release(worker)

    call = pool.acquire()
    with pytest.raises(StopIteration) as done:
        call.send(None)  # completes on its first step: never suspends

    assert done.value.value is worker


async def test_evicting_an_idle_worker_returns_true_and_a_stranger_false():
    pool = pool_of(Script(), max_capacity=2)
    first, second = await pool.acquire(), await pool.acquire()
    pool.release(first)
    pool.release(second)

    assert pool.evict(first) is True
    assert pool.evict(Worker(99)) is False
    assert pool.stats().idle == 1


async def test_drain_returns_the_workers_and_a_second_drain_returns_none():
    pool = pool_of(Script(), max_capacity=2)
    busy = await pool.acquire()
    idle = await pool.acquire()
    pool.release(idle)

    assert sorted(await pool.drain(), key=repr) == [busy, idle]
    assert await pool.drain() == []


async def test_drain_waits_for_a_cold_start_that_finishes_anyway_and_returns_its_worker():
    finished: list[Worker] = []

    async def stubborn() -> Worker:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # a provisioner that completes its cold start whatever happens
        finished.append(Worker(1))
        return finished[0]

    pool = ContainerPool("echo", ScalingConfig(max_capacity=1), stubborn)
    waiter = asyncio.create_task(pool.acquire())
    await settle()

    drained = await pool.drain()

    assert drained == finished and len(finished) == 1
    with pytest.raises(PoolClosedError):
        await waiter


async def test_start_provisions_only_what_min_capacity_lacks():
    script = Script()
    pool = pool_of(script, min_capacity=2, max_capacity=4)

    assert await pool.ensure_min() == 2
    assert await pool.ensure_min() == 0
    assert len(script.made) == 2


async def test_ensure_min_raises_a_failed_cold_start_only_after_every_attempt_finished():
    script = Script()
    script.hold_next(RuntimeError("cold start failed")).set()  # fails at once
    slow = script.hold_next()
    pool = pool_of(script, min_capacity=2, max_capacity=2)

    call = asyncio.create_task(pool.ensure_min())
    await settle()
    assert not call.done(), "ensure_min raised while another cold start was still running"
    slow.set()

    with pytest.raises(RuntimeError, match="cold start failed"):
        await call
    assert pool.stats().idle == 1


async def test_prune_idle_reads_the_pools_clock_unless_given_a_time():
    now = [0.0]
    script = Script()
    pool = ContainerPool(
        "echo", ScalingConfig(max_capacity=2, idle_timeout=10.0), script, clock=lambda: now[0]
    )
    worker = await pool.acquire()
    pool.release(worker)  # idle since t=0

    assert pool.prune_idle(now=5.0) == []
    now[0] = 10.0  # exactly idle_timeout: "idle for idle_timeout or longer"
    assert pool.prune_idle(now=5.0) == [], "prune_idle ignored the time it was given"
    assert pool.prune_idle() == [worker]


# -- cold starts that fail ------------------------------------------------------------


async def test_a_failed_cold_start_is_not_raised_in_a_waiter_another_cold_start_serves():
    script = Script()
    failing = script.hold_next(RuntimeError("cold start failed"))
    serving = script.hold_next()
    pool = pool_of(script, max_capacity=2)
    first = asyncio.create_task(pool.acquire())
    second = asyncio.create_task(pool.acquire())
    await settle()
    second.cancel()  # two cold starts running for one waiter now
    await settle()

    failing.set()
    await settle()
    assert not first.done(), "the failure went to a waiter the other cold start still covers"
    serving.set()

    assert await first in script.made


async def test_a_failed_cold_start_leaves_only_a_debug_record(caplog):
    script = Script()
    error = RuntimeError("cold start failed")
    script.hold_next(error).set()
    pool = pool_of(script, max_capacity=1)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(RuntimeError):
        await pool.acquire()
    worker = await pool.acquire()  # a cold start that succeeds logs nothing
    pool.release(worker)
    blocked = script.hold_next()
    await pool.drain()  # nothing in flight: nothing cancelled
    del blocked
    await settle()

    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        ("reference.gateway.services.pool", logging.DEBUG, f"provisioning failed: {error!r}")
    ]


async def test_a_cold_start_cancelled_by_drain_logs_no_error(caplog):
    script = Script()
    script.hold_next()
    pool = pool_of(script, max_capacity=1)
    waiter = asyncio.create_task(pool.acquire())
    await settle()
    caplog.set_level(logging.DEBUG)

    await pool.drain()
    await settle()

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    with pytest.raises(PoolClosedError):
        await waiter


# -- the manager ------------------------------------------------------------------------


def test_an_unknown_function_error_prints_its_message_or_says_what_it_is():
    assert str(UnknownFunctionError("no function named 'x'")) == "no function named 'x'"
    assert str(UnknownFunctionError()) == "unknown function"


async def test_a_manager_with_no_functions_says_none_are_known():
    manager: PoolManager[Worker] = PoolManager(lambda function: Script()())

    with pytest.raises(UnknownFunctionError, match=r"\(known: none\); add it to functions.yml"):
        manager.pool("echo")


async def test_the_managers_pools_carry_their_function_name_and_the_managers_clock():
    manager: PoolManager[Worker] = PoolManager(lambda function: Script()(), clock=lambda: 42.0)
    manager.add("echo", ScalingConfig())

    pool = manager.pool("echo")

    assert (pool.function, pool.now()) == ("echo", 42.0)


def test_the_manager_passes_a_callers_timeout_to_the_pool():
    async def main() -> float:
        manager: PoolManager[Worker] = PoolManager(lambda function: Script()())
        manager.add("echo", ScalingConfig(max_capacity=1, acquire_timeout=100.0))
        await manager.acquire("echo")
        with pytest.raises(AcquireTimeoutError):
            await manager.acquire("echo", 1.0)
        return asyncio.get_running_loop().time()

    assert on_virtual_time(main) == 1.0


async def test_the_manager_tops_every_pool_up_to_min_capacity_and_counts_what_it_started():
    scripts = {"echo": Script(), "cpu": Script()}
    manager: PoolManager[Worker] = PoolManager(lambda function: scripts[function]())
    manager.add("echo", ScalingConfig(min_capacity=1, max_capacity=2))
    manager.add("cpu", ScalingConfig(min_capacity=2, max_capacity=2))

    assert await manager.ensure_min() == 3
    assert await manager.ensure_min() == 0
    assert [len(script.made) for script in scripts.values()] == [1, 2]


async def test_the_manager_raises_a_failed_top_up_after_every_pool_has_tried():
    scripts = {"echo": Script(), "cpu": Script()}
    scripts["echo"].hold_next(RuntimeError("echo cold start failed")).set()
    slow = scripts["cpu"].hold_next()
    manager: PoolManager[Worker] = PoolManager(lambda function: scripts[function]())
    manager.add("echo", ScalingConfig(min_capacity=1))
    manager.add("cpu", ScalingConfig(min_capacity=1))

    call = asyncio.create_task(manager.ensure_min())
    await settle()
    assert not call.done(), "the manager raised while another pool was still provisioning"
    slow.set()

    with pytest.raises(RuntimeError, match="echo cold start failed"):
        await call
    assert manager.stats()["cpu"].idle == 1
