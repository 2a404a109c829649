"""From a Starlette request to an :class:`InputContext`, with the body size limit."""

from __future__ import annotations

from starlette.requests import Request

from reference.gateway.core.errors import PayloadTooLarge
from reference.gateway.models import InputContext

__all__ = ["read_body", "request_to_context"]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than {limit} bytes (GATEPROOF_MAX_BODY_BYTES); send less"
    )


async def request_to_context(request: Request, limit: int) -> InputContext:
    body = await read_body(request, limit)
    headers = dict(request.headers.items())
    headers["x-request-id"] = (
        request.state.request_id
    )  # the id the client sees, also when made here
    return InputContext(
        path=request.url.path,
        method=request.method,
        headers=headers,
        query_params=dict(request.query_params.items()),
        body=body,
        user_id=headers.get("x-user-id"),
        request_id=request.state.request_id,
        path_params=dict(request.path_params),
    )
