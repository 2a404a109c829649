"""A worker pool that serves callers in arrival order, built on asyncio.Condition.

Its ``drain`` empties the pool and shrinks it to no workers: every caller
waiting at that moment is told (``PoolDrained``), but the pool is never
closed, so a caller who comes later waits for room that never comes, until
its acquire timeout. (A defect kept on purpose: the conformance suite must
name it "drain did not close the pool".)

Every change wakes all waiters with ``notify_all``; the waiters re-take the
condition's lock in the order they were notified, which is the order they
arrived, so the first waiter to look finds the worker. A caller that arrives
while anyone waits queues behind them. The cold start runs outside the lock
and inside the acquire timeout.

Known limit (its authors' note): a caller arriving exactly while woken waiters
that found nothing go back to waiting can get ahead of them, since they rejoin
the condition's queue at the back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from time import monotonic


class PoolDrained(RuntimeError):
    pass


@dataclass
class Worker:
    name: str
    idle_since: float = 0.0


class WorkerPool:
    def __init__(
        self,
        spawn: Callable[[], Awaitable[Worker]],
        *,
        size: int,
        warm: int = 0,
        acquire_timeout: float = 10.0,
        idle_timeout: float = 60.0,
    ) -> None:
        self._spawn = spawn
        self.size = size
        self.warm = warm
        self.acquire_timeout = acquire_timeout
        self.idle_timeout = idle_timeout
        self._cond = asyncio.Condition()
        self._idle: deque[Worker] = deque()
        self._busy: list[Worker] = []
        self._starting = 0
        self._waiting = 0
        self._late: list[Worker] = []
        self._generation = 0  # bumped by drain: the waiters of before are told

    def stats(self) -> Mapping[str, int]:
        return {
            "idle": len(self._idle),
            "in_use": len(self._busy),
            "starting": self._starting,
            "waiting": self._waiting,
        }

    async def start(self) -> None:
        while len(self._idle) + len(self._busy) + self._starting < self.warm:
            worker = await self._cold_start()
            async with self._cond:
                self._park(worker)

    async def acquire(self) -> Worker:
        async with asyncio.timeout(self.acquire_timeout):
            async with self._cond:
                if self._waiting or not (self._idle or self._room()):  # queue, in order
                    await self._wait_turn()
                if self._idle:
                    return self._take(self._idle.popleft())
                self._starting += 1
            return await self._cold_start_for_caller()

    async def _wait_turn(self) -> None:
        """Wait, holding the lock on return, until a worker is idle or a slot is free."""
        self._waiting += 1
        joined = self._generation
        try:
            await self._cond.wait()  # at least once: whoever waits already goes first
            self._check_generation(joined)
            while not (self._idle or self._room()):
                await self._cond.wait()
                self._check_generation(joined)
        finally:
            self._waiting -= 1
            self._cond.notify_all()  # the next in line may find what this one left

    async def _cold_start_for_caller(self) -> Worker:
        joined = self._generation
        try:
            worker = await self._spawn()
        except BaseException:
            async with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        async with self._cond:
            self._starting -= 1
            if self._generation != joined:
                self._late.append(worker)
                raise PoolDrained("the pool was drained during the cold start")
            return self._take(worker)

    async def _cold_start(self) -> Worker:
        self._starting += 1
        try:
            return await self._spawn()
        finally:
            self._starting -= 1

    async def release(self, worker: Worker) -> None:
        async with self._cond:
            if not self._remove(self._busy, worker):
                raise ValueError(f"{worker.name} is not checked out of this pool")
            self._park(worker)

    async def evict(self, worker: Worker) -> bool:
        async with self._cond:
            found = self._remove(self._busy, worker) or self._remove(self._idle, worker)
            self._cond.notify_all()
            return found

    async def prune_idle(self) -> list[Worker]:
        now = monotonic()
        pruned = []
        async with self._cond:
            while (
                self._idle
                and len(self._idle) + len(self._busy) + self._starting > self.warm
                and now - self._idle[0].idle_since >= self.idle_timeout
            ):
                pruned.append(self._idle.popleft())
        return pruned

    async def adopt(self, workers: Iterable[Worker]) -> list[Worker]:
        adopted = []
        async with self._cond:
            for worker in workers:
                held = any(w is worker for w in (*self._idle, *self._busy))
                if not held and self._room():
                    self._park(worker)
                    adopted.append(worker)
        return adopted

    async def drain(self) -> list[Worker]:
        async with self._cond:
            self._generation += 1
            self.size = 0  # nothing is handed out any more; later callers wait
            workers = [*self._idle, *self._busy, *self._late]
            self._idle.clear()
            self._busy.clear()
            self._late.clear()
            self._cond.notify_all()
        return workers

    def _room(self) -> bool:
        return len(self._idle) + len(self._busy) + self._starting < self.size

    def _check_generation(self, joined: int) -> None:
        if self._generation != joined:
            raise PoolDrained("the pool was drained")

    def _take(self, worker: Worker) -> Worker:
        self._busy.append(worker)
        return worker

    def _park(self, worker: Worker) -> None:
        worker.idle_since = monotonic()
        self._idle.append(worker)
        self._cond.notify_all()

    @staticmethod
    def _remove(workers: list[Worker] | deque[Worker], worker: Worker) -> bool:
        for index, each in enumerate(workers):
            if each is worker:
                del workers[index]
                return True
        return False
