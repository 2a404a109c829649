"""``KeepAliveTransport``: a small, fast httpx transport for HTTP/1.1 to workers on a LAN.

Why not httpx's default transport: httpcore's connection pool and its
separate writes of head and body cost milliseconds per call under
concurrency (measured with ``gateproof bench gateway``), which would make the
gateway slower than the workers behind it. Workers speak plain HTTP/1.1 on
127.0.0.1 or a private network, so this transport does only that:

* one ``asyncio.Protocol`` per connection, the response parsed by httptools
  (llhttp, in C), the whole request written with one ``write`` and
  ``TCP_NODELAY``;
* idle connections kept per origin (last used first) for ``keepalive_expiry``
  seconds, below the worker's own keep-alive timeout, so a reused connection
  is not one the worker is closing;
* a connection is never shared by two calls, and one whose call failed or
  was cancelled is closed, never reused;
* origins come and go (every process worker has its own port), so an
  origin left with no open idle connection is dropped: at once on checkout,
  and by an amortised sweep when the table of origins has doubled;
* an idle connection the worker closed (or was killed behind) is not used,
  even when the event loop has not yet read its end: one ``select`` with no
  wait, before the request is written, sees the peer's FIN or reset, and the
  request goes on the next idle connection or a new one.

A request that never reached the worker fails with one of :data:`NOT_SENT`
(the connection was refused, or it was lost before the request was written):
the caller may send it again elsewhere. Any other error means the worker may
have read the request.

Errors are httpx's own (``ConnectError``, ``ReadError``,
``RemoteProtocolError``), so the invoker cannot tell this transport from
the default one. Plain ``http://`` only; bodies are read whole (the gateway
caps them at 6 MB) and left encoded as sent, for the caller to pass on or
decode. The invoker calls it directly, without a client, with a request
:func:`post_request` builds::

    response = await transport.handle_async_request(post_request(url, body, headers))
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections import deque
from collections.abc import Mapping

import httptools
import httpx

__all__ = ["NOT_SENT", "KeepAliveTransport", "RequestNotSent", "post_request"]


class RequestNotSent(httpx.TransportError):
    """The connection was lost before the request was written: the worker never saw it."""


# What a transport raises when the request never reached the worker: safe to send elsewhere.
NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    RequestNotSent,
    ConnectionRefusedError,
)

_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})


def post_request(url: httpx.URL, body: bytes, headers: Mapping[str, str]) -> httpx.Request:
    """``httpx.Request("POST", url, content=body, headers=headers)``, header for header.

    Why: httpx's constructor parses the headers, encodes the content, then
    rebuilds the header list to add ``Host`` and ``Content-Length``, which made
    it the costliest single step of a call to a worker (about 10 us). Here the
    list is built once, in the order httpx builds it, and the body is the
    request's stream. Headers that frame the message are left to httpx.
    """
    if not _FRAMING.isdisjoint(map(str.lower, headers)):
        return httpx.Request("POST", url, content=body, headers=headers)
    raw = [(b"Host", url.netloc)] if url.host else []
    if not body:
        raw.append((b"Content-Length", b"0"))
    raw += [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    if body:
        raw.append((b"Content-Length", str(len(body)).encode("ascii")))
    return httpx.Request("POST", url, headers=raw, stream=httpx.ByteStream(body))


Origin = tuple[str, int]
_MIN_SWEEP = 64  # origins held before the first sweep of dead ones


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; :meth:`exchange` runs one request on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.fileno = -1
        self.closed = False
        self.last_used = time.monotonic()
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.keep_alive = True

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if sock is not None:
            self.fileno = sock.fileno()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._finish(httpx.RemoteProtocolError(f"malformed response from the worker: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(httpx.ReadError("the worker closed the connection before answering"))

    # -- httptools callbacks ------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        self._finish(None)

    # -- use ------------------------------------------------------------------

    def dropped(self) -> bool:
        """True when the peer closed or reset this idle connection, read or not by the loop.

        An idle HTTP/1.1 connection has nothing to read but its end: anything
        readable (FIN, RST, stray bytes) makes it unusable.
        """
        if self.closed or (self.transport is not None and self.transport.is_closing()):
            return True
        if self.fileno < 0:  # no socket to look at (never connected, or not a socket)
            return False
        try:
            readable, _, _ = select.select((self.fileno,), (), (), 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def exchange(self, request: bytes) -> None:
        """Send one request and wait until its whole response is parsed.

        Raises :class:`RequestNotSent` when the connection was lost before the
        request went out (the send failed at once: nothing of it was written).
        """
        transport = self.transport
        assert transport is not None
        if transport.is_closing():
            raise RequestNotSent("the connection to the worker closed before the request")
        self._reset()
        self._waiter = asyncio.get_running_loop().create_future()
        transport.write(request)
        if transport.is_closing():  # the first send failed (EPIPE, ECONNRESET): nothing went out
            self._waiter = None
            raise RequestNotSent("the connection to the worker was lost before the request")
        await self._waiter

    def _finish(self, error: Exception | None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """See the module docstring."""

    def __init__(
        self,
        *,
        keepalive_expiry: float = 4.0,
        max_idle_per_origin: int = 256,
        connect_timeout: float = 5.0,
    ) -> None:
        self.keepalive_expiry = keepalive_expiry
        self.max_idle_per_origin = max_idle_per_origin
        self.connect_timeout = connect_timeout
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._sweep_at = _MIN_SWEEP
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran; a connection checked in after that is closed."""
        return self._closed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"KeepAliveTransport speaks http:// only, not {url}")
        origin = (url.host, url.port or 80)
        payload = _serialize(request, await request.aread())
        connection = self._checkout(origin) or await self._connect(origin, request)
        try:
            await connection.exchange(payload)
        except BaseException:
            connection.close()  # half-used: never reuse it (cancellation included)
            raise
        body = httpx.ByteStream(b"".join(connection.body))  # content= decodes, or raises, at once
        response = httpx.Response(connection.status, headers=connection.headers, stream=body)
        self._checkin(origin, connection)
        return response

    def _checkout(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if now - connection.last_used < self.keepalive_expiry and not connection.dropped():
                return connection
            connection.close()
        if idle is not None:
            del self._idle[origin]  # nothing reusable left: forget the origin
        return None

    def _checkin(self, origin: Origin, connection: _Connection) -> None:
        if self._closed or connection.closed or not connection.keep_alive:
            connection.close()
            return
        idle = self._idle.get(origin)
        if idle is None:
            if len(self._idle) >= self._sweep_at:
                self._sweep()
            idle = self._idle[origin] = deque()
        if len(idle) >= self.max_idle_per_origin:
            connection.close()
            return
        connection.last_used = time.monotonic()
        idle.append(connection)

    def _sweep(self) -> None:
        """Close closed or expired idle connections; drop origins left with none."""
        now = time.monotonic()
        for origin, idle in list(self._idle.items()):
            alive: deque[_Connection] = deque()
            for connection in idle:
                if not connection.closed and now - connection.last_used < self.keepalive_expiry:
                    alive.append(connection)
                else:
                    connection.close()
            if alive:
                self._idle[origin] = alive
            else:
                del self._idle[origin]
        self._sweep_at = max(_MIN_SWEEP, 2 * len(self._idle))

    async def _connect(self, origin: Origin, request: httpx.Request) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(_Connection, *origin)
        except (OSError, TimeoutError) as error:
            raise httpx.ConnectError(
                f"cannot connect to {origin[0]}:{origin[1]}: {error}", request=request
            ) from error
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path
    head = [request.method.encode(), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        head += [name, b": ", value, b"\r\n"]
    head.append(b"\r\n")
    return b"".join(head) + body
