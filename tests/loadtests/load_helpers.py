"""Run `gateproof load` as a user does (a child process) and read what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# A small open workload: 60 req/s of a 10 ms function on a warm pool of 4 (utilisation 0.15),
# and 15 req/s on a routed path; short enough for a test, long enough for 10% accuracy.
SMALL = """\
name: small
duration: 14
warmup: 2
seed: 11
replications: 3
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 4, acquire_timeout: 2.0, idle_timeout: 300}
    service: {kind: constant, value: 0.010}
    cold_start: {kind: constant, value: 0.2}
  resize:
    scaling: {max_capacity: 3, min_capacity: 3, acquire_timeout: 2.0, idle_timeout: 300}
    service: {kind: gamma, shape: 4, scale: 0.005}
workload:
  echo:
    arrivals: {kind: poisson, rate: 60}
    payload: {message: hello}
  resize:
    arrivals: {kind: poisson, rate: 15}
    path: /images/resize
slo: {p99: 2.0, error_rate: 0.05}
"""


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    out: Path

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.out / "load.json").read_text())

    def files(self) -> set[str]:
        return {path.name for path in self.out.iterdir()}


def write_scenario(folder: Path, text: str = SMALL, name: str = "small.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def gateproof(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Any gateproof command as a user runs it, in a child process, its output captured."""
    argv = [sys.executable, "-m", "gateproof", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def gateproof_load(*args: str | Path, out: Path, timeout: float = 150) -> Run:
    """``gateproof load ARGS --out OUT``; the run must end by itself well within ``timeout``."""
    argv = [sys.executable, "-m", "gateproof", "load", *map(str, args), "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr, out)


@dataclass
class Recorder:
    """A stand-in for staging on 127.0.0.1: answers 200 and records every request."""

    url: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            recorder.requests.append({k.lower(): v for k, v in self.headers.items()})
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
