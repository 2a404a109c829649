"""HTTP's own answers: 405 with ``Allow`` for a method a path does not serve, 431 for headers
over the limits, each in the gateway's JSON error shape and before any worker is touched."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from gateway_helpers import GatewayFactory, error_code, invoke_url

from reference.gateway.backends.base import WorkerInfo
from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.models import ScalingConfig

pytestmark = pytest.mark.timeout(90)


class CountingBackend(InProcessBackend):
    """The in-process backend, counting every worker handed out."""

    acquired = 0

    async def acquire_worker(self, function: str) -> WorkerInfo:
        self.acquired += 1
        return await super().acquire_worker(function)


def counting() -> CountingBackend:
    """Workers answer 200 with the event or payload they got, as the echo function would."""

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"echoed": true}')

    transport = httpx.MockTransport(echo)
    scaling = {name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "fail")}
    return CountingBackend(scaling, transport_factory=lambda name: transport)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
async def test_another_method_on_the_invoke_path_is_405_allow_post(
    make_gateway: GatewayFactory, method: str
) -> None:
    backend = counting()
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.request(method, invoke_url("echo"))
    assert response.status_code == 405, response.text
    assert response.headers.get_list("allow") == ["POST"]
    assert error_code(response) == "method_not_allowed"
    assert response.headers["x-request-id"]
    assert backend.acquired == 0


async def test_a_routed_path_asked_with_a_method_not_routed_is_405_naming_the_routed_ones(
    make_gateway: GatewayFactory,
) -> None:
    routing = """
routes:
  - {path: "/items/{id}", method: GET, function: echo}
  - {path: "/items/{id}", method: DELETE, function: echo}
  - {path: /echo, method: POST, function: echo}
"""
    backend = counting()
    async with make_gateway(with_backend=backend, routing=routing) as gw:
        refused = await gw.client.post("/items/42", json={})
        unknown = await gw.client.post("/nothing/here", json={})
        served = await gw.client.get("/items/42")
    assert refused.status_code == 405, refused.text
    assert refused.headers["allow"] == "DELETE, GET"
    assert error_code(refused) == "method_not_allowed"
    assert unknown.status_code == 404 and error_code(unknown) == "route_not_found"
    assert served.status_code == 200, served.text
    assert backend.acquired == 1  # the served GET only


def _headers(count: int, size: int) -> list[tuple[str, str]]:
    return [(f"x-h{i}", "v" * size) for i in range(count)]


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        (_headers(1, 100 * 1024), "longer than 8192 bytes"),  # one 100 KB header
        (_headers(500, 1), "more than 100"),  # 500 headers
        (_headers(40, 1000), "more than 32768"),  # 40 KB in all, each line under 8 KB
    ],
    ids=["100KB-header", "500-headers", "40KB-in-all"],
)
async def test_headers_over_the_default_limits_are_431_before_any_worker(
    make_gateway: GatewayFactory, headers: list[tuple[str, str]], says: str
) -> None:
    backend = counting()
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post(invoke_url("echo"), content=b"{}", headers=headers)
        routed = await gw.client.post("/echo", content=b"{}", headers=headers)
    for answer in (response, routed):
        assert answer.status_code == 431, answer.text
        assert error_code(answer) == "headers_too_large"
        assert says in answer.json()["message"]
        assert answer.headers["x-request-id"]
    assert backend.acquired == 0


async def test_headers_within_the_limits_pass(make_gateway: GatewayFactory) -> None:
    line = 8 * 1024 - len("x-big: ")
    async with make_gateway() as gw:
        response = await gw.client.post(
            invoke_url("echo"), json={}, headers={"x-big": "v" * (line - 2)}
        )
        many = await gw.client.post(invoke_url("echo"), json={}, headers=_headers(90, 10))
    assert response.status_code == 200, response.text
    assert many.status_code == 200, many.text


async def test_the_header_limits_are_settings(make_gateway: GatewayFactory) -> None:
    async with make_gateway(max_headers=12, max_header_line_bytes=200) as gw:
        few = await gw.client.post(invoke_url("echo"), json={}, headers=_headers(3, 10))
        many = await gw.client.post(invoke_url("echo"), json={}, headers=_headers(12, 10))
        long = await gw.client.post(invoke_url("echo"), json={}, headers={"x-a": "v" * 300})
    assert few.status_code == 200, few.text
    assert many.status_code == 431 and "GATEPROOF_MAX_HEADERS" in many.json()["message"]
    assert long.status_code == 431 and "GATEPROOF_MAX_HEADER_LINE_BYTES" in long.text


def test_a_served_gateway_answers_431_in_json_to_a_100kb_header() -> None:
    """Through uvicorn as ``gateproof serve`` runs it: the server itself lets it through."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    env["GATEPROOF_BACKEND"] = "inprocess"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateproof", "serve", "--port", "0", "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stderr is not None
        port = None
        for _ in range(50):  # bounded: the banner is among the first lines
            found = re.search(r"gateway on http://127\.0\.0\.1:(\d+)", process.stderr.readline())
            if found:
                port = int(found.group(1))
                break
        assert port is not None, f"serve did not start (exit status {process.poll()})"
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            big = client.post(invoke_url("echo"), json={}, headers={"x-big": "v" * 100 * 1024})
            many = client.post(invoke_url("echo"), json={}, headers=_headers(500, 1))
            get = client.get(invoke_url("echo"))
        assert big.status_code == 431 and big.json()["code"] == "headers_too_large", big.text
        assert many.status_code == 431 and many.json()["code"] == "headers_too_large"
        assert get.status_code == 405 and get.headers["allow"] == "POST"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()
