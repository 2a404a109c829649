"""From an :class:`InvocationResult` or a :class:`GatewayError` to a response."""

from __future__ import annotations

from starlette.responses import Response

from reference.gateway.core.errors import GatewayError
from reference.gateway.models import InvocationResult

__all__ = ["error_response", "result_to_response"]

_JSON = "application/json"


def result_to_response(result: InvocationResult) -> Response:
    headers = {k: v for k, v in result.headers.items() if k.lower() != "x-request-id"}
    if result.payload and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = _JSON
    return Response(result.payload or b"", result.status_code, headers)


def error_response(error: GatewayError) -> Response:
    return Response(error.body(), error.status, {"content-type": _JSON, **error.headers()})
