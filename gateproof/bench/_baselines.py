"""The servers `gateproof bench gateway` measures the gateway against, each a child process.

* ``naive-proxy``: FastAPI forwarding through one shared ``httpx.AsyncClient``
  with its default transport, on uvicorn's pure-Python defaults (asyncio, h11):
  a first gateway written with care but without choosing transport and loop.
* ``asgi-forwarder``: a bare ASGI app on uvicorn with httptools and uvloop (as
  ``gateproof serve`` runs) that forwards each call to the worker through
  ``KeepAliveTransport`` and does nothing else: no framework, pool, breaker,
  metrics or log. No gateway on this server and transport can be faster, so
  its rate is the ceiling the gateway is judged against.
* ``raw-forwarder``: the same forwarding on a bare ``asyncio.Protocol`` with
  httptools, no ASGI server at all: what leaving uvicorn would buy.

Each listens on 127.0.0.1, prints ``... on port N`` to stderr when ready and
runs until it is stopped.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import httpx

from reference.gateway.services.transport import KeepAliveTransport, post_request

INVOKE_PATH = "/2015-03-31/functions/function/invocations"  # the runtime worker's, as in RIE

_JSON = (b"content-type", b"application/json")


def _listening_socket() -> socket.socket:
    """A socket on 127.0.0.1 that accepts connections before the server is announced."""
    # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY on accepted sockets (see serve.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def _announce(role: str, sock: socket.socket) -> None:
    print(f"{role} on port {sock.getsockname()[1]}", file=sys.stderr, flush=True)


def serve_naive_proxy(upstream: int) -> None:
    """The naive baseline: FastAPI, one default ``httpx.AsyncClient``, asyncio and h11."""
    import uvicorn
    from fastapi import FastAPI, Request, Response

    app = FastAPI()
    url = f"http://127.0.0.1:{upstream}{INVOKE_PATH}"
    client = httpx.AsyncClient(trust_env=False)  # defaults otherwise; no proxy: 127.0.0.1 only

    async def proxy(request: Request) -> Response:
        answer = await client.post(url, content=await request.body())
        return Response(answer.content, answer.status_code, media_type="application/json")

    # Annotations are strings here (future import) naming local imports: give FastAPI the types.
    proxy.__annotations__ = {"request": Request, "return": Response}
    app.add_api_route("/proxy", proxy, methods=["POST"])
    sock = _listening_socket()
    _announce("naive proxy", sock)
    config = uvicorn.Config(app, loop="asyncio", http="h11", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


class _Forward:
    """One call to the worker through ``KeepAliveTransport``: the part every forwarder shares."""

    def __init__(self, upstream: int) -> None:
        self.transport = KeepAliveTransport()
        self.url = httpx.URL(f"http://127.0.0.1:{upstream}{INVOKE_PATH}")

    async def __call__(self, body: bytes) -> tuple[int, bytes]:
        """Status and body of the worker's answer; the gateway's own call, minus its logic."""
        request = post_request(
            self.url, body, {"content-type": "application/json"}
        )  # as the invoker
        response = await self.transport.handle_async_request(request)
        return response.status_code, await response.aread()


def serve_asgi_forwarder(upstream: int) -> None:
    """The ceiling of any gateway on uvicorn: forward, nothing else."""
    import uvicorn

    forward = _Forward(upstream)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        status, answer = await forward(body)
        headers = [_JSON, (b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    sock = _listening_socket()
    _announce("asgi forwarder", sock)
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="off", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


class _RawForwarder(asyncio.Protocol):
    """HTTP/1.1 parsed by httptools straight from the socket, one call in flight at a time."""

    def __init__(self, forward: _Forward) -> None:
        import httptools

        self.forward = forward
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.body: list[bytes] = []
        self.calls: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.body = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        call = asyncio.get_running_loop().create_task(self._answer(b"".join(self.body)))
        self.calls.add(call)
        call.add_done_callback(self.calls.discard)

    async def _answer(self, body: bytes) -> None:
        status, answer = await self.forward(body)
        assert self.transport is not None
        head = f"HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\n"
        self.transport.write(f"{head}content-length: {len(answer)}\r\n\r\n".encode() + answer)


def serve_raw_forwarder(upstream: int) -> None:
    """What the forwarding costs with no ASGI server in between."""
    import uvloop

    async def main() -> None:
        forward = _Forward(upstream)
        sock = _listening_socket()
        server = await asyncio.get_running_loop().create_server(
            lambda: _RawForwarder(forward), sock=sock
        )
        _announce("raw forwarder", sock)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


ROLES = {
    "naive-proxy": serve_naive_proxy,
    "asgi-forwarder": serve_asgi_forwarder,
    "raw-forwarder": serve_raw_forwarder,
}
