"""Lambda proxy events from requests, and HTTP answers from Lambda proxy responses.

The event is API Gateway's REST (v1) proxy format, which every Lambda web
adapter reads. A body that is not UTF-8 travels base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from reference.gateway.core.errors import WorkerError
from reference.gateway.models import InputContext, InvocationResult
from reference.gateway.services.headers import has_line_break, strip_hop_by_hop
from reference.gateway.services.routing import RouteMatch

__all__ = ["EventBuilder", "proxy_response_to_result"]


class EventBuilder:
    """Builds the proxy event for one routed request."""

    def build(self, context: InputContext, match: RouteMatch) -> bytes:
        body, is_base64 = _encode_body(context.body)
        headers = strip_hop_by_hop(context.headers.items())
        event: dict[str, Any] = {
            "resource": match.route.path,
            "path": context.path,
            "httpMethod": context.method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": context.query_params or None,
            "multiValueQueryStringParameters": (
                {k: [v] for k, v in context.query_params.items()} or None
            ),
            "pathParameters": match.path_params or None,
            "stageVariables": None,
            "requestContext": {
                "requestId": context.request_id,
                "resourcePath": match.route.path,
                "httpMethod": context.method,
                "path": context.path,
                "identity": {"sourceIp": headers.get("x-forwarded-for"), "user": context.user_id},
                "authorizer": {"principalId": context.user_id} if context.user_id else None,
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }
        return json.dumps(event, separators=(",", ":")).encode()


def _encode_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def proxy_response_to_result(result: InvocationResult) -> InvocationResult:
    """Turn a function's proxy response into the HTTP answer; other payloads pass as JSON."""
    document = _as_proxy_response(result.payload or b"")
    if document is None:
        return result
    status = document.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise WorkerError(f"the function returned an invalid statusCode {status!r}")
    headers = _proxy_headers(document)
    body = _proxy_body(document)
    return InvocationResult(status < 500, status, body, headers, retries=result.retries)


def _as_proxy_response(payload: bytes) -> dict[str, Any] | None:
    if not payload.startswith(b"{") or b'"statusCode"' not in payload:
        return None
    try:
        document = json.loads(payload)
    except ValueError:
        return None
    return document if isinstance(document, dict) and "statusCode" in document else None


def _proxy_headers(document: dict[str, Any]) -> dict[str, str | list[str]]:
    """``headers`` and ``multiValueHeaders`` merged, as API Gateway merges them.

    A name in both keeps every value of ``multiValueHeaders`` and the value of
    ``headers`` unless it is one of them. A name with several values stays a
    list: it goes out as one header line per value (RFC 9110 5.3; a
    ``Set-Cookie`` cannot be joined with commas, RFC 6265 3).
    """
    pairs = [(str(k), str(v)) for k, v in _object_field(document, "headers").items()]
    for name, values in _object_field(document, "multiValueHeaders").items():
        if isinstance(values, list) and values:
            text = [str(v) for v in values]
            pairs = [(k, v) for k, v in pairs if k.lower() != str(name).lower() or v not in text]
            pairs += [(str(name), value) for value in text]
    headers = strip_hop_by_hop(pairs)
    for name, value in headers.items():
        for line in [value] if isinstance(value, str) else value:
            _check_header(name, line)
    return headers


def _check_header(name: str, value: str) -> None:
    if has_line_break(name) or has_line_break(value) or not name:
        raise WorkerError(f"the function returned an invalid header {name!r}")
    if not (_is_latin1(name) and _is_latin1(value)):
        raise WorkerError(
            f"the function returned a header that is not Latin-1 ({name!r}); "
            "percent-encode or MIME-encode non-Latin-1 header text"
        )


def _object_field(document: dict[str, Any], field: str) -> dict[Any, Any]:
    value = document.get(field)
    if not value:
        return {}
    if not isinstance(value, dict):
        raise WorkerError(
            f"the function returned {field} as {type(value).__name__}; "
            "a proxy response's headers must be a JSON object"
        )
    return value


def _is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _proxy_body(document: dict[str, Any]) -> bytes:
    body = document.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        body = json.dumps(body)
    if document.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise WorkerError("the function returned a body that is not valid base64") from None
    try:
        return body.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON allows and UTF-8 does not
        raise WorkerError("the function returned a body that is not valid Unicode") from None
