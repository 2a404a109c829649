"""From a Starlette request to an :class:`InputContext`, with the body size limit.

Every field is read from the ASGI scope, as Starlette's ``Request`` would
give it, without building the ``Request``'s ``URL``, ``Headers``,
``QueryParams`` and ``Address`` objects: on the invoke API's hot path those
cost about a tenth of the gateway's CPU per call (``gateproof bench
gateway --breakdown``, "request parsing").
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from reference.gateway.core.errors import PayloadTooLarge
from reference.gateway.models import InputContext

__all__ = ["read_body", "request_path", "request_to_context"]

# Characters Starlette's URL escapes or urllib drops when it rebuilds the path.
_REWRITTEN = frozenset("?#\\\t\r\n")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading them all.

    A declared ``Content-Length`` over the limit never gets here:
    :class:`~reference.gateway.api.middleware.GatewayMiddleware` answers 413 first.
    Like ``Request.stream()``, a client that disconnects raises ``ClientDisconnect``.
    """
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] != "http.request":
            continue
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge.over(limit)
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def request_path(request: Request) -> str:
    """``request.url.path``, without building the URL when it could not differ from the scope's."""
    path: str = request.scope["path"]
    if path.startswith("//") or not _REWRITTEN.isdisjoint(path):
        return request.url.path
    return path


async def request_to_context(request: Request, limit: int) -> InputContext:
    scope = request.scope
    body = await read_body(request, limit)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    request_id: str = scope["state"]["request_id"]
    headers["x-request-id"] = request_id  # the id the client sees, also when made here
    query = scope.get("query_string", b"")
    client = scope.get("client")
    return InputContext(
        path=request_path(request),
        method=scope["method"],
        headers=headers,
        query_params=dict(request.query_params.items()) if query else {},
        body=body,
        user_id=None,  # only an authenticator names the user, never a header
        request_id=request_id,
        path_params=dict(scope.get("path_params", {})),
        client=client[0] if client is not None else None,
        timing=scope["state"].get("timing"),
    )
