"""From an :class:`InvocationResult` or a :class:`GatewayError` to a response."""

from __future__ import annotations

from starlette.responses import Response

from reference.gateway.core.errors import GatewayError, WorkerError
from reference.gateway.models import InvocationResult

__all__ = ["error_response", "result_to_response"]

_JSON = "application/json"


def result_to_response(result: InvocationResult) -> Response:
    headers = {k: v for k, v in result.headers.items() if k.lower() != "x-request-id"}
    if result.payload and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = _JSON
    try:
        return Response(result.payload or b"", result.status_code, headers)
    except UnicodeEncodeError:  # HTTP/1.1 headers are Latin-1; a worker's may not be
        return error_response(
            WorkerError(
                "the worker answered with a header that is not Latin-1; "
                "percent-encode or MIME-encode non-Latin-1 header text"
            )
        )


def error_response(error: GatewayError) -> Response:
    return Response(error.body(), error.status, error.response_headers())
