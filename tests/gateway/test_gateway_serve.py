"""`gateproof serve` as a user runs it: sample configs, process backend, no Docker."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.timeout(90)

# The console script `gateproof`, run with this interpreter.
SERVE = [sys.executable, "-m", "gateproof", "serve"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}


def _wait_for_port(process: subprocess.Popen[str]) -> int:
    assert process.stderr is not None
    for _ in range(50):  # bounded: the banner is the first line
        line = process.stderr.readline()
        found = re.search(r"gateway on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
        if not line:
            break
    raise AssertionError(f"serve did not start (exit status {process.poll()})")


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the gateway never became healthy")


def test_serve_answers_an_echo_invocation_and_a_routed_request_then_stops_cleanly() -> None:
    process = subprocess.Popen(
        [*SERVE, "--port", "0", "--no-access-log"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        base = f"http://127.0.0.1:{_wait_for_port(process)}"
        _wait_healthy(base)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the echo pool keeps one warm worker process"
        echo = httpx.post(base + "/2015-03-31/functions/echo/invocations", json={"hi": 1})
        assert echo.status_code == 200 and echo.json() == {"hi": 1}
        assert echo.headers["x-request-id"]
        routed = httpx.get(base + "/items/7?x=1", timeout=30)
        assert routed.status_code == 200
        assert routed.json()["pathParameters"] == {"id": "7"}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(30)
        process.stderr.close()  # type: ignore[union-attr]
    assert code == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], "a worker process outlived `gateproof serve`"


def test_serve_refuses_a_broken_functions_file_with_exit_status_2(tmp_path: Path) -> None:
    broken = tmp_path / "functions.yml"
    broken.write_text("functions:\n  echo: {imgae: x}\n")
    done = subprocess.run(
        [*SERVE, "--port", "0", "--functions", str(broken)],
        env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert str(broken) in done.stderr and "functions.echo.imgae" in done.stderr


def test_serve_reports_a_busy_port_with_exit_status_3() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        done = subprocess.run(
            [*SERVE, "--port", str(port)], env=_env(), capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 3 and "in use" in done.stderr


def test_serve_writes_one_json_access_line_per_call_on_stdout_as_calls_end() -> None:
    """The lines `serve` writes itself (batched per loop turn), each there before the next call."""
    process = subprocess.Popen(
        [*SERVE, "--port", "0"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{_wait_for_port(process)}"
        _wait_healthy(base)
        assert process.stdout is not None
        lines = []
        invoke = base + "/2015-03-31/functions/echo/invocations"
        for request_id, url in [("call-1", invoke), ("call-2", base + "/nowhere")]:
            answer = httpx.post(url, json={"n": 1}, headers={"X-Request-ID": request_id})
            for _ in range(50):  # bounded: skip the health checks' lines
                line = json.loads(process.stdout.readline())
                if line["request_id"] == request_id:
                    lines.append((answer.status_code, line))
                    break
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(30)
        for pipe in (process.stdout, process.stderr):
            pipe.close()  # type: ignore[union-attr]
    (ok, first), (missing, second) = lines
    assert list(first) == [
        "ts", "request_id", "method", "path", "function", "status", "duration_ms",
        "queue_ms", "hold_ms", "svc_ms", "gw_ms",
    ]  # fmt: skip
    assert (first["path"], first["function"], first["status"]) == (
        "/2015-03-31/functions/echo/invocations", "echo", ok,
    )  # fmt: skip
    assert (second["path"], second["function"], second["status"]) == ("/nowhere", None, missing)
    assert abs(first["ts"] - time.time()) < 60 and first["duration_ms"] >= 0
