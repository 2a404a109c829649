"""The built-in functions a worker can run: ``echo``, ``sleep``, ``fail`` and ``cpu``.

Each takes the raw event and returns a :class:`Reply`; none knows about HTTP
servers, so the same code answers through uvicorn and through an in-process
``httpx.ASGITransport``.

A call may override the worker's settings from its payload, so one worker
can exercise many cases. Options are read from the event object, or, for a
Lambda proxy event from the gateway's routed API, from the JSON object in its
``body``:

* ``sleep``: ``{"sleep_ms": 50}``; ``{"fail": true}`` answers a logical error after the
  sleep and ``{"crash": true}`` kills the worker after it (a load generator replays a
  scenario's error rate and fault windows this way, with the latency still spent)
* ``fail``: ``{"fail": true}`` (force; ``false`` never fails), ``"fail_rate"``,
  ``"fail_mode"`` (``error``, ``status``, ``crash``), ``"fail_status"``
* ``cpu``: ``{"cpu_ms": 20}``; the burn holds the worker's only thread, as a
  single-threaded function would, so the worker answers nothing else meanwhile

A bad option is the function's own error: a 200 with ``errorType``, as Lambda
reports a handler exception.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reference.runtime.settings import RuntimeSettings

__all__ = ["MAX_DURATION_MS", "Handler", "Reply", "WorkerCrash", "build_handler", "json_reply"]

MAX_DURATION_MS = 600_000.0  # no single call sleeps or burns for more than ten minutes


class WorkerCrash(Exception):
    """The call asked the worker to die without answering (``fail_mode`` ``crash``)."""


class _BadOption(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


Handler = Callable[[bytes], Awaitable[Reply]]


def json_reply(status: int, value: Any) -> Reply:
    """``value`` as compact JSON, with ``status``."""
    return Reply(status, json.dumps(value, separators=(",", ":")).encode())


def _error(error_type: str, message: str, status: int = 200) -> Reply:
    return json_reply(status, {"errorType": error_type, "errorMessage": message, "stackTrace": []})


def _options(event: bytes) -> dict[str, Any]:
    """The call's options: the event object, or the JSON object in a proxy event's body."""
    try:
        value = json.loads(event) if event else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(value, dict):
        return {}
    body = value.get("body")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            inner = json.loads(body)
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            return {**value, **inner}
    return value


def _duration(options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise _BadOption(f"{key} must be a non-negative number of milliseconds, got {value!r}")
    return min(float(value), MAX_DURATION_MS)


def _burn(cpu_ms: float) -> int:
    """Burn ``cpu_ms`` of this thread's CPU time (bounded by wall time too); returns rounds."""
    start_cpu = time.thread_time()
    wall_deadline = time.monotonic() + cpu_ms / 1000 * 20 + 1.0  # even when starved of CPU
    digest = b"gateproof"
    rounds = 0
    while time.thread_time() - start_cpu < cpu_ms / 1000 and time.monotonic() < wall_deadline:
        for _ in range(200):
            digest = hashlib.sha256(digest).digest()
        rounds += 1
    return rounds


def build_handler(settings: RuntimeSettings) -> Handler:
    """The handler of ``settings.function``, with its own random stream."""
    rng = random.Random(settings.seed)

    async def echo(event: bytes) -> Reply:
        return Reply(200, event or b"{}")

    async def sleep(event: bytes) -> Reply:
        options = _options(event)
        if "sleep_ms" in options:
            delay_ms = _duration(options, "sleep_ms", 0.0)
        elif settings.sleep_distribution is not None:
            delay_ms = min(settings.sleep_distribution.sample(rng), MAX_DURATION_MS)
        else:
            delay_ms = settings.sleep_ms
        await asyncio.sleep(delay_ms / 1000)
        if options.get("crash") is True:
            raise WorkerCrash("the call asked the worker to crash")
        if options.get("fail") is True:
            return _error("InjectedFailure", f"injected failure after {delay_ms:.3f} ms")
        return json_reply(200, {"slept_ms": round(delay_ms, 3)})

    async def fail(event: bytes) -> Reply:
        options = _options(event)
        forced = options.get("fail")
        rate = options.get("fail_rate", settings.fail_rate)
        if not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise _BadOption(f"fail_rate must be a number in [0, 1], got {rate!r}")
        failing = forced if isinstance(forced, bool) else rng.random() < rate
        if not failing:
            return Reply(200, event or b"{}")
        mode = options.get("fail_mode", settings.fail_mode)
        if mode == "crash":
            raise WorkerCrash("the call asked the worker to crash")
        if mode == "status":
            status = options.get("fail_status", settings.fail_status)
            if not isinstance(status, int) or not 500 <= status <= 599:
                raise _BadOption(f"fail_status must be a 5xx status code, got {status!r}")
            return _error("InjectedFailure", "injected failure (status mode)", status)
        if mode != "error":
            raise _BadOption(f"fail_mode must be error, status or crash, got {mode!r}")
        return _error("InjectedFailure", "injected failure (error mode)")

    async def cpu(event: bytes) -> Reply:
        cpu_ms = _duration(_options(event), "cpu_ms", settings.cpu_ms)
        started = time.thread_time()
        rounds = _burn(cpu_ms)
        used_ms = (time.thread_time() - started) * 1000
        return json_reply(200, {"cpu_ms": round(used_ms, 3), "rounds": rounds})

    handler = {"echo": echo, "sleep": sleep, "fail": fail, "cpu": cpu}[settings.function]
    if handler is echo:
        return echo  # the benchmark baseline: not one await more than needed

    async def guarded(event: bytes) -> Reply:
        try:
            return await handler(event)
        except _BadOption as error:
            return _error("InvalidPayload", str(error))

    return guarded
