"""A retried call shows in ``/metrics`` and in its access-log line; other calls do not change."""

from __future__ import annotations

import json

import httpx
import pytest
from gateway_helpers import GatewayFactory, captured_access_log, invoke_url

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig

pytestmark = pytest.mark.timeout(30)


def first_refused() -> InProcessBackend:
    """The first call finds its worker gone (connection refused); every later one is answered."""
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"statusCode": 200, "body": "ok"})

    transport = httpx.MockTransport(handler)
    scaling = {name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "fail")}
    return InProcessBackend(scaling, transport_factory=lambda name: transport)


def retries_metric(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('gateway_worker_retries_total{function="echo"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("path", [invoke_url("echo"), "/echo"], ids=["invoke", "routed"])
async def test_a_retried_call_is_counted_in_metrics_and_its_access_line(
    make_gateway: GatewayFactory, path: str
) -> None:
    with captured_access_log() as lines:
        async with make_gateway(with_backend=first_refused(), access_log=True) as gw:
            retried = await gw.client.post(path, json={})
            plain = await gw.client.post(path, json={})
            metrics = (await gw.client.get("/metrics")).text
    assert retried.status_code == 200 and plain.status_code == 200, retried.text
    assert retries_metric(metrics) == 1.0
    records = [json.loads(line) for line in lines[:2]]
    assert records[0]["retries"] == 1 and list(records[0])[-1] == "retries"
    assert "retries" not in records[1]  # the line of a call sent once keeps its fields
