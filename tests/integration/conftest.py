"""Real Docker, real Redis: the fixtures every integration test stands on.

Without an engine the whole suite skips with one line saying how to enable
it; with ``CI=true`` a missing engine is a failure (CI must run these). The
images are built (idempotently) once per session. Every container the suite
makes carries the label ``org.gateproof.suite=integration`` and is removed at
the start (leftovers of a crashed run) and at the end, pass or fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from gateproof.docker.engine import (
    EngineUnavailableError,
    enable_hint,
    engine_answers,
    ensure_engine,
)
from gateproof.docker.images import build_all
from gateproof.docker.redis_server import RedisServer
from gateproof.docker.testcontainers_env import configure_testcontainers
from gateproof.testing.ci import in_ci
from reference.orchestrator.cleanup import SUITE_LABEL, remove_labelled, suite_labels
from reference.orchestrator.local import OrchestratorProcess

# Ryuk off, docker_host connection mode, unless set already: before any test
# imports testcontainers (RedisServer imports it lazily, after this too).
configure_testcontainers()

SUITE = "integration"
LABELS = suite_labels(SUITE)
IN_CI = in_ci()
HERE = Path(__file__).parent


def _skip_reason() -> str:
    return (
        f"integration suite needs Docker: {enable_hint()}, then `gateproof images`; "
        f"CI=true makes this a failure"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the suite; locally without an engine, keep one skipped test (one line) and
    deselect the rest, so the report says what to do exactly once."""
    ours = [item for item in items if HERE in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
    if not ours or IN_CI or engine_answers():
        return
    ours[0].add_marker(pytest.mark.skip(reason=_skip_reason()))
    rest = set(map(id, ours[1:]))
    config.hook.pytest_deselected(items=ours[1:])
    items[:] = [item for item in items if id(item) not in rest]


def pytest_report_header(config: pytest.Config) -> str | None:
    if not IN_CI and not engine_answers():
        return f"integration: no Docker engine answers, the suite is skipped; {enable_hint()}"
    return None


@pytest.fixture(scope="session", autouse=True)
def orchestrator_token() -> Iterator[str]:
    """One token for the session: every orchestrator process serves it (it reads
    ``GATEPROOF_ORCHESTRATOR_TOKEN``) and every Docker backend sends it (it reads
    ``GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN``), as a deployment would configure both."""
    token = secrets.token_urlsafe(32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEPROOF_ORCHESTRATOR_TOKEN", token)
        patch.setenv("GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN", token)
        yield token


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The engine (started here in CI when none answers), or one skip line locally."""
    try:
        status = ensure_engine(allow_start=IN_CI)
    except EngineUnavailableError as error:
        if IN_CI:
            pytest.fail(f"CI=true but no Docker engine: {error}", pytrace=False)
        pytest.skip(_skip_reason())
    if status.started:
        print(status.describe())
    client = docker.from_env()
    remove_labelled(client, SUITE_LABEL, SUITE)  # leftovers of an earlier run
    try:
        yield client
    finally:
        remove_labelled(client, SUITE_LABEL, SUITE)
        client.close()


@pytest.fixture(scope="session")
def labels() -> dict[str, str]:
    """Labels for any container a test makes by hand: the suite removes them afterwards."""
    return dict(LABELS)


@pytest.fixture(scope="session")
def images(docker_client: docker.DockerClient) -> None:
    """Base, runtime, orchestrator and redis images; a no-op when up to date."""
    build_all(log=lambda line: None)


@pytest.fixture(autouse=True)
def _remove_containers_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "docker_client" in request.fixturenames:
        client = request.getfixturevalue("docker_client")
        remove_labelled(client, SUITE_LABEL, SUITE)


# -- Redis ------------------------------------------------------------------


@pytest.fixture
def redis_server(images: None) -> Iterator[RedisServer]:
    server = RedisServer(LABELS).start()
    try:
        yield server
    finally:
        server.remove()


# -- orchestrator -------------------------------------------------------------

OrchestratorFactory = Callable[..., OrchestratorProcess]


def _orchestrators(logs: Path) -> tuple[OrchestratorFactory, list[OrchestratorProcess]]:
    started: list[OrchestratorProcess] = []

    def start(instance: str = "itest", **settings: object) -> OrchestratorProcess:
        settings.setdefault("ready_timeout", 20)
        process = OrchestratorProcess(
            instance=instance,
            labels=LABELS,
            log_path=logs / f"orchestrator-{instance}-{len(started)}.log",
            **settings,
        )
        started.append(process)
        return process.start()

    return start, started


@pytest.fixture
def orchestrator_factory(images: None, tmp_path: Path) -> Iterator[OrchestratorFactory]:
    """Start local orchestrator processes labelled for this suite; all stopped afterwards."""
    start, started = _orchestrators(tmp_path)
    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="module")
def orchestrator(
    images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OrchestratorProcess]:
    """One orchestrator (instance ``itest``) shared by a module's tests; each test's
    containers are still removed after it."""
    start, started = _orchestrators(tmp_path_factory.mktemp("orchestrator"))
    try:
        yield start()
    finally:
        for process in started:
            process.stop()
