"""Response bodies as the OpenAPI schema documents them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from reference.gateway.core.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    HeadersTooLarge,
    MethodNotAllowed,
    NoCapacity,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnknownFunction,
    WorkerError,
    WorkerTimeout,
)


class ErrorBody(BaseModel):
    """Every error: ``code`` is stable, ``message`` is for people."""

    code: str
    message: str


def _error(error: type[GatewayError], why: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": f"{why} (code e.g. {error.code!r})"}


INVOKE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error(Unauthorized, "missing or invalid credentials; see WWW-Authenticate"),
    403: _error(Forbidden, "the caller's tier may not call this function"),
    404: _error(UnknownFunction, "unknown function or route"),
    405: _error(MethodNotAllowed, "the path is routed for other methods only; see Allow"),
    413: _error(PayloadTooLarge, "body over the size limit"),
    422: _error(BadRequest, "malformed request or function name"),
    431: _error(HeadersTooLarge, "request headers over the gateway's limits"),
    429: _error(RateLimited, "rate limited; see Retry-After"),
    502: _error(WorkerError, "the worker failed or the function reported an error"),
    503: _error(NoCapacity, "no capacity, circuit open or backend down; see Retry-After"),
    504: _error(WorkerTimeout, "the function exceeded timeout_seconds"),
}

ANY_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {}}},
    }
}
