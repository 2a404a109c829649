"""Serve one worker over HTTP: cold start, uvicorn, a ready line, and no orphans.

Why uvicorn with httptools and uvloop around a bare ASGI app: the worker is
the direct-to-worker baseline of the gateway benchmark, so its own overhead
must be small; httptools (llhttp) parses HTTP/1.1 in C and uvloop runs the
event loop on libuv, and both are optional, so the worker still runs (more
slowly) on plain asyncio and h11. Debian ships all three as ``python3-*``
packages, which keeps the worker image free of pip installs.

Start-up protocol, for whoever spawns the worker:

1. the worker waits ``cold_start_ms`` and only then binds its port, so a
   caller can never reach a worker that is still "cold";
2. once it accepts connections it writes one JSON line to stdout,
   ``{"ready": true, "host": ..., "port": ..., "pid": ..., "function": ...}``
   (with ``--port 0`` this is how the spawner learns the port), then points
   its stdout at stderr so nothing else can ever block on that pipe;
3. with ``--exit-with-stdin`` it exits as soon as its stdin reaches end of
   file: the spawner holds the other end of that pipe, and the kernel closes
   it however the spawner dies, ``kill -9`` included.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import IO, NoReturn

import uvicorn

from reference.runtime.app import create_app
from reference.runtime.settings import RuntimeSettings

__all__ = ["CRASH_EXIT_STATUS", "run", "serve"]

CRASH_EXIT_STATUS = 70  # the exit status of a worker told to crash mid-request
_STARTUP_LIMIT_S = 30.0

log = logging.getLogger(__name__)


def _crash() -> NoReturn:
    os._exit(CRASH_EXIT_STATUS)  # no answer, no cleanup: a crash, as seen by the caller


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        return None
    return uvloop.new_event_loop


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - httptools is optional
        return "h11"
    return "httptools"


def _watch_stdin(loop: asyncio.AbstractEventLoop) -> None:
    """Exit the moment stdin hits end of file: the parent that held it is gone."""

    def exit_on_eof() -> bool:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            os._exit(0)  # nobody is left to read our answers
        return True

    try:
        loop.add_reader(0, exit_on_eof)
    except OSError:  # not pollable (a file, /dev/null): block on it in a thread instead
        threading.Thread(target=_read_until_eof, args=(exit_on_eof,), daemon=True).start()


def _read_until_eof(read_once: Callable[[], bool]) -> None:
    while read_once():  # returns only by exiting the process
        pass


async def serve(
    settings: RuntimeSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ready: IO[str] | None = None,
    exit_with_stdin: bool = False,
    log_level: str = "warning",
) -> None:
    """Run the worker until SIGINT/SIGTERM (or stdin EOF with ``exit_with_stdin``)."""
    loop = asyncio.get_running_loop()
    if exit_with_stdin:
        _watch_stdin(loop)
    if settings.cold_start_ms:
        await asyncio.sleep(settings.cold_start_ms / 1000)
    options = {
        "host": host,
        "port": port,
        "http": _http_impl(),
        "lifespan": "off",
        "access_log": False,
        "log_level": log_level,
        "server_header": False,  # two headers less per answer
        "date_header": False,
        "proxy_headers": False,  # no middleware layer: nobody forwards to a worker
        "backlog": 2048,
    }
    accepted = inspect.signature(uvicorn.Config).parameters  # older uvicorns (Debian's) lack some
    config = uvicorn.Config(
        create_app(settings=settings, on_crash=_crash),
        **{name: value for name, value in options.items() if name in accepted},
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(_STARTUP_LIMIT_S):
        while not server.started:
            if serving.done():
                await serving  # raises the start-up error; a clean return means it gave up
                raise SystemExit(f"the worker could not listen on {host}:{port}")
            await asyncio.sleep(0.002)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    if ready is not None:
        _announce(ready, host, bound_port, settings.function)
    await serving


def _announce(stream: IO[str], host: str, port: int, function: str) -> None:
    line = {"ready": True, "host": host, "port": port, "pid": os.getpid(), "function": function}
    stream.write(json.dumps(line) + "\n")
    stream.flush()
    if stream is sys.stdout:
        with contextlib.suppress(OSError):
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


def run(
    settings: RuntimeSettings,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    exit_with_stdin: bool = False,
    log_level: str = "warning",
) -> int:
    """Serve on the fastest available event loop; returns the exit status."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(
            serve(
                settings,
                host,
                port,
                ready=sys.stdout,
                exit_with_stdin=exit_with_stdin,
                log_level=log_level,
            )
        )
    return 0
