"""KeepAliveTransport against tiny servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from reference.gateway.services.transport import KeepAliveTransport, _Connection

pytestmark = pytest.mark.timeout(30)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """Serve ``handler`` on a free port; yields the base URL and a list of connection numbers."""
    connections: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        srv.close()
        await srv.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return await reader.readexactly(length)


def answer(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


def answer_once(body: bytes, *extra: bytes) -> Handler:
    """A worker that answers one request with ``body`` and ``extra`` headers."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(body, *extra))
        await writer.drain()

    return handler


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(100):
        body = await read_request(reader)
        writer.write(answer(body, b"X-Worker: yes"))
        await writer.drain()


async def test_answers_are_parsed_and_one_connection_is_reused() -> None:
    async with server(echo_forever) as (url, connections):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            for n in range(5):
                response = await client.post(url + "/x?q=1", content=b"call %d" % n)
                assert response.status_code == 200 and response.content == b"call %d" % n
                assert response.headers["x-worker"] == "yes"
        assert connections == [0]


async def test_concurrent_calls_never_share_a_connection() -> None:
    async with server(echo_forever) as (url, connections):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            bodies = [b"%d" % n for n in range(8)]
            responses = await asyncio.gather(*(client.post(url, content=b) for b in bodies))
        assert [r.content for r in responses] == bodies
        assert len(connections) == 8


async def test_a_connection_close_answer_is_not_reused() -> None:
    async with server(answer_once(b"ok", b"Connection: close")) as (url, connections):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            for _ in range(3):
                assert (await client.post(url, content=b"")).content == b"ok"
        assert len(connections) == 3


async def test_a_worker_that_hangs_up_without_answering_raises_read_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with server(hang_up) as (url, _):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            with pytest.raises(httpx.ReadError):
                await client.post(url, content=b"x")


async def test_a_garbled_answer_raises_remote_protocol_error() -> None:
    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with server(garble) as (url, _):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(url, content=b"x")


async def test_nobody_listening_raises_connect_error() -> None:
    async with server(echo_forever) as (url, _):
        pass  # closed: the port is free again
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(url, content=b"x")


async def test_a_cancelled_call_closes_its_connection_instead_of_reusing_it() -> None:
    first = asyncio.Event()

    async def slow_then_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not first.is_set():
            first.set()
            await read_request(reader)
            await asyncio.sleep(10)
        await echo_forever(reader, writer)

    async with server(slow_then_echo) as (url, connections):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            call = asyncio.create_task(client.post(url, content=b"slow"))
            await asyncio.wait_for(first.wait(), 5)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            response = await client.post(url, content=b"next")
            assert response.content == b"next"
        assert len(connections) == 2


async def test_an_idle_connection_past_its_expiry_is_replaced() -> None:
    async with server(echo_forever) as (url, connections):
        transport = KeepAliveTransport(keepalive_expiry=0.05)
        async with httpx.AsyncClient(transport=transport) as client:
            await client.post(url, content=b"1")
            await asyncio.sleep(0.2)
            await client.post(url, content=b"2")
        assert len(connections) == 2


async def test_a_body_marked_gzip_that_is_not_gzip_is_handed_over_raw() -> None:
    mislabelled = answer_once(b"plain, not gzip", b"Content-Encoding: gzip")
    async with server(mislabelled) as (url, _):
        transport = KeepAliveTransport()
        response = await transport.handle_async_request(httpx.Request("POST", url, content=b""))
        assert b"".join([chunk async for chunk in response.aiter_raw()]) == b"plain, not gzip"
        assert response.headers["content-encoding"] == "gzip"
        await transport.aclose()


class RecordingTransport(KeepAliveTransport):
    """Keeps every connection it opens, to look at it after the call."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[_Connection] = []

    async def _connect(self, origin: tuple[str, int], request: httpx.Request) -> _Connection:
        connection = await super()._connect(origin, request)
        self.opened.append(connection)
        return connection


async def test_a_connection_handed_back_after_aclose_is_closed_not_kept_idle() -> None:
    received, go_on, hung_up = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def answer_when_told(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        received.set()
        await go_on.wait()
        writer.write(answer(b"late", b"Connection: keep-alive"))
        await writer.drain()
        if await reader.read() == b"":
            hung_up.set()

    async with server(answer_when_told) as (url, connections):
        transport = RecordingTransport()
        request = httpx.Request("POST", url, content=b"x")
        call = asyncio.create_task(transport.handle_async_request(request))
        await asyncio.wait_for(received.wait(), 5)
        await transport.aclose()
        go_on.set()
        response = await asyncio.wait_for(call, 5)
        assert response.status_code == 200 and await response.aread() == b"late"
        [connection] = transport.opened
        assert transport.closed and connection.closed
        assert connection.transport is not None and connection.transport.is_closing()
        assert not transport._idle
        await asyncio.wait_for(hung_up.wait(), 5)
        assert connections == [0]


async def test_only_plain_http_is_spoken() -> None:
    async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.post("https://127.0.0.1:1/", content=b"")
