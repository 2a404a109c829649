"""Shared ``httpx.AsyncClient`` objects, one per transport, closed with the gateway.

Opening a client per call costs a TLS context and a connection per request:
the naive proxy's main cost. Workers reached over the network share one
client on a :class:`~reference.gateway.services.transport.KeepAliveTransport`
(see there why not httpx's default transport); a worker that brings its own
transport (an in-process ASGI app) gets a client around that transport.
"""

from __future__ import annotations

import http.cookiejar
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
        self._by_transport: dict[int, tuple[httpx.AsyncBaseTransport, httpx.AsyncClient]] = {}

    def for_worker(self, worker: WorkerInfo) -> httpx.AsyncClient:
        transport = worker.transport
        if transport is None:
            return self._network
        entry = self._by_transport.get(id(transport))
        if entry is None or entry[0] is not transport:
            entry = (transport, _client(transport))
            self._by_transport[id(transport)] = entry
        return entry[1]

    async def aclose(self) -> None:
        await self._network.aclose()
        for _, client in self._by_transport.values():
            await client.aclose()
        self._by_transport.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


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
