"""Every response says where the call's time went (``Server-Timing``), and the log says the same."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from gateway_helpers import GatewayFactory, invoke_url

from reference.gateway.core.access_log import ACCESS_LOGGER
from reference.gateway.core.timing import reported_service

_ENTRY = re.compile(r"(queue|hold|svc|gw);dur=(\d+\.\d{3})")


def split(header: str) -> dict[str, float]:
    """The header's entries as name -> ms, checking each entry's syntax and the order."""
    entries = [_ENTRY.fullmatch(entry) for entry in header.split(", ")]
    assert all(entries), header
    names = [m.group(1) for m in entries if m]
    assert names == sorted(names, key=["queue", "hold", "svc", "gw"].index), header
    return {m.group(1): float(m.group(2)) for m in entries if m}


@pytest.fixture
def access_lines():
    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    logger = logging.getLogger(ACCESS_LOGGER)
    handler, level = Capture(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_a_call_reports_queue_hold_service_and_gateway_time_and_logs_the_same(
    make_gateway: GatewayFactory, access_lines: list[dict]
) -> None:
    async with make_gateway(access_log=True) as gw:
        response = await gw.client.post(invoke_url("sleep"), json={"sleep_ms": 40})
    assert response.status_code == 200
    timing = split(response.headers["server-timing"])
    assert set(timing) == {"queue", "hold", "svc", "gw"}
    assert timing["svc"] == 40.0  # as the worker reported it
    assert timing["hold"] >= timing["svc"]  # the worker is held for its service and more
    (line,) = access_lines
    assert {k: line[f"{k}_ms"] for k in timing} == timing
    assert sum(timing.values()) - timing["svc"] <= line["duration_ms"] + 0.002


async def test_a_call_that_waits_for_a_busy_worker_reports_the_wait_as_queue(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:  # max_capacity 2: the third call waits for a worker
        calls = [gw.client.post(invoke_url("sleep"), json={"sleep_ms": 150}) for _ in range(3)]
        responses = await asyncio.gather(*calls)
    timings = [split(r.headers["server-timing"]) for r in responses]
    assert all(r.status_code == 200 for r in responses)
    # a worker is held at least 150 ms, so whichever call waited, it waited that long
    assert max(t["queue"] for t in timings) >= 150.0
    assert all(t["svc"] == 150.0 for t in timings)


async def test_a_call_that_reaches_no_worker_reports_gateway_time_alone(
    make_gateway: GatewayFactory, access_lines: list[dict]
) -> None:
    async with make_gateway(access_log=True) as gw:
        missing = await gw.client.post(invoke_url("nope"), json={})
        health = await gw.client.get("/health")
    for response in (missing, health):
        assert set(split(response.headers["server-timing"])) == {"gw"}
    assert [(line["queue_ms"], line["hold_ms"], line["svc_ms"]) for line in access_lines] == [
        (None, None, None)
    ] * 2


async def test_a_worker_that_reports_no_time_gets_no_svc_entry(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(invoke_url("echo"), json={"n": 5})
    assert set(split(response.headers["server-timing"])) == {"queue", "hold", "gw"}


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        (b'{"slept_ms":12.5}', 0.0125),
        (b'{"cpu_ms":3.0,"rounds":7}', 0.003),
        (b'{"slept_ms":"x"}', None),
        (b'{"slept_ms":-1}', None),
        (b'{"other":1,"slept_ms":2}', None),  # only the first field is read
        (b"slept_ms", None),
        (b"", None),
    ],
)
def test_the_workers_own_time_is_read_from_its_first_field_only(
    body: bytes, seconds: float | None
) -> None:
    assert reported_service(body) == seconds
