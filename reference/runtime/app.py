"""The worker's HTTP surface as a bare ASGI app: no framework in the hot path.

Routes, compatible with the Lambda Runtime Interface Emulator's invoke path:

* ``POST /2015-03-31/functions/{name}/invocations``: run the function on the
  request body (the event) and answer with its result; ``name`` is ignored,
  as the emulator ignores it;
* ``GET /health``: ``200 {"status": "ok", "function": ...}`` once the worker
  serves (the server only starts listening after its cold start).

Anything else is a JSON 404 or 405. This app is the direct-to-worker baseline
of ``gateproof bench gateway``, so it is a plain callable: a router or
middleware stack would cost more than the function itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn

from reference.runtime.functions import Reply, WorkerCrash, build_handler, json_reply
from reference.runtime.settings import LatencyDistribution, RuntimeSettings

__all__ = ["HEALTH_PATH", "INVOKE_PATH", "MAX_EVENT_BYTES", "RuntimeApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
HEALTH_PATH = "/health"
MAX_EVENT_BYTES = 16 * 1024 * 1024  # above Lambda's 6 MB: the gateway enforces the real limit
_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"
_JSON = b"application/json"


class _TooLarge(Exception):
    pass


def _raise_crash() -> NoReturn:
    # In-process there is no process to kill: fail the call as a dropped connection would.
    raise ConnectionResetError("the worker crashed mid-request (fail_mode=crash)")


class RuntimeApp:
    """The ASGI app of one worker; ``on_crash`` decides what a crash means here."""

    def __init__(
        self, settings: RuntimeSettings, *, on_crash: Callable[[], NoReturn] = _raise_crash
    ) -> None:
        self.settings = settings
        self._handler = build_handler(settings)
        self._on_crash = on_crash
        self._health = json_reply(200, {"status": "ok", "function": settings.function})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX):
            if method != "POST":
                reply = json_reply(405, {"error": "method not allowed: invoke with POST"})
            else:
                reply = await self._invoke(receive)
        elif path == HEALTH_PATH:
            reply = (
                self._health if method in ("GET", "HEAD") else json_reply(405, {"error": "use GET"})
            )
        else:
            reply = json_reply(
                404, {"error": f"no route {path}: POST {_INVOKE_PREFIX}function/..."}
            )
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", _JSON),
                    (b"content-length", str(len(reply.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    async def _invoke(self, receive: Receive) -> Reply:
        try:
            event = await _read_body(receive)
        except _TooLarge:
            return json_reply(413, {"error": f"event larger than {MAX_EVENT_BYTES} bytes"})
        try:
            return await self._handler(event)
        except WorkerCrash:
            self._on_crash()


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body  # the common case: one message, no copy
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_EVENT_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(
    function: str | None = None,
    *,
    settings: RuntimeSettings | None = None,
    on_crash: Callable[[], NoReturn] = _raise_crash,
    **options: Any,
) -> RuntimeApp:
    """A worker app, e.g. ``create_app("sleep", sleep_distribution="uniform:5:20")``.

    ``options`` are :class:`RuntimeSettings` fields; a ``sleep_distribution``
    may be given as text. Without ``settings`` or ``options`` the worker runs
    ``function`` (default ``echo``) with default settings. In-process, a
    ``crash`` failure raises :class:`ConnectionResetError` from the app.
    """
    if settings is None:
        distribution = options.get("sleep_distribution")
        if isinstance(distribution, str):
            options["sleep_distribution"] = LatencyDistribution.parse(distribution)
        settings = RuntimeSettings(function=function or "echo", **options)
    elif function is not None or options:
        raise TypeError("give either settings or function/options, not both")
    return RuntimeApp(settings, on_crash=on_crash)
