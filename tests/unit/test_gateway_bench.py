"""The gateway benchmark's own parts: the load generator counts right, the report judges right."""

from __future__ import annotations

import argparse
import asyncio
import re

import pytest

from gateproof.bench.gateway import Figures, _generate, _report

pytestmark = pytest.mark.timeout(30)


async def _serve(status: bytes) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(100_000):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_the_load_generator_counts_answers_and_latencies() -> None:
    server, port = await _serve(b"200 OK")
    async with server:
        figures = await _generate(port, "/x", connections=4, warmup=0.05, duration=0.3)
    assert figures["requests"] > 0 and figures["errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["seconds"] == pytest.approx(0.3, abs=0.2)


async def test_the_load_generator_counts_non_200_answers_as_errors() -> None:
    server, port = await _serve(b"503 Service Unavailable")
    async with server:
        figures = await _generate(port, "/x", connections=2, warmup=0.0, duration=0.2)
    assert figures["requests"] > 0 and figures["errors"] == figures["requests"]


def _args() -> argparse.Namespace:
    return argparse.Namespace(connections=32, duration=5.0, warmup=1.0, workers=8)


def test_the_report_shows_ratios_and_says_which_targets_were_missed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    direct = Figures(10_000, 0, 1.0, 1.0, 2.0)
    met = _report(_args(), direct, Figures(6_000, 0, 1.0, 1, 2), Figures(1_000, 0, 1.0, 1, 2), 90)
    assert met
    out = capsys.readouterr().out
    assert "0.60x" in out and "6.00x" in out and "MISSED" not in out
    slow = _report(_args(), direct, Figures(2_000, 0, 1.0, 1, 2), Figures(1_000, 0, 1.0, 1, 2), 250)
    assert not slow
    assert capsys.readouterr().out.count("MISSED") == 3


def test_the_report_names_the_ceiling_that_forwarding_alone_reaches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    direct = Figures(10_000, 0, 1.0, 1.0, 2.0)
    gateway, naive = Figures(2_000, 0, 1.0, 1, 2), Figures(500, 0, 1.0, 1, 2)
    low = [("bare ASGI forwarder (uvicorn)", Figures(4_000, 0, 1.0, 1, 2))]
    _report(_args(), direct, gateway, naive, 90, low)
    out = capsys.readouterr().out
    assert "bare ASGI forwarder (uvicorn): 0.40x the direct worker" in out
    assert "the gateway reaches 0.50x of it" in out
    assert "no gateway on this stack can meet it" in out
    high = [("bare ASGI forwarder (uvicorn)", Figures(8_000, 0, 1.0, 1, 2))]
    _report(_args(), direct, gateway, naive, 90, high)
    assert "no gateway on this stack" not in capsys.readouterr().out


def test_errors_in_any_phase_miss_the_errors_target(capsys: pytest.CaptureFixture[str]) -> None:
    ok = Figures(10_000, 0, 1.0, 1.0, 2.0)
    floors = [("raw asyncio forwarder", Figures(9_000, 3, 1.0, 1, 2))]
    assert not _report(
        _args(), ok, Figures(6_000, 0, 1.0, 1, 2), Figures(1_000, 0, 1, 1, 2), 90, floors
    )
    assert re.search(r"errors +3 +target 0 +MISSED", capsys.readouterr().out)
