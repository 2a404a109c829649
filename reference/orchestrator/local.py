"""Run the orchestrator as a local process on 127.0.0.1, for suites and benchmarks.

A local process starts in about a second and is easy to kill and restart on
the same port (the restart scenarios need that); the orchestrator image runs
the same code with the Docker socket mounted.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

__all__ = ["OrchestratorProcess", "free_port", "wait_until"]

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], deadline: float, step: float = 0.5) -> T | None:
    """Call ``probe`` every ``step`` seconds until it returns a value or ``deadline`` seconds pass.

    The value, or None when the deadline passed first; an exception ``probe``
    raises ends the wait with it.
    """
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value is not None or time.monotonic() >= end:
            return value
        time.sleep(step)


def free_port() -> int:
    """A port nobody listens on right now, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OrchestratorProcess:
    """``python -m reference.orchestrator`` as a child process; ``stop`` always reaps it."""

    def __init__(
        self,
        *,
        instance: str,
        port: int | None = None,
        labels: dict[str, str] | None = None,
        log_path: Path | None = None,
        **settings: object,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GATEPROOF_ORCHESTRATOR_INSTANCE": instance}
        # the token callers must send: the environment's, else a new one for this process
        self.token = env.get("GATEPROOF_ORCHESTRATOR_TOKEN") or secrets.token_urlsafe(32)
        env["GATEPROOF_ORCHESTRATOR_TOKEN"] = self.token
        env["GATEPROOF_ORCHESTRATOR_EXTRA_LABELS"] = json.dumps(labels or {})
        for key, value in settings.items():
            env[f"GATEPROOF_ORCHESTRATOR_{key.upper()}"] = str(value)
        self._env = env
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """What a client sends to be served."""
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, deadline: float = 20.0) -> OrchestratorProcess:
        """Start it and wait until ``/health`` answers (it has cleaned its leftovers by then)."""
        sink = self._log_path.open("ab") if self._log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference.orchestrator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self._env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        if self._log_path:
            sink.close()  # type: ignore[union-attr]
        if wait_until(self._healthy, deadline, step=0.1):
            return self
        self.stop()
        raise RuntimeError(f"the orchestrator did not answer on {self.url} within {deadline:g}s")

    def _healthy(self) -> bool | None:
        """True once ``/health`` answers; raises when the process has exited."""
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(
                f"the orchestrator exited with {self._process.returncode} at start"
                + (f"; see {self._log_path}" if self._log_path else "")
            )
        try:
            if httpx.get(f"{self.url}/health", timeout=0.5, trust_env=False).is_success:
                return True
        except httpx.HTTPError:
            pass
        return None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """End it at once, as a crash would (no shutdown steps run)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def __enter__(self) -> OrchestratorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
