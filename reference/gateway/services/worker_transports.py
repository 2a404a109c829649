"""``WorkerTransports``: the httpx transport each worker is called through.

The invoker calls the transport itself: ``httpx.AsyncClient`` around it
(request building, auth, redirect and hook machinery, the cookie jar) cost
about a quarter of the gateway's CPU per call and a long latency tail
(``gateproof bench gateway``). With no client there is no cookie jar, so a
worker's Set-Cookie can never be replayed on the next user's call.

Network workers share one
:class:`~reference.gateway.services.transport.KeepAliveTransport`; a worker's
own transport (an in-process ASGI app) is closed once the last worker on it
is collected (workers are tracked by weak reference).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Self

import httpx

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.services.transport import KeepAliveTransport

__all__ = ["WorkerTransports"]


class WorkerTransports:
    """Transports by worker; ``network`` is what ``transport=None`` workers use."""

    def __init__(
        self,
        *,
        network_transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 256,
    ) -> None:
        self._network = network_transport or KeepAliveTransport(max_idle_per_origin=max_connections)
        self._by_transport: dict[int, _Shared] = {}
        self._of_worker: weakref.WeakKeyDictionary[WorkerInfo, _Shared] = (
            weakref.WeakKeyDictionary()
        )
        self._closing: set[asyncio.Task[None]] = set()

    def for_worker(self, worker: WorkerInfo) -> httpx.AsyncBaseTransport:
        if worker.transport is None:
            return self._network
        shared = self._of_worker.get(worker)
        if shared is None or shared.transport is not worker.transport:
            shared = self._attach(worker, worker.transport)
        return shared.transport

    def _attach(self, worker: WorkerInfo, transport: httpx.AsyncBaseTransport) -> _Shared:
        shared = self._by_transport.get(id(transport))
        if shared is None:
            shared = self._by_transport[id(transport)] = _Shared(transport)
        shared.workers += 1
        self._of_worker[worker] = shared
        weakref.finalize(worker, self._detach, shared)
        return shared

    def _detach(self, shared: _Shared) -> None:
        """A worker on ``shared`` was collected; the last one out closes the transport."""
        shared.workers -= 1
        if shared.workers > 0 or self._by_transport.get(id(shared.transport)) is not shared:
            return
        del self._by_transport[id(shared.transport)]
        try:
            task = asyncio.get_running_loop().create_task(shared.transport.aclose())
        except RuntimeError:  # no loop (interpreter exit): nothing left to close it with
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @property
    def network(self) -> httpx.AsyncBaseTransport:
        """The transport of workers reached over the network (``transport=None``)."""
        return self._network

    @property
    def transports(self) -> int:
        """How many worker transports are tracked (the network transport not counted)."""
        return len(self._by_transport)

    async def aclose(self) -> None:
        await self._network.aclose()
        for shared in list(self._by_transport.values()):
            await shared.transport.aclose()
        self._by_transport.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Shared:
    """One worker transport and how many live workers use it."""

    __slots__ = ("transport", "workers")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.workers = 0
