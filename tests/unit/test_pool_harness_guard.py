"""The harness's bounds are hang-stoppers: a stalled machine delays a verdict, never makes one.

Each stall below is the loop blocked outright (``time.sleep`` inside a callback),
as when the process is descheduled on a busy machine; with fixed wall-clock
bounds each of these gave a pool defect that was the machine's doing.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gateproof.testing.pool_adapter import adapter
from gateproof.testing.pool_harness import (
    ContractViolation,
    PoolHarness,
    bounded,
    wait_tasks,
)
from reference.gateway.models.scaling import ScalingConfig

TIMEOUT = 0.02


class OneWorkerPool:
    """Correct: one worker; a caller waits for it at most ``timeout`` (or forever if told so)."""

    def __init__(self, provision, timeout: float | None) -> None:
        self._provision, self._timeout = provision, timeout
        self._free = asyncio.Event()
        self._worker = None

    async def acquire(self):
        if self._worker is None:
            self._worker = await self._provision()
            return self._worker
        async with asyncio.timeout(self._timeout):
            await self._free.wait()
        self._free.clear()
        return self._worker

    async def release(self, worker) -> None:
        self._free.set()

    async def evict(self, worker) -> bool:
        return False

    async def drain(self) -> list:
        return [self._worker] if self._worker is not None else []


def harness(*, honours_timeout: bool) -> PoolHarness:
    @adapter()
    def make(function, config, provision, *, clock):
        return OneWorkerPool(provision, config.acquire_timeout if honours_timeout else None)

    return PoolHarness(make, ScalingConfig(max_capacity=1, acquire_timeout=TIMEOUT))


def stall(seconds: float) -> None:
    """Block the loop at its next turn, as a descheduled process would."""
    asyncio.get_running_loop().call_soon(time.sleep, seconds)


async def test_a_stall_across_the_acquire_guard_is_not_a_timeout_defect():
    pool = harness(honours_timeout=True)
    await pool.acquire()

    stall(1.5)  # longer than the guard's margin past the 20 ms timeout
    with pytest.raises(TimeoutError):  # the pool's own, not a ContractViolation
        await pool.acquire()
    await pool.close()


async def test_a_pool_that_ignores_its_timeout_is_still_named():
    pool = harness(honours_timeout=False)
    await pool.acquire()

    with pytest.raises(ContractViolation, match="acquire_timeout not honoured") as failure:
        await pool.acquire()
    assert "loop turns after its deadline" in str(failure.value)
    await pool.close()


async def test_a_bounded_wait_survives_a_stall_past_its_bound():
    loop = asyncio.get_running_loop()
    answer = loop.create_future()
    loop.call_later(0.05, answer.set_result, "served")

    stall(0.5)  # past the 0.1 s bound, with the answer due before it
    assert await bounded(answer, 0.1, "never served") == "served"


async def test_a_bounded_wait_on_what_never_comes_is_called_a_hang():
    with pytest.raises(ContractViolation, match=r"never served \(a hang: still waiting"):
        await bounded(asyncio.get_running_loop().create_future(), 0.05, "never served")


async def test_wait_tasks_returns_what_finished_and_survives_a_stall():
    loop = asyncio.get_running_loop()
    quick = asyncio.create_task(asyncio.sleep(0.05, "quick"))
    never = asyncio.create_task(asyncio.Event().wait())

    stall(0.5)
    assert await wait_tasks({quick, never}, 0.1, first=True) == {quick}
    assert await wait_tasks({quick, never}, 0.05) == {quick}
    never.cancel()
    assert loop.is_running()
