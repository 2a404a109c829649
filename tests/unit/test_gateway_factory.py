"""Settings, the factory's wiring, the janitor and the container's lifecycle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.core.factory import UnknownBackendError, create_container
from reference.gateway.core.settings import CONFIG_DIR, GatewaySettings
from reference.gateway.services.config_file import ConfigFileError
from reference.gateway.services.janitor import Janitor


def test_settings_come_from_gateproof_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEPROOF_BACKEND", "inprocess")
    monkeypatch.setenv("GATEPROOF_MAX_BODY_BYTES", "1234")
    monkeypatch.setenv("GATEPROOF_BREAKER__RECOVERY_TIMEOUT", "7.5")
    settings = GatewaySettings()
    assert settings.backend == "inprocess" and settings.max_body_bytes == 1234
    assert settings.breaker.recovery_timeout == 7.5


def test_defaults_are_the_embedded_setup() -> None:
    settings = GatewaySettings()
    assert settings.backend == "process"
    assert settings.max_body_bytes == 6 * 1024 * 1024
    assert settings.functions_file == CONFIG_DIR / "functions.yml"


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(UnknownBackendError, match="inprocess, process"):
        create_container(GatewaySettings(backend="carrier-pigeon"))


def test_a_broken_functions_file_stops_the_factory(tmp_path: Path) -> None:
    (tmp_path / "functions.yml").write_text("functions:\n  f: {colour: red}\n")
    with pytest.raises(ConfigFileError, match=r"functions\.f\.colour"):
        create_container(GatewaySettings(functions_file=tmp_path / "functions.yml"))


async def test_the_container_wires_one_backend_through_every_service() -> None:
    container = create_container(GatewaySettings(backend="inprocess"))
    assert isinstance(container.backend, InProcessBackend)
    assert container.invoker.backend is container.backend
    assert container.processor.invoker is container.invoker
    assert set(container.breakers.snapshots()) == set(container.registry.names)
    async with container:
        assert container.pool_stats()["echo"].idle == 1  # min_capacity warmed at start
        result = await container.invoker.invoke_function("echo", b'{"x": 1}')
        assert result.status_code == 200 and result.payload == b'{"x": 1}'
    assert container.backend.destroyed  # every worker destroyed on the way out
    with pytest.raises(RuntimeError, match="one lifespan"):
        await container.__aenter__()


async def test_the_janitor_sweeps_backends_that_can_prune_and_stops_cleanly() -> None:
    class Prunable:
        def __init__(self) -> None:
            self.calls = 0

        async def prune_idle(self) -> list[str]:
            self.calls += 1
            return ["w1"] if self.calls == 1 else []

    backend = Prunable()
    janitor = Janitor(backend, interval=0.01)  # type: ignore[arg-type]
    janitor.start()
    for _ in range(300):  # bounded wait for a few sweeps
        if janitor.sweeps >= 3:
            break
        await asyncio.sleep(0.01)
    await janitor.aclose()
    assert backend.calls >= 3
    calls = backend.calls
    await asyncio.sleep(0.05)
    assert backend.calls == calls  # stopped for good


async def test_the_janitor_ignores_backends_without_prune_idle() -> None:
    janitor = Janitor(InProcessBackend({}), interval=0.01)
    janitor.start()
    await asyncio.sleep(0.03)
    assert janitor.sweeps == 0
    await janitor.aclose()


def test_fastapis_own_telemetry_is_off_unless_the_settings_turn_it_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reference.gateway.main import create_app

    def switches(app: object) -> list[bool]:
        config = app._native_telemetry.config  # type: ignore[attr-defined]
        return [config["tracing"], config["metrics"], config["logs"]]

    assert switches(create_app(GatewaySettings(backend="inprocess"))) == [False] * 3
    monkeypatch.setenv("GATEPROOF_FRAMEWORK_TELEMETRY", "true")
    assert switches(create_app(GatewaySettings(backend="inprocess"))) == [True] * 3
