"""A header with several values goes out as several header lines, never joined by commas.

Why: a ``Set-Cookie`` joined with ``, `` is one broken cookie (RFC 6265 section 3), and
API Gateway and Lambda function URLs send each value of ``multiValueHeaders`` (merged
with ``headers``) on a line of its own. The same holds for a worker that answers the
invoke API with a repeated header.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from gateway_helpers import GatewayFactory, invoke_url

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig

SCALING = {name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "fail")}


def _proxy(document: dict[str, Any]) -> InProcessBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(document).encode())

    transport = httpx.MockTransport(handler)
    return InProcessBackend(SCALING, transport_factory=lambda name: transport)


def _lines(response: httpx.Response, name: bytes) -> list[bytes]:
    return [value for key, value in response.headers.raw if key.lower() == name]


async def test_each_cookie_of_multi_value_headers_is_a_line_of_its_own(
    make_gateway: GatewayFactory,
) -> None:
    backend = _proxy({"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}})
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post("/echo", json={})
    assert response.status_code == 200, response.text
    assert _lines(response, b"set-cookie") == [b"a=1", b"b=2"]


async def test_headers_and_multi_value_headers_are_merged_line_by_line(
    make_gateway: GatewayFactory,
) -> None:
    """As API Gateway merges them: a pair given in both appears once, from multiValueHeaders."""
    backend = _proxy(
        {
            "statusCode": 201,
            "headers": {"Set-Cookie": "c=3", "X-Same": "one", "X-Single": "s"},
            "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "X-Same": ["one", "two"]},
            "body": "ok",
        }
    )
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post("/echo", json={})
    assert response.status_code == 201, response.text
    assert _lines(response, b"set-cookie") == [b"c=3", b"a=1", b"b=2"]
    assert _lines(response, b"x-same") == [b"one", b"two"]
    assert _lines(response, b"x-single") == [b"s"]
    assert _lines(response, b"content-length") == [b"2"]


async def test_a_repeated_worker_header_on_the_invoke_api_keeps_every_line(
    make_gateway: GatewayFactory,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cookies = [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]
        return httpx.Response(200, content=b"{}", headers=cookies)

    transport = httpx.MockTransport(handler)
    backend = InProcessBackend(SCALING, transport_factory=lambda name: transport)
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post(invoke_url("echo"), json={})
    assert response.status_code == 200, response.text
    assert _lines(response, b"set-cookie") == [b"a=1", b"b=2"]


async def test_a_non_latin1_value_among_several_is_a_502(make_gateway: GatewayFactory) -> None:
    backend = _proxy({"statusCode": 200, "multiValueHeaders": {"X-Mark": ["ok", "\u2713"]}})
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post("/echo", json={})
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "worker_error"
