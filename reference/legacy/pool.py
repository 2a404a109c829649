"""The container pool as it was before the refactor: kept as the known-bad target.

It works in the everyday case (acquire, release, provision on demand, time out)
and has the defects a reviewer of this code finds, left in on purpose so that
the conformance suite in ``tests/stress/`` can prove it catches them:

1. ``evict`` forgets the worker in the ledger but leaves it in the idle queue,
   so an evicted idle worker (a dead container) is handed out again;
2. ``release`` does not check the ledger, so a worker released after it was
   evicted or after ``drain`` is put back, and the pool ends up holding more
   than ``max_capacity`` workers;
3. the acquire race of the refactor plan (Phase 0.1): the idle queue is checked
   once, before the wait loop. A release wakes the head waiter, and the waiter
   takes "its" worker without checking again; a caller arriving before the
   waiter runs sees the idle worker first and takes it, so the waiter finds the
   queue empty (``IndexError``) and FIFO order is broken.

Do not fix them here: the fixed pool is ``reference.gateway.services.pool``.
The constructor and methods match that pool's adapter shape (see
``docs/pool-adapter.md``), so the legacy gateway and the suites can swap them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

from reference.gateway.models.scaling import ScalingConfig
from reference.gateway.services.pool import PoolStats

__all__ = ["LegacyPool"]

W = TypeVar("W")

_RELEASED = "released"  # a waiter woken for a worker put back in the idle queue
_SLOT_FREED = "slot"  # a waiter woken because it may provision a new worker


class LegacyPool(Generic[W]):
    """Workers of one function; see the module docstring for what is wrong with it."""

    def __init__(
        self,
        function: str,
        config: ScalingConfig,
        provision: Callable[[], Awaitable[W]],
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.function = function
        self.config = config
        self._provision = provision
        self._clock = clock
        self._workers: dict[int, W] = {}  # the ledger: every worker the pool owns
        self._busy: dict[int, W] = {}
        self._idle: deque[tuple[W, float]] = deque()
        self._provisioning = 0
        self._waiters: deque[asyncio.Future[str]] = deque()
        self._closed = False

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def start(self) -> None:
        """Provision ``min_capacity`` workers into the idle queue."""
        while len(self._workers) + self._provisioning < self.config.min_capacity:
            self._idle.append((await self._create(), self.now()))

    async def acquire(self, timeout: float | None = None) -> W:
        if self._closed:
            raise RuntimeError(f"the pool of {self.function!r} is closed")
        limit = self.config.acquire_timeout if timeout is None else timeout
        async with asyncio.timeout(limit):
            if self._idle:  # defect 3: checked here only, not after waking up
                return self._checkout(self._idle.popleft()[0])
            while True:
                if len(self._workers) + self._provisioning < self.config.max_capacity:
                    return self._checkout(await self._create())
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    reason = await waiter
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                if reason == _RELEASED:
                    return self._checkout(self._idle.popleft()[0])

    def release(self, worker: W) -> None:
        # defect 2: no ledger check; an evicted or drained worker is put back too
        self._busy.pop(id(worker), None)
        self._idle.append((worker, self.now()))
        self._wake(_RELEASED)

    def evict(self, worker: W) -> bool:
        if self._workers.pop(id(worker), None) is None:
            return False
        self._busy.pop(id(worker), None)
        # defect 1: the worker is not taken out of self._idle
        self._wake(_SLOT_FREED)
        return True

    def prune_idle(self, now: float | None = None) -> list[W]:
        now = self.now() if now is None else now
        pruned: list[W] = []
        while (
            self._idle
            and len(self._workers) > self.config.min_capacity
            and now - self._idle[0][1] >= self.config.idle_timeout
        ):
            worker = self._idle.popleft()[0]
            self._workers.pop(id(worker), None)
            pruned.append(worker)
        return pruned

    def adopt(self, workers: Iterable[W]) -> list[W]:
        adopted: list[W] = []
        for worker in workers:
            if len(self._workers) + self._provisioning >= self.config.max_capacity:
                break
            self._workers[id(worker)] = worker
            adopted.append(worker)
            self.release(worker)
        return adopted

    async def drain(self) -> list[W]:
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError(f"the pool of {self.function!r} was drained"))
        self._waiters.clear()
        workers = list(self._workers.values())
        self._workers.clear()
        self._busy.clear()
        self._idle.clear()
        return workers

    def stats(self) -> PoolStats:
        return PoolStats(
            function=self.function,
            idle=len(self._idle),
            busy=len(self._busy),
            provisioning=self._provisioning,
            waiting=len(self._waiters),
            max_capacity=self.config.max_capacity,
        )

    async def _create(self) -> W:
        self._provisioning += 1
        try:
            worker = await self._provision()
        except BaseException:
            self._provisioning -= 1
            self._wake(_SLOT_FREED)
            raise
        self._provisioning -= 1
        self._workers[id(worker)] = worker
        return worker

    def _checkout(self, worker: W) -> W:
        self._busy[id(worker)] = worker
        return worker

    def _wake(self, reason: str) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(reason)
                return
