"""From a Starlette request to an :class:`InputContext`, with the body size limit."""

from __future__ import annotations

from starlette.requests import Request

from reference.gateway.core.errors import PayloadTooLarge
from reference.gateway.models import InputContext

__all__ = ["read_body", "request_to_context"]


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading them all.

    A declared ``Content-Length`` over the limit never gets here:
    :class:`~reference.gateway.api.middleware.GatewayMiddleware` answers 413 first.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge.over(limit)
        chunks.append(chunk)
    return b"".join(chunks)


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
        user_id=None,  # only an authenticator names the user, never a header
        request_id=request.state.request_id,
        path_params=dict(request.path_params),
        client=request.client.host if request.client else None,
    )
