"""The orchestrator's container rules, over an in-memory Docker client and a real ready probe.

The fake stands in for the Docker SDK only; readiness is probed over real HTTP
on 127.0.0.1, so "ready" and "never ready" are what the manager actually sees.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import docker.errors
import httpx
import pytest

from reference.orchestrator.containers import (
    ContainerManager,
    ImageMissingError,
    NotOursError,
    ProvisionFailedError,
)
from reference.orchestrator.settings import FUNCTION_LABEL, LABEL, OrchestratorSettings

_ids = itertools.count(1)


class FakeContainer:
    def __init__(self, store: FakeContainers, name: str, labels: dict[str, str], port: int):
        self.id = f"c{next(_ids):04d}"
        self.name = name
        self.labels = labels
        self.status = "created"
        self._store = store
        self.attrs: dict[str, Any] = {
            "Config": {"Image": "gateproof/runtime:latest"},
            "NetworkSettings": {
                "Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
            },
        }

    def start(self) -> None:
        self.status = "running"

    def reload(self) -> None:
        pass

    def logs(self, tail: int = 5) -> bytes:
        return b""

    def remove(self, force: bool = False) -> None:
        self._store.removed.append(self.name)
        self._store.all.pop(self.id, None)


class FakeContainers:
    """Just enough of ``DockerClient.containers``; ``fail_on`` makes the n-th create fail."""

    def __init__(self, port: int, fail_on: int | None = None) -> None:
        self.port = port
        self.fail_on = fail_on
        self.creates: list[dict[str, Any]] = []
        self.all: dict[str, FakeContainer] = {}
        self.removed: list[str] = []

    def create(self, image: str, **kwargs: Any) -> FakeContainer:
        self.creates.append({"image": image, **kwargs})
        if image == "absent":
            raise docker.errors.ImageNotFound("no such image")
        if self.fail_on is not None and len(self.creates) == self.fail_on:
            raise docker.errors.APIError("engine refused")
        container = FakeContainer(self, kwargs["name"], kwargs["labels"], self.port)
        self.all[container.id] = container
        return container

    def get(self, container_id: str) -> FakeContainer:
        for container in self.all.values():
            if container_id in (container.id, container.name):
                return container
        raise docker.errors.NotFound("no such container")

    def list(
        self, all: bool = False, filters: dict[str, Any] | None = None, sparse: bool = False
    ) -> list:
        wanted = (filters or {}).get("label", [])
        wanted = [wanted] if isinstance(wanted, str) else wanted
        found = []
        for container in self.all.values():
            pairs = {f"{k}={v}" for k, v in container.labels.items()}
            if all or container.status == "running":
                if set(wanted) <= pairs:
                    found.append(container)
        return found


class FakeDocker:
    def __init__(self, containers: FakeContainers) -> None:
        self.containers = containers

    def close(self) -> None:
        pass


@pytest.fixture
async def ready_port() -> AsyncIterator[int]:
    """A tiny HTTP server that answers 200 to everything: a ready worker."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def manager_for(containers: FakeContainers, **settings: Any) -> ContainerManager:
    config = OrchestratorSettings(instance="unit", **settings)
    return ContainerManager(config, FakeDocker(containers))  # type: ignore[arg-type]


async def test_each_container_is_named_labelled_and_published_on_loopback_only(
    ready_port: int,
) -> None:
    containers = FakeContainers(ready_port)
    manager = manager_for(containers, extra_labels={"team": "qa"})
    workers = await manager.provision("echo", 2, None, {"X": "1"})
    assert len(workers) == 2
    for worker, create in zip(workers, containers.creates, strict=True):
        assert worker.name.startswith("gp-echo-") and worker.host == "127.0.0.1"
        assert create["name"] == worker.name
        assert create["labels"] == {LABEL: "unit", FUNCTION_LABEL: "echo", "team": "qa"}
        assert create["ports"] == {"8080/tcp": ("127.0.0.1", None)}
        assert create["environment"] == {"GATEPROOF_FUNCTION": "echo", "X": "1"}
    await manager.aclose()


async def test_a_batch_failing_part_way_is_rolled_back(ready_port: int) -> None:
    containers = FakeContainers(ready_port, fail_on=3)
    manager = manager_for(containers)
    with pytest.raises(ProvisionFailedError, match="rolled back"):
        await manager.provision("echo", 4, None, {})
    assert containers.all == {}  # the three that started are gone too
    assert len(containers.removed) == 3
    await manager.aclose()


async def test_a_container_never_ready_is_removed_within_the_deadline() -> None:
    containers = FakeContainers(port=1)  # nothing listens on port 1
    manager = manager_for(containers, ready_timeout=0.5)
    with pytest.raises(ProvisionFailedError, match=r"not ready within 0\.5s"):
        await asyncio.wait_for(manager.provision("echo", 1, None, {}), 10)
    assert containers.all == {}
    await manager.aclose()


async def test_a_missing_image_says_how_to_build_it(ready_port: int) -> None:
    manager = manager_for(FakeContainers(ready_port))
    with pytest.raises(ImageMissingError, match="gateproof images"):
        await manager.provision("echo", 1, "absent", {})
    await manager.aclose()


async def test_a_batch_above_the_limit_is_refused_before_anything_starts(ready_port: int) -> None:
    containers = FakeContainers(ready_port)
    manager = manager_for(containers, max_batch=2)
    with pytest.raises(ProvisionFailedError, match="max_batch"):
        await manager.provision("echo", 3, None, {})
    assert containers.creates == []
    await manager.aclose()


async def test_only_its_own_label_is_ever_removed(ready_port: int) -> None:
    containers = FakeContainers(ready_port)
    manager = manager_for(containers)
    (mine,) = await manager.provision("echo", 1, None, {})
    other = FakeContainer(containers, "someone", {LABEL: "other-instance"}, ready_port)
    other.start()
    stranger = FakeContainer(containers, "stranger", {}, ready_port)
    stranger.start()
    containers.all.update({other.id: other, stranger.id: stranger})

    with pytest.raises(NotOursError):
        await manager.remove(other.id)
    with pytest.raises(NotOursError):
        await manager.remove(stranger.id)
    assert await manager.cleanup_leftovers() == [mine.name]
    assert set(containers.all) == {other.id, stranger.id}
    await manager.aclose()


async def test_containers_without_heartbeat_are_reaped_after_idle_timeout(ready_port: int) -> None:
    now = [0.0]
    containers = FakeContainers(ready_port)
    config = OrchestratorSettings(instance="unit", idle_timeout=10)
    manager = ContainerManager(config, FakeDocker(containers), clock=lambda: now[0])  # type: ignore[arg-type]
    kept, idle = await manager.provision("echo", 2, None, {})
    now[0] = 9.0
    assert await manager.reap_idle() == []
    alive, missing = await manager.heartbeat([kept.id, "gone"])
    assert (alive, missing) == ([kept.id], ["gone"])
    now[0] = 10.0
    assert await manager.reap_idle() == [idle.name]
    assert [w.id for w in await manager.sync()] == [kept.id]
    await manager.aclose()


# -- the HTTP API over the same fake ---------------------------------------------


@pytest.fixture
async def api(ready_port: int) -> AsyncIterator[tuple[httpx.AsyncClient, FakeContainers]]:
    from reference.orchestrator.app import create_app

    containers = FakeContainers(ready_port, fail_on=2)
    leftover = FakeContainer(containers, "gp-echo-old", {LABEL: "unit"}, ready_port)
    containers.all[leftover.id] = leftover
    settings = OrchestratorSettings(instance="unit", token="unit-token")
    app = create_app(settings, FakeDocker(containers))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        token = {"Authorization": "Bearer unit-token"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://o", headers=token
        ) as client:
            yield client, containers


async def test_the_api_maps_failures_to_stable_codes(
    api: tuple[httpx.AsyncClient, FakeContainers],
) -> None:
    client, containers = api
    assert "gp-echo-old" in containers.removed  # leftovers go at startup
    ok = await client.post("/containers/provision", json={"function": "echo"})
    assert ok.status_code == 200 and ok.json()["workers"][0]["host"] == "127.0.0.1"
    failed = await client.post("/containers/provision", json={"function": "echo"})
    assert failed.status_code == 503 and failed.json()["detail"]["code"] == "provision_failed"
    missing = await client.post(
        "/containers/provision", json={"function": "echo", "image": "absent"}
    )
    assert missing.status_code == 422 and missing.json()["detail"]["code"] == "image_missing"
    assert (await client.delete("/containers/not-a-container")).status_code == 404
    bad_name = await client.post("/containers/provision", json={"function": "../etc"})
    assert bad_name.status_code == 422
