"""The runtime served by ``python -m reference.runtime``: start-up, cold start, exit paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from reference.runtime import INVOKE_PATH

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 20.0


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Workers a test starts; every one is gone after the test, pass or fail."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
    assert not [p for p in processes if psutil.pid_exists(p.pid) and _not_zombie(p.pid)]


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start(
    spawned: list[subprocess.Popen[bytes]], *args: str, **env: str
) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    environment.update(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "reference.runtime", "--port", "0", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=REPO_ROOT,
    )
    spawned.append(process)
    return process


def ready_line(process: subprocess.Popen[bytes]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()  # the worker writes it, or exits and closes stdout
    assert line, f"no ready line; stderr: {process.stderr.read() if process.stderr else ''}"
    return json.loads(line)


def test_the_worker_reports_its_port_and_serves_the_invoke_path(spawned: list) -> None:
    process = start(spawned, GATEPROOF_FUNCTION="echo")
    ready = ready_line(process)
    assert ready["ready"] is True
    assert ready["pid"] == process.pid
    assert ready["function"] == "echo"
    url = f"http://127.0.0.1:{ready['port']}"
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post(INVOKE_PATH, content=b'{"n":1}').json() == {"n": 1}
        assert client.get("/health").json()["status"] == "ok"


def test_the_function_flag_overrides_the_environment(spawned: list) -> None:
    process = start(spawned, "--function", "fail", GATEPROOF_FUNCTION="echo")
    assert ready_line(process)["function"] == "fail"


def test_the_worker_only_reports_ready_after_its_cold_start(spawned: list) -> None:
    started = time.monotonic()
    process = start(spawned, GATEPROOF_COLD_START_MS="600")
    ready_line(process)
    assert time.monotonic() - started >= 0.6


def test_the_worker_exits_when_its_stdin_closes(spawned: list) -> None:
    process = start(spawned, "--exit-with-stdin")
    ready_line(process)
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=STARTUP_LIMIT_S) == 0


def test_the_worker_stops_on_sigterm(spawned: list) -> None:
    process = start(spawned)
    ready_line(process)
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then (since 0.29) re-raises the signal it caught
    assert process.wait(timeout=STARTUP_LIMIT_S) in (0, -signal.SIGTERM)


def test_a_crash_drops_the_connection_and_ends_the_process(spawned: list) -> None:
    process = start(spawned, GATEPROOF_FUNCTION="fail", GATEPROOF_FAIL_MODE="crash")
    port = ready_line(process)["port"]
    with httpx.Client(timeout=10) as client, pytest.raises(httpx.TransportError):
        client.post(f"http://127.0.0.1:{port}{INVOKE_PATH}", content=b"{}")
    assert process.wait(timeout=STARTUP_LIMIT_S) == 70


def test_bad_settings_stop_the_worker_before_it_listens(spawned: list) -> None:
    process = start(spawned, GATEPROOF_FUNCTION="fail", GATEPROOF_FAIL_RATE="lots")
    assert process.wait(timeout=STARTUP_LIMIT_S) == 2
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read() == b""
    assert b"GATEPROOF_FAIL_RATE" in process.stderr.read()


def test_exit_with_stdin_also_works_when_stdin_cannot_be_polled(spawned: list) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "reference.runtime", "--port", "0", "--exit-with-stdin"],
        stdin=subprocess.DEVNULL,  # at end of file from the start, and not pollable
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=REPO_ROOT,
    )
    spawned.append(process)
    assert process.wait(timeout=STARTUP_LIMIT_S) == 0
    assert process.stderr is not None
    assert b"Traceback" not in process.stderr.read()
