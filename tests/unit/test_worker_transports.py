"""WorkerTransports keeps a worker's transport only while a worker on it is alive."""

from __future__ import annotations

import asyncio
import gc

import httpx

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.services.transport import KeepAliveTransport
from reference.gateway.services.worker_transports import WorkerTransports


class Transport(httpx.MockTransport):
    """Answers 200 and records whether it was closed."""

    def __init__(self) -> None:
        super().__init__(lambda request: httpx.Response(200))
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def worker(n: int, transport: httpx.AsyncBaseTransport | None) -> WorkerInfo:
    return WorkerInfo(f"echo-{n}", "echo", f"http://echo-{n}.invalid", transport)


async def collect() -> None:
    gc.collect()
    await asyncio.sleep(0)  # let the scheduled close run
    await asyncio.sleep(0)


async def test_a_network_worker_gets_the_shared_network_transport() -> None:
    transports = WorkerTransports()
    assert transports.for_worker(worker(1, None)) is transports.network
    assert isinstance(transports.network, KeepAliveTransport) and transports.transports == 0
    await transports.aclose()
    assert transports.network.closed


async def test_a_gone_workers_transport_is_dropped_and_closed() -> None:
    transports = WorkerTransports()
    own = Transport()
    one = worker(1, own)
    assert transports.for_worker(one) is own
    assert transports.for_worker(one) is own and transports.transports == 1
    del one
    await collect()
    assert transports.transports == 0 and own.closed
    await transports.aclose()


async def test_workers_sharing_a_transport_keep_it_open_until_the_last_is_gone() -> None:
    transports = WorkerTransports()
    shared = Transport()
    first, second = worker(1, shared), worker(2, shared)
    assert transports.for_worker(first) is shared and transports.for_worker(second) is shared
    assert transports.transports == 1
    del first
    await collect()
    assert not shared.closed and transports.for_worker(second) is shared
    del second
    await collect()
    assert shared.closed and transports.transports == 0
    await transports.aclose()


async def test_many_short_lived_workers_do_not_accumulate_transports() -> None:
    transports = WorkerTransports()
    made: list[Transport] = []
    for n in range(200):
        made.append(Transport())
        transport = transports.for_worker(worker(n, made[-1]))
        response = await transport.handle_async_request(httpx.Request("GET", "http://w/"))
        assert response.status_code == 200
    await collect()
    assert transports.transports == 0 and all(t.closed for t in made)
    await transports.aclose()


async def test_closing_closes_the_network_transport_and_those_of_live_workers() -> None:
    network, own = Transport(), Transport()
    async with WorkerTransports(network_transport=network) as transports:
        alive = worker(1, own)
        transports.for_worker(alive)
    assert network.closed and own.closed
