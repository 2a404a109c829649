"""The Docker backend when its orchestrator is not there: fast, clear failures, no hang."""

from __future__ import annotations

import asyncio
import time

import pytest

from reference.gateway.backends.base import InvocationBackend
from reference.gateway.backends.docker import DockerBackend, OrchestratorUnavailableError
from reference.gateway.models import FunctionEntity, ScalingConfig
from reference.orchestrator.local import free_port

FUNCTIONS = {"echo": FunctionEntity(name="echo", scaling=ScalingConfig(acquire_timeout=10))}


def absent_backend() -> DockerBackend:
    return DockerBackend(FUNCTIONS, orchestrator_url=f"http://127.0.0.1:{free_port()}")


def test_it_is_an_invocation_backend() -> None:
    assert isinstance(absent_backend(), InvocationBackend)


async def test_starting_without_an_orchestrator_adopts_nothing_and_does_not_fail() -> None:
    async with absent_backend() as backend:
        assert backend.pools.stats()["echo"].total == 0
        assert backend.orchestrator_down


@pytest.mark.timeout(60)  # a hang-stopper: the refused connection itself is the verdict
async def test_a_cold_start_without_an_orchestrator_fails_fast_with_a_clear_error() -> None:
    async with absent_backend() as backend:
        with pytest.raises(OrchestratorUnavailableError, match="unreachable"):
            await backend.acquire_worker("echo")
        stats = backend.pools.stats()["echo"]
        assert (stats.provisioning, stats.waiting) == (0, 0)  # the slot is free again


async def test_housekeeping_goes_on_while_the_orchestrator_is_down() -> None:
    backend = DockerBackend(
        FUNCTIONS, orchestrator_url=f"http://127.0.0.1:{free_port()}", heartbeat_interval=0.01
    )
    async with backend:
        backend._doomed.add("some-container")  # a deletion that must wait for the orchestrator
        deadline = time.monotonic() + 5
        while backend.housekeeping_rounds < 3:
            assert time.monotonic() < deadline, "housekeeping stopped after a failed round"
            await asyncio.sleep(0.01)
        assert backend.orchestrator_down
        assert backend._doomed == {"some-container"}  # kept for when it returns


async def test_prune_idle_is_offered_for_the_gateway_janitor() -> None:
    async with absent_backend() as backend:
        assert await backend.prune_idle() == []
