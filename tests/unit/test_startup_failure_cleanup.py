"""A start that fails part-way closes what was opened: ``__aexit__`` never runs after it."""

from __future__ import annotations

import pytest

from reference.gateway.backends.docker import DockerBackend, OrchestratorUnavailableError
from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.core.factory import create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.models import FunctionEntity, ScalingConfig
from reference.gateway.services.transport import KeepAliveTransport
from reference.orchestrator.local import free_port

WARM = {"echo": FunctionEntity(name="echo", scaling=ScalingConfig(min_capacity=1))}


async def test_a_docker_backend_that_cannot_warm_its_pools_closes_its_clients() -> None:
    backend = DockerBackend(WARM, orchestrator_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(OrchestratorUnavailableError):
        async with backend:
            raise AssertionError("the backend started without its min_capacity")
    assert backend.provisioner._http.is_closed and backend.heartbeats._http.is_closed
    assert backend._housekeeper is None


async def test_a_container_whose_backend_fails_to_start_closes_its_transports() -> None:
    class BrokenBackend(InProcessBackend):
        async def __aenter__(self) -> BrokenBackend:
            raise RuntimeError("cannot start")

    container = create_container(GatewaySettings(backend="inprocess"), backend=BrokenBackend({}))
    with pytest.raises(RuntimeError, match="cannot start"):
        async with container:
            raise AssertionError("the container started without its backend")
    network = container.transports.network
    assert isinstance(network, KeepAliveTransport) and network.closed
