"""A worker pool with cold starts, acquire timeouts and an idle reaper.

Workers are spawned on demand (a cold start takes ``spawn_delay`` seconds, as
a container would), handed to waiting callers in arrival order, and reaped
after ``idle_ttl`` seconds unused. Callers give up after ``acquire_timeout``.

Defects kept on purpose, for gateproof's own tests:

1. ``release`` hands the worker to the head waiter's future without checking
   that the waiter is still waiting. A waiter whose timeout has fired but which
   has not yet run its clean-up is still in the line, so a release landing in
   that window calls ``set_result`` on a cancelled future: ``release`` raises
   ``InvalidStateError``, the worker is lost, and the timed-out caller's
   clean-up then fails to find itself in the line. Two orderings must meet
   (the timeout fires before the release; the release runs before the
   waiter's clean-up): a race of depth 2 that a plain loop, running ready
   callbacks in the order they were scheduled, never shows.
2. ``stats()["size"]`` leaves out workers still cold-starting.
3. ``release`` takes back a worker it never spawned.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


class PoolTimeout(TimeoutError):
    """No worker became free within ``acquire_timeout``."""


@dataclass(eq=False)
class Worker:
    name: str
    last_used: float = 0.0
    calls: int = 0
    meta: dict[str, str] = field(default_factory=dict)


Spawner = Callable[[str], Awaitable[Worker]]

_names = itertools.count(1)


def sleepy_spawner(delay: float) -> Spawner:
    """A spawner whose cold starts take ``delay`` seconds (stands in for a container start)."""

    async def spawn(function: str) -> Worker:
        await asyncio.sleep(delay)
        return Worker(f"{function}-{next(_names)}")

    return spawn


class WorkerPool:
    def __init__(
        self,
        function: str,
        spawn: Spawner,
        *,
        max_size: int = 4,
        acquire_timeout: float = 10.0,
        idle_ttl: float = 60.0,
    ) -> None:
        self.function = function
        self._spawn = spawn
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.idle_ttl = idle_ttl
        self._idle: deque[Worker] = deque()
        self._workers: set[Worker] = set()
        self._starting = 0
        self._waiters: deque[asyncio.Future[Worker]] = deque()
        self._reaper: asyncio.Task[None] | None = None

    def stats(self) -> dict[str, int]:
        return {
            "size": len(self._workers),  # defect 2: cold starts are not counted
            "idle": len(self._idle),
            "starting": self._starting,
            "waiting": len(self._waiters),
        }

    def start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        for waiter in self._waiters:
            waiter.cancel()
        self._idle.clear()
        self._workers.clear()

    async def acquire(self) -> Worker:
        loop = asyncio.get_running_loop()
        if self._idle and not self._waiters:
            worker = self._idle.popleft()
            worker.calls += 1
            return worker
        if len(self._workers) + self._starting < self.max_size:
            self._starting += 1
            try:
                async with asyncio.timeout(self.acquire_timeout):
                    worker = await self._spawn(self.function)
            except TimeoutError:
                raise PoolTimeout(f"cold start of {self.function} took too long") from None
            finally:
                self._starting -= 1
            self._workers.add(worker)
            worker.calls += 1
            return worker
        waiter: asyncio.Future[Worker] = loop.create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.acquire_timeout):
                worker = await waiter
        except TimeoutError:
            self._waiters.remove(waiter)
            raise PoolTimeout(
                f"no worker for {self.function} within {self.acquire_timeout:g} s"
            ) from None
        worker.calls += 1
        return worker

    def release(self, worker: Worker) -> None:
        worker.last_used = asyncio.get_running_loop().time()
        if self._waiters:
            self._waiters.popleft().set_result(worker)  # defect 1: the waiter may have given up
            return
        self._workers.add(worker)  # defect 3: a stranger's worker is taken in
        self._idle.append(worker)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.idle_ttl / 2)
            self.reap()

    def reap(self) -> list[Worker]:
        now = asyncio.get_running_loop().time()
        expired = [w for w in self._idle if now - w.last_used >= self.idle_ttl]
        for worker in expired:
            self._idle.remove(worker)
            self._workers.discard(worker)
        return expired
