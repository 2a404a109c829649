"""The load generator of `gateproof bench gateway`, run only in its own child process.

Raw HTTP/1.1 over keep-alive connections, one request in flight per
connection; :func:`_generate` drives one server and returns its figures. The
parent (:mod:`gateproof.bench.gateway`) imports none of this, so no command
pays for asyncio and psutil at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

from gateproof.bench._payload import PAYLOAD


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending the same request again as soon as the answer is in."""

    def __init__(self, request: bytes, stats: dict[str, Any]) -> None:
        self.request = request
        self.stats = stats
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        if self.stats["stop"]:
            assert self.transport is not None
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        match = re.search(rb"\r\ncontent-length: *(\d+)", head)
        length = int(match.group(1)) if match else 0
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        self._record(head[9:12])
        self._send()

    def _record(self, status: bytes) -> None:
        if self.stats["measuring"]:
            self.stats["latencies"].append(time.perf_counter() - self.sent_at)
            if status != b"200":
                self.stats["errors"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.stats["stop"]:
            self.stats["errors"] += 1
        if not self.closed.done():
            self.closed.set_result(None)


async def _generate(
    port: int,
    path: str,
    connections: int,
    warmup: float,
    duration: float,
    server_pid: int | None = None,
    header: str = "",
) -> dict[str, Any]:
    """Drive the server; CPU (its own and ``server_pid``'s) is read over the measured window.

    ``header`` (``Name: value``) is sent on every request, a bearer token say.
    """
    server_cpu = _cpu_clock(server_pid)
    extra = f"{header}\r\n" if header else ""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(PAYLOAD)}\r\n\r\n"
    ).encode() + PAYLOAD
    stats: dict[str, Any] = {"stop": False, "measuring": False, "latencies": [], "errors": 0}
    loop = asyncio.get_running_loop()
    opened = [
        await loop.create_connection(lambda: _Connection(request, stats), "127.0.0.1", port)
        for _ in range(connections)
    ]
    await asyncio.sleep(warmup)
    stats["measuring"] = True
    started, cpu_started, server_started = time.perf_counter(), time.process_time(), server_cpu()
    await asyncio.sleep(duration)
    stats["measuring"] = False
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    server_used = server_cpu() - server_started
    stats["stop"] = True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await asyncio.gather(*(protocol.closed for _, protocol in opened))
    latencies = sorted(stats["latencies"])
    return {
        "requests": len(latencies),
        "errors": stats["errors"],
        "seconds": elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "load_cpu_s": cpu,
        "server_cpu_s": server_used,
    }


def _cpu_clock(pid: int | None) -> Callable[[], float]:
    """A reader of the user+system CPU seconds of process ``pid`` (always 0 without one)."""
    if pid is None:
        return lambda: 0.0
    import psutil

    process = psutil.Process(pid)

    def read() -> float:
        times = process.cpu_times()
        return times.user + times.system

    return read


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
