"""The Docker backend when its orchestrator is not there: fast, clear failures, no hang."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateproof.docker.orchestrator_process import free_port
from reference.gateway.backends.base import InvocationBackend
from reference.gateway.backends.docker import DockerBackend, OrchestratorUnavailableError
from reference.gateway.models import FunctionEntity, ScalingConfig
from reference.gateway.services.janitor import Janitor

FUNCTIONS = {"echo": FunctionEntity(name="echo", scaling=ScalingConfig(acquire_timeout=10))}


def absent_backend() -> DockerBackend:
    return DockerBackend(FUNCTIONS, orchestrator_url=f"http://127.0.0.1:{free_port()}")


def test_it_is_an_invocation_backend() -> None:
    assert isinstance(absent_backend(), InvocationBackend)


async def test_starting_without_an_orchestrator_adopts_nothing_and_does_not_fail() -> None:
    async with absent_backend() as backend:
        assert backend.pools.stats()["echo"].total == 0
        assert backend.orchestrator_down


async def test_a_cold_start_without_an_orchestrator_fails_fast_with_a_clear_error() -> None:
    async with absent_backend() as backend:
        started = time.monotonic()
        with pytest.raises(OrchestratorUnavailableError, match="unreachable"):
            await backend.acquire_worker("echo")
        assert time.monotonic() - started < 5
        stats = backend.pools.stats()["echo"]
        assert (stats.provisioning, stats.waiting) == (0, 0)  # the slot is free again


async def test_the_janitor_survives_failing_rounds() -> None:
    three_rounds = asyncio.Event()
    rounds: list[int] = []

    async def step() -> None:
        rounds.append(1)
        if len(rounds) >= 3:
            three_rounds.set()
        raise OrchestratorUnavailableError("down")

    async with Janitor(step, interval=0.01):
        await asyncio.wait_for(three_rounds.wait(), 5)
    assert len(rounds) >= 3


def test_the_janitor_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError):
        Janitor(lambda: asyncio.sleep(0), interval=0)
