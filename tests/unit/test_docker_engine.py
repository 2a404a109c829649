"""Without a Docker engine, the message says exactly what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateproof.cli import EXIT_ENVIRONMENT, main
from gateproof.docker.engine import EngineUnavailableError, ensure_engine
from reference.orchestrator.local import wait_until


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, dockerd or apt-get on it


def test_without_docker_and_without_leave_to_start_one_the_error_says_how(no_docker) -> None:
    with pytest.raises(EngineUnavailableError) as error:
        ensure_engine(allow_start=False)
    message = str(error.value)
    assert "docker is not installed" in message
    assert "gateproof docker up" in message and "systemctl start docker" in message


def test_docker_up_exits_3_with_the_instructions(
    no_docker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["docker", "up", "--no-start"]) == EXIT_ENVIRONMENT
    assert "gateproof docker up" in capsys.readouterr().err


def test_images_exits_3_when_no_engine_answers(
    no_docker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["images", "--no-start"]) == EXIT_ENVIRONMENT
    err = capsys.readouterr().err
    assert "docker is not installed" in err and "gateproof docker up" in err


def test_images_rejects_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images", "nginx"]) == 2
    assert "choose from runtime, orchestrator, redis" in capsys.readouterr().err


def test_wait_until_returns_the_first_value_the_probe_gives() -> None:
    answers = iter([None, None, 7])
    assert wait_until(lambda: next(answers), deadline=5, step=0) == 7


def test_wait_until_gives_none_once_the_deadline_has_passed() -> None:
    calls = []
    assert wait_until(lambda: calls.append(1), deadline=0.05, step=0.01) is None
    assert calls  # probed at least once, then stopped


def test_wait_until_lets_the_probe_end_the_wait_with_an_error() -> None:
    def probe() -> None:
        raise RuntimeError("exited at start")

    with pytest.raises(RuntimeError, match="exited at start"):
        wait_until(probe, deadline=5)
