"""KeepAliveTransport never writes a request into a connection its worker has closed.

Why: a worker killed (or closing an idle keep-alive connection) sends its FIN at
once, but the event loop reads it only on its next turn; a request written in
between went nowhere, and the caller could not tell it from a request the worker
read and then died on. The transport looks at the socket before it writes, and a
request that could not be delivered fails with one of ``NOT_SENT``.
"""

from __future__ import annotations

import select
import socket
import threading

import httpx
import pytest

from reference.gateway.services.transport import NOT_SENT, KeepAliveTransport, post_request

pytestmark = pytest.mark.timeout(30)

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


class ClosingWorker:
    """Answers one request per connection; closes the first when told, then serves a second."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.close_first = threading.Event()
        self.first_closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            first, _ = self.listener.accept()
            with first:
                _read_request(first)
                first.sendall(RESPONSE)
                self.close_first.wait(10)
            self.first_closed.set()
            second, _ = self.listener.accept()
            with second:
                _read_request(second)
                second.sendall(RESPONSE)
        except OSError:
            pass

    def close(self) -> None:
        self.close_first.set()
        self.listener.close()
        self.thread.join(10)


async def test_an_idle_connection_closed_by_its_worker_is_not_written_to() -> None:
    worker = ClosingWorker()
    transport = KeepAliveTransport()
    url = httpx.URL(f"http://127.0.0.1:{worker.port}/2015-03-31/functions/function/invocations")
    try:
        first = await transport.handle_async_request(post_request(url, b"{}", {}))
        assert first.status_code == 200
        (idle,) = transport._idle[("127.0.0.1", worker.port)]
        # The worker closes; the loop does not run until the FIN is in this socket's queue.
        worker.close_first.set()
        assert worker.first_closed.wait(10)
        readable, _, _ = select.select([idle.fileno], [], [], 10)
        assert readable and not idle.closed  # the loop has not read the FIN: the window is open
        second = await transport.handle_async_request(post_request(url, b"{}", {}))
        assert second.status_code == 200
        assert idle.closed
    finally:
        await transport.aclose()
        worker.close()


async def test_a_refused_connection_is_one_of_not_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = KeepAliveTransport()
    url = httpx.URL(f"http://127.0.0.1:{port}/")
    with pytest.raises(NOT_SENT):
        await transport.handle_async_request(post_request(url, b"{}", {}))
    await transport.aclose()
