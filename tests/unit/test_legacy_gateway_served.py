"""The legacy gateway as users run it: ``uvicorn reference.legacy.main:app`` (uvloop, httptools)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 30.0

FUNCTIONS = {
    "defaults": {"scaling": {"max_capacity": 2, "acquire_timeout": 15}},
    "functions": {"echo": {"environment": {"GATEPROOF_FUNCTION": "echo"}}},
}
ROUTES = {"routes": [{"path": "/echo", "method": "POST", "function": "echo"}]}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + LIMIT_S
    for _ in range(int(LIMIT_S / 0.05)):
        if not any(_alive(pid) for pid in pids) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return not any(_alive(pid) for pid in pids)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A legacy gateway under uvicorn on a free port; killed (with its workers) after the test."""
    functions, routing = tmp_path / "functions.yml", tmp_path / "routing.yml"
    functions.write_text(yaml.safe_dump(FUNCTIONS))
    routing.write_text(yaml.safe_dump(ROUTES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    env.update(GATEPROOF_FUNCTIONS_FILE=str(functions), GATEPROOF_ROUTING_FILE=str(routing))
    gateway = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "reference.legacy.main:app", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=REPO_ROOT,
        env=env,
        text=True,
    )
    try:
        assert gateway.stderr is not None
        url = None
        for _ in range(200):  # uvicorn logs a handful of lines before "running on"
            line = gateway.stderr.readline()
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            if found or not line:
                url = found.group(1) if found else None
                break
        assert url, "the legacy gateway did not start"
        threading.Thread(target=gateway.stderr.read, daemon=True).start()  # never let it block
        yield gateway, url
    finally:
        children = []
        if gateway.poll() is None:
            children = [c.pid for c in psutil.Process(gateway.pid).children(recursive=True)]
            gateway.kill()
        gateway.wait(timeout=LIMIT_S)
        assert _wait_gone(children), "workers outlived the legacy gateway"


def test_it_serves_invocations_and_routes_then_stops_its_workers_on_sigterm(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    gateway, url = served
    with httpx.Client(base_url=url, timeout=LIMIT_S) as client:
        invoked = client.post("/2015-03-31/functions/echo/invocations", json={"n": 1})
        routed = client.post("/echo", json={"n": 2})
    assert invoked.json() == {"n": 1}
    assert routed.json()["httpMethod"] == "POST"
    workers = [c.pid for c in psutil.Process(gateway.pid).children(recursive=True)]
    assert workers

    gateway.send_signal(signal.SIGTERM)
    gateway.wait(timeout=LIMIT_S)

    assert _wait_gone(workers)


def test_kill_9_of_the_legacy_gateway_leaves_no_worker(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    gateway, url = served
    with httpx.Client(base_url=url, timeout=LIMIT_S) as client:
        assert client.post("/2015-03-31/functions/echo/invocations", json={}).status_code == 200
    workers = [c.pid for c in psutil.Process(gateway.pid).children(recursive=True)]
    assert workers

    gateway.send_signal(signal.SIGKILL)
    gateway.wait(timeout=LIMIT_S)

    assert _wait_gone(workers)
