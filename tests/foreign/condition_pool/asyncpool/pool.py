"""A per-function container pool on asyncio.Condition.

Defects a review of this pool finds, kept so the conformance suite can name them:

1. ``evict`` forgets the worker but leaves it in the idle queue: an evicted idle
   worker is handed out again;
2. ``release`` only refuses a worker already idle: a release of an evicted,
   drained or foreign worker is taken back (and the pool outgrows max_capacity);
3. a caller arriving right after a release takes the idle worker before the
   notified waiter runs (FIFO broken);
4. ``prune_idle_workers`` ignores ``min_capacity``; there is no ``start``, so
   ``min_capacity`` is never kept warm either;
5. the cold start runs outside ``acquire_timeout``;
6. a caller cancelled during its cold start leaks its slot (``provisioning``
   stays counted: only ``Exception`` is handled);
7. ``drain`` returns the workers but does not close the pool;
8. ``adopt`` takes in a worker it already holds (idle or checked out), so one
   worker can be handed to two callers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from asyncpool.models import Worker

logger = logging.getLogger(__name__)

ProvisionCallback = Callable[[str], Awaitable[list[Worker]]]


class ContainerPool:
    def __init__(
        self,
        function_name: str,
        max_capacity: int = 5,
        min_capacity: int = 0,
        acquire_timeout: float = 30.0,
        idle_timeout: float = 300.0,
    ) -> None:
        self.function_name = function_name
        self.max_capacity = max_capacity
        self.min_capacity = min_capacity
        self.acquire_timeout = acquire_timeout
        self.idle_timeout = idle_timeout
        self._condition = asyncio.Condition()
        self._idle_workers: deque[Worker] = deque()
        self._all_workers: dict[str, Worker] = {}
        self._provisioning_count = 0

    @property
    def size(self) -> int:
        return len(self._all_workers) + self._provisioning_count

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "function": self.function_name,
            "total": self.size,
            "idle": len(self._idle_workers),
            "provisioning": self._provisioning_count,
            "max_capacity": self.max_capacity,
        }

    async def acquire(self, provision_callback: ProvisionCallback) -> Worker:
        deadline = time.time() + self.acquire_timeout
        async with self._condition:
            while True:
                if self._idle_workers:
                    worker = self._idle_workers.popleft()
                    worker.last_used_at = time.time()
                    return worker
                if self.size < self.max_capacity:
                    self._provisioning_count += 1
                    break
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise TimeoutError(f"no worker for {self.function_name} in time")
                try:
                    await asyncio.wait_for(self._condition.wait(), timeout=remaining)
                except TimeoutError:
                    raise TimeoutError(
                        f"no worker for {self.function_name} within {self.acquire_timeout}s"
                    ) from None

        try:
            workers = await provision_callback(self.function_name)
        except Exception:
            logger.exception("provisioning %s failed", self.function_name)
            async with self._condition:
                self._provisioning_count -= 1
                self._condition.notify()
            raise

        async with self._condition:
            self._provisioning_count -= 1
            worker, *extra = workers
            for each in workers:
                self._all_workers[each.container_id] = each
            for each in extra:
                self._idle_workers.append(each)
            worker.last_used_at = time.time()
            return worker

    async def release(self, worker: Worker) -> None:
        async with self._condition:
            if worker in self._idle_workers:
                raise ValueError(f"worker {worker.container_id} is already idle")
            worker.last_used_at = time.time()
            self._idle_workers.append(worker)
            self._condition.notify()

    async def evict(self, worker: Worker) -> None:
        async with self._condition:
            self._all_workers.pop(worker.container_id, None)
            self._condition.notify()

    async def adopt(self, worker: Worker) -> bool:
        async with self._condition:
            if self.size >= self.max_capacity:
                return False
            self._all_workers[worker.container_id] = worker
            worker.last_used_at = time.time()
            self._idle_workers.append(worker)
            self._condition.notify()
            return True

    async def prune_idle_workers(self) -> list[Worker]:
        now = time.time()
        pruned: list[Worker] = []
        async with self._condition:
            kept: deque[Worker] = deque()
            for worker in self._idle_workers:
                if now - worker.last_used_at > self.idle_timeout:
                    self._all_workers.pop(worker.container_id, None)
                    pruned.append(worker)
                else:
                    kept.append(worker)
            self._idle_workers = kept
        return pruned

    async def drain(self) -> list[Worker]:
        async with self._condition:
            workers = list(self._all_workers.values())
            self._all_workers.clear()
            self._idle_workers.clear()
            self._condition.notify_all()
        return workers
