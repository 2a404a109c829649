"""The gateway with one feature switched off, for `gateproof bench gateway --breakdown`.

Why: a profile of the gateway shows no hotspot, only many small costs spread
over coroutine frames; it cannot say what one feature costs per call. Running
the same ``gateproof serve`` with one feature replaced by the least it could
be, and measuring it in the same run as the whole gateway, can.

Each switch is a patch applied in the child process before ``serve`` builds
the app, so the product's code carries no benchmark hooks. A switched-off
gateway still answers every call of the benchmark with the worker's body and
status; what it stops doing (counting, logging, guarding) is the feature.
The one switch the product has itself, ``--no-access-log``, is used as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import types
from collections.abc import Callable
from typing import Any

__all__ = ["SWITCHES", "serve_without"]


def _patch(owner: object, name: str, value: object) -> None:
    setattr(owner, name, value)


def _no_metrics() -> None:
    from reference.gateway.core.metrics import GatewayMetrics

    _patch(GatewayMetrics, "observe", lambda self, function, status, seconds: None)


def _no_breaker() -> None:
    from reference.gateway.core.breaker import CircuitBreaker

    _patch(CircuitBreaker, "allow", lambda self: True)
    _patch(CircuitBreaker, "epoch", property(lambda self: 0))
    for name in ("record_success", "record_failure", "record_ignored"):
        _patch(CircuitBreaker, name, lambda self, epoch=None: None)


def _no_pool() -> None:
    """Workers handed out round-robin: no ledger, no waiters, no liveness check, no release."""
    from reference.gateway.backends.process import ProcessBackend

    rings: dict[tuple[int, str], Any] = {}
    lock = asyncio.Lock()

    async def acquire_worker(self: ProcessBackend, function: str) -> Any:
        ring = rings.get((id(self), function))
        if ring is None:
            async with lock:
                ring = rings.get((id(self), function))
                if ring is None:
                    pool = self.pools.pool(function)
                    taken = [await pool.acquire() for _ in range(pool.config.max_capacity)]
                    ring = rings[(id(self), function)] = itertools.cycle(taken)
        return next(ring)

    async def release_worker(self: ProcessBackend, function: str, worker: Any) -> None:
        return None

    _patch(ProcessBackend, "acquire_worker", acquire_worker)
    _patch(ProcessBackend, "release_worker", release_worker)


def _no_timeout() -> None:
    from reference.gateway.services import invoker

    no_timeout = types.SimpleNamespace(
        timeout=lambda seconds: contextlib.nullcontext(),
        timeout_at=lambda when: contextlib.nullcontext(),
        get_running_loop=asyncio.get_running_loop,
        shield=asyncio.shield,
    )
    _patch(invoker, "asyncio", no_timeout)


def _no_request_id() -> None:
    """A fixed id: no header scan for the client's id, no uuid4."""
    from reference.gateway.api import middleware

    _patch(middleware, "_request_id", lambda headers: "0" * 32)


def _no_header_checks() -> None:
    from reference.gateway.api.middleware import GatewayMiddleware

    _patch(GatewayMiddleware, "_check_request", lambda self, scope: None)


def _no_framework() -> None:
    """uvicorn calls the gateway's own outermost layer directly: no framework layer before it."""
    from fastapi import FastAPI

    from reference.gateway.api.middleware import GatewayMiddleware
    from reference.gateway.api.shortcut import RouteShortcut

    original = FastAPI.__call__

    async def call(self: FastAPI, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        layer: Any = self.middleware_stack
        for _ in range(20):  # the stack is a handful of layers deep
            if isinstance(layer, GatewayMiddleware | RouteShortcut):
                break
            layer = layer.app
        scope["app"] = self
        await layer(scope, receive, send)

    _patch(FastAPI, "__call__", call)


def _no_request_parsing() -> None:
    """The call's context read straight from the ASGI scope, not through Starlette's Request."""
    from reference.gateway.api.routers import lambda_api
    from reference.gateway.models import InputContext

    async def context(request: Any, limit: int) -> InputContext:
        scope, body, more = request.scope, b"", True
        while more:
            message = await request.receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = scope["state"]["request_id"]
        headers["x-request-id"] = request_id
        return InputContext(
            path=scope["path"], method=scope["method"], headers=headers, query_params={},
            body=body, user_id=None, request_id=request_id,
            path_params=scope["path_params"], client=None,
        )  # fmt: skip

    _patch(lambda_api, "request_to_context", context)


def _no_response_building() -> None:
    """The answer sent as two ASGI messages, with no Starlette ``Response`` in between."""
    from reference.gateway.api.routers import lambda_api

    class Raw:
        def __init__(self, result: Any) -> None:
            self.result = result

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            body = self.result.payload or b""
            headers = [(b"content-type", b"application/json"),
                       (b"content-length", str(len(body)).encode())]  # fmt: skip
            status = self.result.status_code
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    _patch(lambda_api, "result_to_response", Raw)


def _no_header_forwarding() -> None:
    """No request headers to the worker, none of the worker's back to the client."""
    from reference.gateway.services import invoker

    _patch(invoker, "forwarded_headers", lambda headers: {})
    _patch(invoker, "strip_hop_by_hop", lambda headers: {})


def _no_admission() -> None:
    """No function-name check, access policy or rate limiter call (none is configured here)."""
    from reference.gateway.services.processor import GatewayRequestProcessor

    async def admit(self: GatewayRequestProcessor, name: str, context: Any) -> None:
        return None

    _patch(GatewayRequestProcessor, "_admit", admit)


def _no_server_timing() -> None:
    """No split measured: no clock reads per stage, no header, nulls in the access log."""
    from reference.gateway.api import context, middleware
    from reference.gateway.core.timing import CallTiming

    class Untimed(CallTiming):
        __slots__ = ()

        def close(self, total: float) -> bytes:
            return b""

    _patch(middleware, "CallTiming", Untimed)
    original = context.request_to_context

    async def untimed_context(request: Any, limit: int) -> Any:
        built = await original(request, limit)
        built.timing = None  # the invoker then reads no clock
        return built

    from reference.gateway.api.routers import lambda_api

    _patch(lambda_api, "request_to_context", untimed_context)


# name: (what is switched off, the patch; None: the product's own --no-access-log)
SWITCHES: dict[str, tuple[str, Callable[[], None] | None]] = {
    "access-log": ("access log (JSON line per call)", None),
    "metrics": ("metrics (counter and histogram)", _no_metrics),
    "breaker": ("circuit breaker", _no_breaker),
    "pool": ("pool (round-robin instead)", _no_pool),
    "timeout": ("per-call timeout", _no_timeout),
    "request-id": ("request id (fixed instead)", _no_request_id),
    "header-checks": ("header checks (CR/LF/NUL, size)", _no_header_checks),
    "header-forwarding": ("header filtering both ways", _no_header_forwarding),
    "admission": ("admission (name, auth, rate limit)", _no_admission),
    "request-parsing": ("request parsing (Starlette)", _no_request_parsing),
    "response-building": ("response building (Starlette)", _no_response_building),
    "framework": ("framework layers before the gateway's", _no_framework),
    "server-timing": ("Server-Timing split (header, log)", _no_server_timing),
}


def serve_without(feature: str, serve_argv: list[str]) -> int:
    """Run ``gateproof serve *serve_argv`` with ``feature`` switched off."""
    from gateproof.cli import main

    if feature not in SWITCHES:
        raise SystemExit(f"unknown feature {feature!r}; known: {', '.join(SWITCHES)}")
    patch = SWITCHES[feature][1]
    if patch is None:
        serve_argv = [*serve_argv, "--no-access-log"]
    else:
        patch()
    return main(["serve", *serve_argv])
