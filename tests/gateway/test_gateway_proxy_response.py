"""A malformed answer from a worker is the worker's error (502), never the gateway's (500)."""

from __future__ import annotations

import httpx
import pytest
from gateway_helpers import GatewayFactory, error_code, invoke_url

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig

SCALING = {name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "fail")}


def answering(content: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> InProcessBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers=headers or [])

    transport = httpx.MockTransport(handler)
    return InProcessBackend(SCALING, transport_factory=lambda name: transport)


@pytest.mark.parametrize(
    "proxy_response",
    [
        b'{"statusCode": 200, "headers": "abc"}',
        b'{"statusCode": 200, "headers": [1]}',
        b'{"statusCode": 200, "multiValueHeaders": [1]}',
        b'{"statusCode": 200, "headers": {"x-mark": "\\u2713"}}',
        b'{"statusCode": 200, "headers": {"\\u2713": "yes"}}',
        b'{"statusCode": 200, "multiValueHeaders": {"x-mark": ["\\u2713"]}}',
        b'{"statusCode": 200, "body": "\\ud800"}',
    ],
    ids=[
        "headers-string",
        "headers-list",
        "multivalue-list",
        "non-latin1-value",
        "non-latin1-name",
        "non-latin1-multivalue",
        "lone-surrogate-body",
    ],
)
async def test_a_malformed_proxy_response_is_a_502_worker_error(
    make_gateway: GatewayFactory, proxy_response: bytes
) -> None:
    async with make_gateway(with_backend=answering(proxy_response)) as gw:
        response = await gw.client.post("/echo", json={})
        assert response.status_code == 502, response.text
        assert error_code(response) == "worker_error"
        assert gw.ledger_is_consistent()


async def test_a_well_formed_proxy_response_still_passes(make_gateway: GatewayFactory) -> None:
    body = (
        b'{"statusCode": 201, "headers": {"x-a": "caf\\u00e9"},'
        b' "multiValueHeaders": {"x-b": [1, 2]}, "body": "ok"}'
    )
    async with make_gateway(with_backend=answering(body)) as gw:
        response = await gw.client.post("/echo", json={})
        assert response.status_code == 201 and response.content == b"ok"
        assert response.headers.get_list("x-b") == ["1", "2"]
        assert (b"x-a", "café".encode("latin-1")) in response.headers.raw


async def test_a_non_latin1_header_from_the_invoke_api_is_a_502(
    make_gateway: GatewayFactory,
) -> None:
    backend = answering(b"{}", headers=[(b"x-mark", "\u2713".encode())])
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post(invoke_url("echo"), json={})
        assert response.status_code == 502, response.text
        assert error_code(response) == "worker_error"
