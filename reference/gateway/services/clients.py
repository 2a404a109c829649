"""Shared ``httpx.AsyncClient`` objects, one per transport, closed with the gateway.

Opening a client per call costs a TLS context and a connection per request:
the naive proxy's main cost. Workers reached over the network share one
client on a :class:`~reference.gateway.services.transport.KeepAliveTransport`
(see there why not httpx's default transport); a worker that brings its own
transport (an in-process ASGI app) gets a client around that transport,
shared by every worker on the same transport and closed once the last of
them is gone (workers are tracked by weak reference, so evicted ones are not
kept alive).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import weakref
from typing import Self

import httpx

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.services.transport import KeepAliveTransport

__all__ = ["ClientPool"]


class ClientPool:
    """Clients by transport; ``network_transport`` is what ``transport=None`` workers use."""

    def __init__(
        self,
        *,
        network_transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 256,
    ) -> None:
        transport = network_transport or KeepAliveTransport(max_idle_per_origin=max_connections)
        self._network = _client(transport)
        self._by_transport: dict[int, _Shared] = {}
        self._of_worker: weakref.WeakKeyDictionary[WorkerInfo, _Shared] = (
            weakref.WeakKeyDictionary()
        )
        self._closing: set[asyncio.Task[None]] = set()

    def for_worker(self, worker: WorkerInfo) -> httpx.AsyncClient:
        if worker.transport is None:
            return self._network
        shared = self._of_worker.get(worker)
        if shared is None or shared.transport is not worker.transport:
            shared = self._attach(worker, worker.transport)
        return shared.client

    def _attach(self, worker: WorkerInfo, transport: httpx.AsyncBaseTransport) -> _Shared:
        shared = self._by_transport.get(id(transport))
        if shared is None:
            shared = self._by_transport[id(transport)] = _Shared(transport)
        shared.workers += 1
        self._of_worker[worker] = shared
        weakref.finalize(worker, self._detach, shared)
        return shared

    def _detach(self, shared: _Shared) -> None:
        """A worker on ``shared`` was collected; the last one out closes the client."""
        shared.workers -= 1
        if shared.workers > 0 or self._by_transport.get(id(shared.transport)) is not shared:
            return
        del self._by_transport[id(shared.transport)]
        try:
            task = asyncio.get_running_loop().create_task(shared.client.aclose())
        except RuntimeError:  # no loop (interpreter exit): nothing left to close it with
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @property
    def transports(self) -> int:
        """How many worker transports have a client open."""
        return len(self._by_transport)

    async def aclose(self) -> None:
        await self._network.aclose()
        for shared in list(self._by_transport.values()):
            await shared.client.aclose()
        self._by_transport.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Shared:
    """One worker transport's client and how many live workers use it."""

    __slots__ = ("client", "transport", "workers")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.client = _client(transport)
        self.workers = 0


def _client(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    # The call's deadline is the function's timeout_seconds, enforced by the
    # invoker around the whole call, so httpx's own timeouts are off.
    client = httpx.AsyncClient(transport=transport, timeout=None, trust_env=False)
    # A worker's Set-Cookie is meant for the end user and passes through in the
    # response; the shared client must never store it and replay it on the next
    # user's call to the same worker.
    client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    # And skip the extraction itself: it rebuilds urllib request objects on every call.
    client.cookies.extract_cookies = _ignore_cookies  # type: ignore[method-assign]
    return client


def _ignore_cookies(response: httpx.Response) -> None:
    return None
