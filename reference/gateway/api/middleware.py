"""The one middleware: request id, header checks, access log and request metrics.

Pure ASGI (no ``BaseHTTPMiddleware``), because it runs on every call. It

* keeps a valid ``X-Request-ID`` from the client or makes one, and puts it on
  every response, errors included;
* refuses request headers over the limits of :class:`HeaderLimits` (431), a
  header carrying CR, LF or NUL (422) and a declared body over the limit
  (413) before any route runs;
* turns an unexpected exception into a JSON 500 without a stack trace (the
  trace goes to the log);
* writes one access-log line and records the metrics for every request;
* sends where the call's time went as a ``Server-Timing`` header and puts the
  same split in the access-log line (:mod:`reference.gateway.core.timing`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from reference.gateway.api.responses import error_response
from reference.gateway.core.access_log import log_access
from reference.gateway.core.errors import (
    BadRequest,
    GatewayError,
    HeadersTooLarge,
    PayloadTooLarge,
)
from reference.gateway.core.metrics import GatewayMetrics
from reference.gateway.core.timing import CallTiming
from reference.gateway.services.headers import has_line_break

__all__ = ["GatewayMiddleware", "HeaderLimits", "InternalError"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class InternalError(GatewayError):
    status, code = 500, "internal_error"


class HeaderLimits(NamedTuple):
    """Request header limits; a line counts its name, ``": "`` and its value (no CRLF).

    The server may refuse earlier: uvicorn's h11 parser answers a plain 400 to a
    request head over ``h11_max_incomplete_event_size`` (16 KB); httptools, the
    default with ``uvicorn[standard]``, sets no limit of its own.
    """

    line_bytes: int = 8 * 1024
    total_bytes: int = 32 * 1024
    count: int = 100


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool,
        header_limits: HeaderLimits = HeaderLimits(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.header_limits = header_limits

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope["headers"])
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        timing = state["timing"] = CallTiming()
        tag = (b"x-request-id", request_id.encode())
        status, started_response = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                headers = message.get("headers", ())
                message["headers"] = [h for h in headers if h[0].lower() != b"x-request-id"]
                message["headers"].append(tag)
                split = timing.close(time.perf_counter() - started)
                if split:
                    message["headers"].append((b"server-timing", split))
            await send(message)

        try:
            problem = self._check_request(scope)
            if problem is not None:
                await _send_error(scope, receive, send_with_id, problem)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if not started_response:
                error = InternalError(f"the gateway failed; report request id {request_id}")
                await _send_error(scope, receive, send_with_id, error)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started, timing)

    def _check_request(self, scope: Scope) -> GatewayError | None:
        headers = scope["headers"]
        limits = self.header_limits
        if len(headers) > limits.count:
            return HeadersTooLarge(
                f"{len(headers)} request headers, more than {limits.count} "
                f"(GATEPROOF_MAX_HEADERS); send fewer"
            )
        size = 2 * len(headers)  # ": " on each line
        for name, value in headers:
            size += len(name) + len(value)
            if has_line_break(name) or has_line_break(value):
                return BadRequest(f"header {name.decode('latin-1')!r} contains CR, LF or NUL")
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                return PayloadTooLarge.over(self.max_body_bytes)
        if size > limits.line_bytes:  # only then can one line be over its limit
            return _oversized(headers, size, limits)
        return None

    def _record(
        self, scope: Scope, request_id: str, status: int, duration: float, timing: CallTiming
    ) -> None:
        state = scope["state"]
        function = state.get("function")
        metrics: GatewayMetrics = scope["app"].state.container.metrics
        metrics.observe(function or "-", status, duration)
        if self.access_log:
            log_access(
                request_id,
                scope["method"],
                scope["path"],
                function,
                status,
                duration,
                timing,
                state.get("retries", 0),
            )


def _oversized(
    headers: list[tuple[bytes, bytes]], size: int, limits: HeaderLimits
) -> GatewayError | None:
    for name, value in headers:
        if len(name) + len(value) + 2 > limits.line_bytes:
            return HeadersTooLarge(
                f"request header {name.decode('latin-1')!r} is longer than "
                f"{limits.line_bytes} bytes (GATEPROOF_MAX_HEADER_LINE_BYTES); send less"
            )
    if size > limits.total_bytes:
        return HeadersTooLarge(
            f"the request headers take {size} bytes, more than {limits.total_bytes} "
            f"(GATEPROOF_MAX_HEADER_BYTES); send fewer or shorter headers"
        )
    return None


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


async def _send_error(scope: Scope, receive: Any, send: Any, error: GatewayError) -> None:
    await error_response(error)(scope, receive, send)
