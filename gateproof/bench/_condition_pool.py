"""A correct pool on ``asyncio.Condition``: the second control of ``gateproof bench shuffle``.

Callers that cannot be served at once join a line and wait on the condition;
every change wakes the whole line with ``notify_all`` and only the head of the
line may take a worker. It is FIFO whatever order the wake-ups run in, so any
failure a shuffled loop finds in it is a false positive. (A pool that instead
counts waiters and lets the first woken one win relies on the wake-ups running
in order, and loses its order to a caller arriving just as the woken waiters
re-wait: a realistic shuffle finds that hole, see ``tests/foreign/fifo_pool``.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any


class ConditionPool:
    def __init__(
        self,
        function: str,
        config: Any,
        provision: Callable[[], Awaitable[Any]],
        *,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._provision = provision
        self._cond = asyncio.Condition()
        self._idle: list[Any] = []
        self._busy: list[Any] = []
        self._starting = 0
        self._line: deque[object] = deque()  # waiting callers, in arrival order
        self._closed = False

    def _can_serve(self) -> bool:
        return bool(self._idle) or self._room() or self._closed

    def _room(self) -> bool:
        return len(self._idle) + len(self._busy) + self._starting < self._config.max_capacity

    async def acquire(self) -> Any:
        async with asyncio.timeout(self._config.acquire_timeout):
            async with self._cond:
                if self._line or not (self._idle or self._room()):
                    ticket = object()
                    self._line.append(ticket)
                    try:
                        while not (self._line[0] is ticket and self._can_serve()):
                            await self._cond.wait()
                    finally:
                        self._line.remove(ticket)
                        self._cond.notify_all()
                if self._closed:
                    raise RuntimeError("pool drained")
                if self._idle:
                    worker = self._idle.pop(0)
                    self._busy.append(worker)
                    return worker
                self._starting += 1
            try:
                worker = await self._provision()
            finally:
                async with self._cond:
                    self._starting -= 1
                    self._cond.notify_all()
            async with self._cond:
                self._busy.append(worker)
                return worker

    async def release(self, worker: Any) -> None:
        async with self._cond:
            if not any(each is worker for each in self._busy):
                raise ValueError("not checked out")
            self._busy = [each for each in self._busy if each is not worker]
            self._idle.append(worker)
            self._cond.notify_all()

    async def evict(self, worker: Any) -> bool:
        async with self._cond:
            before = len(self._busy) + len(self._idle)
            self._busy = [each for each in self._busy if each is not worker]
            self._idle = [each for each in self._idle if each is not worker]
            self._cond.notify_all()
            return len(self._busy) + len(self._idle) < before

    async def drain(self) -> list[Any]:
        async with self._cond:
            self._closed = True
            workers, self._idle, self._busy = self._idle + self._busy, [], []
            self._cond.notify_all()
            return workers

    def stats(self) -> dict[str, int]:
        return {"idle": len(self._idle), "busy": len(self._busy), "waiting": len(self._line)}
