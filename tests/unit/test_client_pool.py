"""ClientPool keeps a worker transport's client only while a worker on it is alive."""

from __future__ import annotations

import asyncio
import gc

import httpx

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.services.clients import ClientPool


def worker(n: int, transport: httpx.AsyncBaseTransport) -> WorkerInfo:
    return WorkerInfo(f"echo-{n}", "echo", f"http://echo-{n}.invalid", transport)


def transport() -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200))


async def collect() -> None:
    gc.collect()
    await asyncio.sleep(0)  # let the scheduled close run
    await asyncio.sleep(0)


async def test_a_gone_workers_client_is_dropped_and_closed() -> None:
    pool = ClientPool()
    one = worker(1, transport())
    client = pool.for_worker(one)
    assert pool.for_worker(one) is client and pool.transports == 1
    del one
    await collect()
    assert pool.transports == 0 and client.is_closed
    await pool.aclose()


async def test_workers_sharing_a_transport_share_a_client_until_the_last_is_gone() -> None:
    pool = ClientPool()
    shared = transport()
    first, second = worker(1, shared), worker(2, shared)
    client = pool.for_worker(first)
    assert pool.for_worker(second) is client
    del first
    await collect()
    assert not client.is_closed and pool.for_worker(second) is client
    del second
    await collect()
    assert client.is_closed and pool.transports == 0
    await pool.aclose()


async def test_many_short_lived_workers_do_not_accumulate_clients() -> None:
    pool = ClientPool()
    for n in range(200):
        response = await pool.for_worker(worker(n, transport())).get("http://w/")
        assert response.status_code == 200
    await collect()
    assert pool.transports == 0
    await pool.aclose()


async def test_closing_the_pool_closes_the_clients_of_live_workers() -> None:
    pool = ClientPool()
    alive = worker(1, transport())
    client = pool.for_worker(alive)
    await pool.aclose()
    assert client.is_closed
