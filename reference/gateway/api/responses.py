"""From an :class:`InvocationResult` or a :class:`GatewayError` to a response."""

from __future__ import annotations

from starlette.responses import Response

from reference.gateway.core.errors import GatewayError, WorkerError
from reference.gateway.models import InvocationResult

__all__ = ["error_response", "result_to_response"]

_JSON = "application/json"


def result_to_response(result: InvocationResult) -> Response:
    headers: dict[str, str] = {}
    lines: list[tuple[str, list[str]]] | None = None  # names with several values, rarely any
    for name, value in result.headers.items():
        if name.lower() == "x-request-id":
            continue
        if isinstance(value, str):
            headers[name] = value
        else:
            lines = lines or []
            lines.append((name, value))
    if result.payload and not any(k.lower() == "content-type" for k in headers):
        if not lines or not any(k.lower() == "content-type" for k, _ in lines):
            headers["content-type"] = _JSON
    try:
        response = Response(result.payload or b"", result.status_code, headers)
        if lines:
            _add_lines(response, lines)
        return response
    except UnicodeEncodeError:  # HTTP/1.1 headers are Latin-1; a worker's may not be
        return error_response(
            WorkerError(
                "the worker answered with a header that is not Latin-1; "
                "percent-encode or MIME-encode non-Latin-1 header text"
            )
        )


def _add_lines(response: Response, lines: list[tuple[str, list[str]]]) -> None:
    """One header line per value, after the single-valued ones and before the framing."""
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, values in lines
        for value in values
    ]
    framing = [h for h in response.raw_headers if h[0] == b"content-length"]
    response.raw_headers[:] = [h for h in response.raw_headers if h[0] != b"content-length"]
    response.raw_headers += raw + framing


def error_response(error: GatewayError) -> Response:
    return Response(error.body(), error.status, error.response_headers())
