"""Workers that are plain Python objects: no sockets, no processes.

The fastest backend, for unit tests and the pool benchmark. A worker can be
given an httpx transport (for example an ``httpx.ASGITransport`` around the
runtime's app) so the invoker can still call it over "HTTP".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Self

import httpx

from reference.gateway.backends.base import WorkerInfo, new_worker_id
from reference.gateway.models.scaling import ScalingConfig
from reference.gateway.services.pool import PoolManager

DESTROYED_KEPT = 1024

TransportFactory = Callable[[str], httpx.AsyncBaseTransport | None]


class InProcessBackend:
    """An :class:`InvocationBackend` whose workers live in this process."""

    def __init__(
        self,
        functions: Mapping[str, ScalingConfig],
        *,
        transport_factory: TransportFactory | None = None,
        provision_hook: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._transport_factory = transport_factory
        self._provision_hook = provision_hook
        self.pools: PoolManager[WorkerInfo] = PoolManager(self._provision)
        for name, config in functions.items():
            self.pools.add(name, config)
        # the most recent destroyed workers, for tests; bounded so a long-running gateway stays flat
        self.destroyed: deque[WorkerInfo] = deque(maxlen=DESTROYED_KEPT)

    async def _provision(self, function: str) -> WorkerInfo:
        if self._provision_hook is not None:
            await self._provision_hook(function)  # lets tests inject cold starts and failures
        transport = self._transport_factory(function) if self._transport_factory else None
        worker_id = new_worker_id(function)
        return WorkerInfo(worker_id, function, f"http://{worker_id}.invalid", transport)

    async def acquire_worker(self, function: str) -> WorkerInfo:
        return await self.pools.acquire(function)

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        self.pools.release(function, worker)

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        if self.pools.evict(function, worker):
            self.destroyed.append(worker)

    async def ensure_min(self) -> int:
        """Provision every pool back up to its ``min_capacity``; for a janitor."""
        return await self.pools.ensure_min()

    async def __aenter__(self) -> Self:
        await self.pools.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for workers in (await self.pools.drain()).values():
            self.destroyed.extend(workers)
