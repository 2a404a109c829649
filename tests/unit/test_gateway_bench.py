"""The gateway benchmark's own parts: the load generator counts right, the report judges right."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from gateproof.bench._ablation import SWITCHES
from gateproof.bench._baselines import ROLES
from gateproof.bench._load import _generate
from gateproof.bench._payload import PAYLOAD
from gateproof.bench.gateway import (
    _WHOLE,
    Figures,
    _baseline,
    _gateway,
    _print_breakdown,
    _report,
    _worker,
)

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
        figures = await _generate(
            port, "/x", connections=4, warmup=0.05, duration=0.3, server_pid=os.getpid()
        )
    assert figures["requests"] > 0 and figures["errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert figures["seconds"] >= 0.3 - 0.005  # the measured window is never cut short
    assert 0 < figures["load_cpu_s"] <= figures["seconds"] + 0.1  # one thread: at most wall time
    # Here the server is this very process: both clocks read the same CPU (to a clock tick).
    assert figures["server_cpu_s"] == pytest.approx(figures["load_cpu_s"], abs=0.05)


async def test_the_load_generator_counts_non_200_answers_as_errors() -> None:
    server, port = await _serve(b"503 Service Unavailable")
    async with server:
        figures = await _generate(port, "/x", connections=2, warmup=0.0, duration=0.2)
    assert figures["requests"] > 0 and figures["errors"] == figures["requests"]


def _args() -> argparse.Namespace:
    return argparse.Namespace(connections=32, duration=5.0, warmup=1.0, workers=8)


def phase(rate: int, *, errors: int = 0, cpu: float = 0.0, load_cpu_s: float = 0.0) -> Figures:
    """One second of load at ``rate``, the server using ``cpu`` of one CPU."""
    return Figures(rate, errors, 1.0, 1.0, 2.0, load_cpu_s, server_cpu_s=cpu, peak_mb=90)


def test_the_report_shows_ratios_and_says_which_targets_were_missed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _report(_args(), phase(10_000), phase(6_000), phase(1_000))
    out = capsys.readouterr().out
    assert "0.60x" in out and "6.00x" in out and "MISSED" not in out
    bloated = Figures(2_000, 0, 1.0, 1.0, 2.0, peak_mb=250)
    assert not _report(_args(), phase(10_000), bloated, phase(1_000))
    out = capsys.readouterr().out
    assert out.count("MISSED") == 2  # naive proxy and RSS
    assert re.search(r"gateway / direct +0\.20x +target >= 0\.5x +withdrawn", out)


def test_the_gateway_is_judged_against_the_asgi_forwarder_by_rate_and_p99(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def forwarder(rate: int, p99_ms: float) -> list[tuple[str, Figures]]:
        return [("bare ASGI forwarder (uvicorn)", Figures(rate, 0, 1.0, 1.0, p99_ms))]

    gateway = Figures(6_000, 0, 1.0, 4.0, 12.0, peak_mb=90)  # p99 12 ms
    assert _report(_args(), phase(20_000), gateway, phase(500), forwarder(10_000, 9.0))
    out = capsys.readouterr().out
    assert re.search(r"gateway / ASGI forwarder +0\.60x +target >= 0\.5x +met", out)
    assert re.search(r"gateway p99 / forwarder p99 +1\.33x +target <= 1\.5x +met", out)
    assert not _report(_args(), phase(20_000), gateway, phase(500), forwarder(13_000, 7.0))
    out = capsys.readouterr().out
    assert re.search(r"gateway / ASGI forwarder +0\.46x +target >= 0\.5x +MISSED", out)
    assert re.search(r"gateway p99 / forwarder p99 +1\.71x +target <= 1\.5x +MISSED", out)


def test_the_breakdown_gives_each_features_cost_against_the_median_whole_gateway(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def run(us_per_call: float) -> Figures:
        return Figures(1_000, 0, 1.0, 1.0, 2.0, server_cpu_s=us_per_call / 1_000)

    runs = {
        _WHOLE: [run(300), run(280), run(320)],  # median 300, spread 40
        "access log (JSON line per call)": [run(250), run(240), run(900)],  # median 250
        "metrics (counter and histogram)": [run(290)],
    }
    _print_breakdown(runs, Figures(1_000, 0, 1.0, 1.0, 2.0, server_cpu_s=0.1))  # 100 us
    out = capsys.readouterr().out
    assert "median of 3 rounds" in out
    assert re.search(r"nothing \(every feature on\) +1000 +2\.00 +300\n", out)
    assert re.search(r"access log \(JSON line per call\) +1000 +2\.00 +250 +\+50\n", out)
    assert re.search(r"metrics \(counter and histogram\) +1000 +2\.00 +290 +\+10\n", out)
    assert "ranged over 40 us/call" in out
    assert "save 60 us/call in all, of the 200 us" in out


@pytest.mark.timeout(240)
def test_each_switched_off_gateway_still_answers_the_benchmarks_call() -> None:
    """A switch removes a feature's work, never the answer: the benchmark counts only 200s."""
    url = "/2015-03-31/functions/echo/invocations"
    answers, timed = {}, {}
    for feature in SWITCHES:
        with _gateway(1, without=feature) as (port, _):
            with httpx.Client(trust_env=False, timeout=10) as client:
                response = client.post(f"http://127.0.0.1:{port}{url}", content=PAYLOAD)
            answers[feature] = (response.status_code, response.content)
            timed[feature] = "server-timing" in response.headers
    assert answers == dict.fromkeys(SWITCHES, (200, PAYLOAD))
    # only the server-timing switch removes the split; every other gateway still sends it
    assert timed == {feature: feature != "server-timing" for feature in SWITCHES}


def test_the_report_gives_each_servers_cpu_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    _report(_args(), phase(10_000, cpu=0.5), phase(2_000, cpu=0.9), phase(500, cpu=1.0))
    out = capsys.readouterr().out
    assert re.search(r"direct to worker +10000 .* 50% +50\n", out)
    assert re.search(r"gateway \(8 warm workers\) +2000 .* 90% +450\n", out)


def test_the_report_says_how_much_cpu_is_left_for_the_gateways_own_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateproof.bench.gateway._cpus", lambda: 2)
    # At 0.5x of 10,000/s two CPUs give 400 us a call; the load generator (0.5 s for 10,000
    # calls: 50 us) and the worker (0.5 CPU at 10,000/s: 50 us) leave 300 us, and forwarding
    # alone (1 CPU at 4,000/s: 250 us) leaves 50 us for what the gateway adds (450 - 250).
    direct, naive = phase(10_000, cpu=0.5, load_cpu_s=0.5), phase(500)
    gateway = phase(2_000, cpu=0.9, load_cpu_s=0.2)
    floors = [("bare ASGI forwarder (uvicorn)", phase(4_000, cpu=1.0))]
    _report(_args(), direct, gateway, naive, floors)
    out = capsys.readouterr().out
    assert "bare ASGI forwarder (uvicorn): 0.40x the direct worker" in out
    assert "the gateway reaches 0.50x of it" in out
    assert "400 us on 2 CPUs" in out and "leave 300 us for a gateway" in out
    assert "forwarding alone takes 250 us of it, leaving 50 us" in out
    assert "which takes 200 us" in out
    assert "would have to fit in 50 us" in out and "it takes 4.0 times that" in out
    lean = phase(2_000, cpu=0.55, load_cpu_s=0.2)  # 275 us: 25 us of its own work
    _report(_args(), direct, lean, naive, floors)
    out = capsys.readouterr().out
    assert "which takes 25 us" in out and "would have to fit" not in out
    slow_floor = [("bare ASGI forwarder (uvicorn)", phase(3_000, cpu=1.0))]  # 333 us > 300 us
    _report(_args(), direct, gateway, naive, slow_floor)
    out = capsys.readouterr().out
    assert "leaving -33 us" in out and "no room for the gateway's own work" in out


def test_the_report_judges_the_cpu_that_jwt_auth_adds_per_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway = phase(2_000, cpu=0.9)  # 450 us a call
    cheap = phase(2_000, cpu=0.945)  # 472.5 us: +5%
    assert _report(_args(), phase(3_000), gateway, phase(100), [], cheap)
    out = capsys.readouterr().out
    assert re.search(r"gateway with JWT auth +2000 .* 94% +472\n", out)
    assert re.search(r"JWT auth CPU per call +\+5% +target <= \+10% +met", out)
    costly = phase(2_000, cpu=1.08)  # 540 us: +20%
    assert not _report(_args(), phase(3_000), gateway, phase(100), [], costly)
    assert re.search(
        r"JWT auth CPU per call +\+20% +target <= \+10% +MISSED", capsys.readouterr().out
    )


def test_errors_in_any_phase_miss_the_errors_target(capsys: pytest.CaptureFixture[str]) -> None:
    floors = [("raw asyncio forwarder", phase(9_000, errors=3))]
    assert not _report(_args(), phase(10_000), phase(6_000), phase(1_000), floors)
    assert re.search(r"errors +3 +target 0 +MISSED", capsys.readouterr().out)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_baseline_forwards_a_call_to_the_worker_and_stops_with_it(role: str) -> None:
    import psutil

    with _worker() as (worker_port, _), _baseline(role, worker_port) as (port, pid):
        path = "/proxy" if role == "naive-proxy" else "/"
        with httpx.Client(trust_env=False) as client:
            answer = client.post(f"http://127.0.0.1:{port}{path}", content=PAYLOAD)
        assert answer.status_code == 200 and answer.json() == json.loads(PAYLOAD)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_pinning_gives_the_server_the_first_cpu_and_everything_else_the_rest() -> None:
    """Run in a child, so this test process keeps every CPU."""
    script = """
import os, subprocess, sys
from gateproof.bench.gateway import _pin
server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
try:
    _pin(server.pid, (helper.pid,), [0, 1])
    print(sorted(os.sched_getaffinity(server.pid)), sorted(os.sched_getaffinity(helper.pid)),
          sorted(os.sched_getaffinity(0)))
finally:
    server.kill(); helper.kill()
"""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")  # every machine this suite runs on has two
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "[0] [1] [1]", done.stderr
