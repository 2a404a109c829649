"""The gateway over the Docker backend: real containers through the orchestrator, and its faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import docker
import httpx
import pytest

from reference.gateway.backends.docker import DockerBackend, OrchestratorUnavailableError
from reference.gateway.core.factory import create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.main import create_app
from reference.gateway.services.registry import FunctionRegistry
from reference.orchestrator.local import OrchestratorProcess
from reference.orchestrator.settings import LABEL

FUNCTIONS_YML = """
defaults:
  image: gateproof/runtime:latest
  timeout_seconds: 30
  scaling: {max_capacity: 2, min_capacity: 0, acquire_timeout: 30, idle_timeout: 300}
functions:
  echo: {environment: {GATEPROOF_FUNCTION: echo}}
  sleep: {environment: {GATEPROOF_FUNCTION: sleep}}
  fail: {environment: {GATEPROOF_FUNCTION: fail}}
  cpu: {environment: {GATEPROOF_FUNCTION: cpu}}
"""


def invoke_path(function: str) -> str:
    return f"/2015-03-31/functions/{function}/invocations"


@pytest.fixture
def functions_file(tmp_path: Path) -> Path:
    path = tmp_path / "functions.yml"
    path.write_text(FUNCTIONS_YML)
    return path


def backend_for(functions_file: Path, url: str) -> DockerBackend:
    functions = FunctionRegistry.from_file(functions_file).as_mapping()
    return DockerBackend(functions, orchestrator_url=url, heartbeat_interval=0.5)


@asynccontextmanager
async def gateway(
    functions_file: Path, url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, DockerBackend]]:
    """The real gateway app in this process, its workers in containers."""
    settings = GatewaySettings(functions_file=functions_file, access_log=False)
    backend = backend_for(functions_file, url)
    container = create_container(settings, backend=backend)
    app = create_app(settings, container=container)
    async with container:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", timeout=60
        ) as client:
            yield client, backend


def ours(client: docker.DockerClient, *, running: bool = False) -> set[str]:
    found = client.containers.list(all=not running, filters={"label": f"{LABEL}=itest"})
    return {c.id for c in found}


async def test_the_gateway_invokes_real_worker_containers_end_to_end(
    orchestrator: OrchestratorProcess, functions_file: Path, docker_client: docker.DockerClient
) -> None:
    async with gateway(functions_file, orchestrator.url) as (client, backend):
        answer = await client.post(invoke_path("echo"), json={"hello": "container"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"hello": "container"}
        (container_id,) = backend.worker_ids()
        container = docker_client.containers.get(container_id)
        assert container.name.startswith("gp-echo-")
        again = await client.post(invoke_path("echo"), json={"n": 2})
        assert again.json() == {"n": 2}
        assert backend.worker_ids() == [container_id]  # the warm worker served it
    assert ours(docker_client) == set()  # leaving the gateway destroys its workers


async def test_a_worker_killed_mid_request_is_evicted_and_replaced(
    orchestrator: OrchestratorProcess, functions_file: Path, docker_client: docker.DockerClient
) -> None:
    async with gateway(functions_file, orchestrator.url) as (client, backend):
        call = asyncio.create_task(client.post(invoke_path("sleep"), json={"sleep_ms": 20_000}))
        deadline = time.monotonic() + 30
        while backend.pools.stats()["sleep"].busy == 0:
            assert time.monotonic() < deadline, "the sleep call never got a worker"
            assert not call.done(), call.result().text
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the request is in the worker now
        (victim,) = backend.worker_ids()
        await asyncio.to_thread(docker_client.containers.get(victim).kill)

        answer = await asyncio.wait_for(call, 30)
        assert answer.status_code == 502
        assert answer.json()["code"] == "worker_error"
        stats = backend.pools.stats()["sleep"]
        assert (stats.idle, stats.busy, stats.provisioning) == (0, 0, 0)
        assert backend.worker_ids() == []
        assert victim not in ours(docker_client)  # evicted means deleted

        answer = await client.post(invoke_path("sleep"), json={"sleep_ms": 1})
        assert answer.status_code == 200, answer.text
        (replacement,) = backend.worker_ids()
        assert replacement != victim
        assert ours(docker_client) == {replacement}


async def test_the_orchestrator_restarted_during_a_stream_of_requests(
    orchestrator_factory, functions_file: Path, docker_client: docker.DockerClient
) -> None:
    orchestrator = orchestrator_factory()
    async with gateway(functions_file, orchestrator.url) as (client, backend):
        assert (await client.post(invoke_path("echo"), json={})).status_code == 200

        await asyncio.to_thread(orchestrator.kill)
        cold = await client.post(invoke_path("cpu"), json={"cpu_ms": 1})
        assert cold.status_code == 503
        assert cold.json()["code"] == "backend_unavailable"
        warm = await client.post(invoke_path("echo"), json={"still": "warm"})
        assert warm.status_code == 200  # warm workers keep serving while it is down

        gone = set(backend.worker_ids())
        await asyncio.to_thread(orchestrator.start)  # same port; it removes its leftovers
        restarted = time.monotonic()
        while set(backend.worker_ids()) & gone:  # heartbeats report them missing
            assert time.monotonic() - restarted < 15, "removed containers were never forgotten"
            await asyncio.sleep(0.1)
        statuses: dict[str, list[int]] = {"echo": [], "cpu": []}
        recovered = False
        while time.monotonic() - restarted < 20:
            for function in statuses:
                answer = await client.post(invoke_path(function), json={"cpu_ms": 1})
                statuses[function].append(answer.status_code)
            if all(codes[-1] == 200 for codes in statuses.values()):
                recovered = True
                break
            await asyncio.sleep(0.1)
        assert recovered, f"no success within 20s of the restart: {statuses}"
        assert statuses["echo"][0] == 200  # the dead idle worker was forgotten, not handed out
        errors = {code for codes in statuses.values() for code in codes if code != 200}
        assert errors <= {502, 503}
        running = ours(docker_client)
        assert running == set(backend.worker_ids())  # nothing leaked, nothing lost
    assert ours(docker_client) == set()


async def test_a_restarted_backend_adopts_the_running_workers(
    orchestrator: OrchestratorProcess, functions_file: Path, docker_client: docker.DockerClient
) -> None:
    first = backend_for(functions_file, orchestrator.url)
    await first.__aenter__()
    workers = await asyncio.gather(first.acquire_worker("echo"), first.acquire_worker("echo"))
    for worker in workers:
        await first.release_worker("echo", worker)
    before = ours(docker_client, running=True)
    assert len(before) == 2
    await first.detach()  # the gateway dies; its containers keep running

    second = backend_for(functions_file, orchestrator.url)
    async with second:
        assert second.pools.stats()["echo"].idle == 2
        worker = await second.acquire_worker("echo")
        assert worker.meta["container_id"] in before
        async with httpx.AsyncClient() as direct:
            reply = await direct.post(
                f"{worker.url}/2015-03-31/functions/function/invocations", json={"adopted": True}
            )
        assert reply.json() == {"adopted": True}
        await second.release_worker("echo", worker)
        assert ours(docker_client, running=True) == before  # nothing new was started
    assert ours(docker_client) == set()


async def test_a_gateway_started_before_the_orchestrator_recovers_when_it_arrives(
    orchestrator_factory, functions_file: Path, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    absent = OrchestratorProcess(instance="itest", log_path=tmp_path / "late.log")
    async with gateway(functions_file, absent.url) as (client, backend):
        answer = await client.post(invoke_path("echo"), json={})  # a refused connection
        assert answer.status_code == 503 and answer.json()["code"] == "backend_unavailable"
        with pytest.raises(OrchestratorUnavailableError):
            await backend.provisioner.sync()

        late = orchestrator_factory(port=absent.port)
        assert late.url == absent.url
        answer = await client.post(invoke_path("echo"), json={"late": True})
        assert answer.status_code == 200, answer.text
    assert ours(docker_client) == set()


async def test_gateproof_backend_docker_selects_it_from_the_environment(
    orchestrator: OrchestratorProcess,
    functions_file: Path,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEPROOF_DOCKER_ORCHESTRATOR_URL", orchestrator.url)
    settings = GatewaySettings(backend="docker", functions_file=functions_file, access_log=False)
    container = create_container(settings)
    assert isinstance(container.backend, DockerBackend)
    app = create_app(settings, container=container)
    async with container:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            answer = await client.post(invoke_path("echo"), json={"via": "settings"}, timeout=60)
    assert answer.status_code == 200 and answer.json() == {"via": "settings"}
    assert ours(docker_client) == set()
