"""Faults with real worker processes (the process backend): each one answered, none leaking.

After every test the pools' ledger is consistent (nothing busy, provisioning
or waiting) and, once the gateway has stopped, no worker process is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from gateway_helpers import Gateway, GatewayFactory, error_code, invoke_url

from gateproof.testing.processes import runtime_children

pytestmark = pytest.mark.timeout(60)

FAULTS = """
defaults:
  timeout_seconds: 10
  scaling: {max_capacity: 1, acquire_timeout: 15}
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  crash:
    environment: {GATEPROOF_FUNCTION: fail, GATEPROOF_FAIL_MODE: crash}
    scaling: {min_capacity: 1}
  hang:
    environment: {GATEPROOF_FUNCTION: sleep, GATEPROOF_SLEEP_MS: "60000"}
    timeout_seconds: 0.5
    scaling: {min_capacity: 1}
  slow:
    environment: {GATEPROOF_FUNCTION: sleep, GATEPROOF_SLEEP_MS: "20000"}
    scaling: {min_capacity: 1, acquire_timeout: 0.3}
"""
NEVER_READY = """
functions:
  never_ready:
    environment: {GATEPROOF_FUNCTION: echo, GATEPROOF_COLD_START_MS: "60000"}
"""
ROUTING = "routes: []\n"


@pytest.fixture
def faulty(make_gateway: GatewayFactory) -> GatewayFactory:
    @asynccontextmanager
    async def start(functions: str = FAULTS, **settings: object) -> AsyncIterator[Gateway]:
        # a worker's readiness deadline is a hang-stopper here unless a test sets its own:
        # warm-up spawns on a busy machine can take longer than the default 10 s
        defaults = {"backend": "process", "worker_ready_timeout": 40.0}
        async with make_gateway(
            functions=functions, routing=ROUTING, **{**defaults, **settings}
        ) as gw:
            yield gw
            assert gw.ledger_is_consistent(), gw.container.pool_stats()
        assert runtime_children() == [], "a worker process outlived the gateway"

    return start


def pids_of(name: str, value: str) -> set[int]:
    """Live worker processes whose environment has ``name=value`` (one function's workers)."""
    return {p.pid for p in runtime_children() if p.environ().get(name) == value}


async def test_a_worker_that_crashes_mid_request_is_evicted_and_the_call_is_502(
    faulty: GatewayFactory,
) -> None:
    async with faulty() as gw:
        assert len(pids_of("GATEPROOF_FAIL_MODE", "crash")) == 1
        response = await gw.client.post(invoke_url("crash"), json={})
        assert response.status_code == 502 and error_code(response) == "worker_error"
        assert gw.container.pool_stats()["crash"].total == 0
        assert pids_of("GATEPROOF_FAIL_MODE", "crash") == set()
        echo = await gw.client.post(invoke_url("echo"), json={"still": "serving"})
        assert echo.status_code == 200 and echo.json() == {"still": "serving"}


async def test_a_worker_that_hangs_gives_504_after_the_timeout_and_is_killed(
    faulty: GatewayFactory,
) -> None:
    async with faulty() as gw:
        assert len(pids_of("GATEPROOF_SLEEP_MS", "60000")) == 1
        response = await asyncio.wait_for(gw.client.post(invoke_url("hang"), json={}), 20)
        assert response.status_code == 504 and error_code(response) == "worker_timeout"
        assert gw.container.pool_stats()["hang"].total == 0
        assert pids_of("GATEPROOF_SLEEP_MS", "60000") == set()


async def test_a_worker_that_never_becomes_ready_gives_503_and_leaves_no_process(
    faulty: GatewayFactory,
) -> None:
    async with faulty(functions=NEVER_READY, worker_ready_timeout=1.0) as gw:
        response = await gw.client.post(invoke_url("never_ready"), json={})
        assert response.status_code == 503 and error_code(response) == "backend_unavailable"
        assert "Retry-After" in response.headers
        assert gw.container.pool_stats()["never_ready"].total == 0
        assert pids_of("GATEPROOF_COLD_START_MS", "60000") == set()


async def test_an_exhausted_pool_gives_503_with_retry_after(faulty: GatewayFactory) -> None:
    async with faulty() as gw:
        busy = asyncio.create_task(gw.client.post(invoke_url("slow"), json={}))
        for _ in range(500):  # bounded: until the only worker is checked out
            if gw.container.pool_stats()["slow"].busy == 1:
                break
            await asyncio.sleep(0.01)
        response = await gw.client.post(invoke_url("slow"), json={})
        assert response.status_code == 503 and error_code(response) == "no_capacity"
        assert int(response.headers["retry-after"]) >= 1
        assert gw.container.breakers.get("slow").snapshot().failures == 0
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy


async def test_a_request_cancelled_mid_flight_returns_or_evicts_its_worker(
    faulty: GatewayFactory,
) -> None:
    async with faulty() as gw:
        assert len(pids_of("GATEPROOF_SLEEP_MS", "20000")) == 1
        call = asyncio.create_task(gw.client.post(invoke_url("slow"), json={}))
        for _ in range(500):
            if gw.container.pool_stats()["slow"].busy == 1:
                break
            await asyncio.sleep(0.01)
        assert gw.container.pool_stats()["slow"].busy == 1
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        stats = gw.container.pool_stats()["slow"]
        assert stats.busy == 0 and stats.total == stats.idle
        assert pids_of("GATEPROOF_SLEEP_MS", "20000") == set()  # evicted: its process is gone
