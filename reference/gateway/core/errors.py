"""Every error the gateway answers with: one stable ``code``, one status, one message.

A :class:`GatewayError` is raised anywhere below the API and turned into a
response in one place (:func:`GatewayError.body`); clients may match on
``code``, never on ``message``. ``retry_after`` becomes the ``Retry-After``
header of a 429 or 503.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = [
    "BackendUnavailable",
    "BadRequest",
    "BreakerOpen",
    "Forbidden",
    "FunctionError",
    "GatewayError",
    "HeadersTooLarge",
    "InvalidFunctionName",
    "MethodNotAllowed",
    "NoCapacity",
    "PayloadTooLarge",
    "RateLimited",
    "RouteNotFound",
    "Unauthorized",
    "UnknownFunction",
    "WorkerError",
    "WorkerTimeout",
    "WorkerUnreachable",
]


class GatewayError(Exception):
    """Base of the answered errors; subclasses fix ``status`` and ``code``."""

    status: int = 500
    code: str = "internal_error"
    retries: int = 0  # times the call was sent again first (its request never reached a worker)

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def body(self) -> bytes:
        """The JSON body every error response carries."""
        return json.dumps({"code": self.code, "message": self.message}).encode()

    def headers(self) -> dict[str, str]:
        """The headers this error adds (``Retry-After``, ``X-Amz-Function-Error``)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after + 0.499)))}

    def response_headers(self) -> dict[str, str]:
        """Every header of the error response: the JSON content type, then :meth:`headers`."""
        return {"content-type": "application/json", **self.headers()}


class BadRequest(GatewayError):
    status, code = 422, "bad_request"


class InvalidFunctionName(GatewayError):
    status, code = 422, "invalid_function_name"


class UnknownFunction(GatewayError):
    status, code = 404, "function_not_found"


class RouteNotFound(GatewayError):
    status, code = 404, "route_not_found"


class MethodNotAllowed(GatewayError):
    """The path exists, not for this method; ``Allow`` names its methods (RFC 9110 15.5.6)."""

    status, code = 405, "method_not_allowed"

    def __init__(self, message: str, *, allow: Iterable[str]) -> None:
        super().__init__(message)
        self.allow = sorted(set(allow))

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allow)}


class HeadersTooLarge(GatewayError):
    """Request headers over a limit (RFC 6585 5): refused before any worker is touched."""

    status, code = 431, "headers_too_large"


class PayloadTooLarge(GatewayError):
    status, code = 413, "payload_too_large"

    @classmethod
    def over(cls, limit: int) -> PayloadTooLarge:
        """The error for a body larger than ``limit`` bytes."""
        return cls(f"the body is larger than {limit} bytes (GATEPROOF_MAX_BODY_BYTES); send less")


class Unauthorized(GatewayError):
    """No credentials, or credentials that do not verify; never says which, or whose."""

    status, code = 401, "unauthorized"

    def __init__(self, message: str, *, challenge: str = 'Bearer realm="gateproof"') -> None:
        super().__init__(message)
        self.challenge = challenge

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


class Forbidden(GatewayError):
    """A verified caller without the right to this route or function."""

    status, code = 403, "forbidden"


class RateLimited(GatewayError):
    status, code = 429, "rate_limited"


class WorkerError(GatewayError):
    """The worker answered 5xx, or broke the connection mid-request."""

    status, code = 502, "worker_error"


class WorkerUnreachable(WorkerError):
    """The request never reached a worker (connection refused, or dropped before it was written).

    Safe to send again, as nothing ran: the invoker retries once on another worker
    and answers this only when that one could not be reached either.
    """

    code = "worker_unreachable"


class FunctionError(GatewayError):
    """The function ran and reported an error (``errorType`` or ``X-Amz-Function-Error``)."""

    status, code = 502, "function_error"

    def __init__(self, message: str, *, kind: str = "Unhandled") -> None:
        super().__init__(message)
        self.kind = kind

    @classmethod
    def from_payload(cls, payload: bytes, kind: str) -> FunctionError:
        """Read ``errorType`` and ``errorMessage`` from the worker's answer, if it has them."""
        try:
            document = json.loads(payload) if payload else {}
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        error_type = str(document.get("errorType") or kind)
        message = str(document.get("errorMessage") or "the function reported an error")
        return cls(f"{error_type}: {message}", kind=kind)

    def headers(self) -> dict[str, str]:
        return {"X-Amz-Function-Error": self.kind}


class NoCapacity(GatewayError):
    status, code = 503, "no_capacity"


class BreakerOpen(GatewayError):
    status, code = 503, "circuit_open"


class BackendUnavailable(GatewayError):
    """The backend could not start or reach a worker (orchestrator down, worker never ready)."""

    status, code = 503, "backend_unavailable"


class WorkerTimeout(GatewayError):
    status, code = 504, "worker_timeout"
