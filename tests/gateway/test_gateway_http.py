"""The gateway's HTTP contract, driven in-process: status codes, error bodies, headers."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest
from gateway_helpers import GatewayFactory, error_code, invoke_url

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.core.access_log import ACCESS_LOGGER
from reference.gateway.models import ScalingConfig

SCALING = {
    name: ScalingConfig(max_capacity=2, acquire_timeout=2) for name in ("echo", "sleep", "fail")
}


def mock_backend(handler) -> InProcessBackend:
    transport = httpx.MockTransport(handler)
    return InProcessBackend(SCALING, transport_factory=lambda name: transport)


async def test_invoking_echo_returns_the_payload(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(invoke_url("echo"), json={"hello": [1, 2]})
        assert response.status_code == 200
        assert response.json() == {"hello": [1, 2]}
        assert response.headers["content-type"] == "application/json"


async def test_every_response_carries_a_request_id_kept_when_valid(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        kept = await gw.client.post(invoke_url("echo"), json={}, headers={"X-Request-ID": "abc-1"})
        assert kept.headers["x-request-id"] == "abc-1"
        for bad in ("has space", "x" * 200, "<script>"):
            made = await gw.client.get("/health", headers={"X-Request-ID": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        error = await gw.client.post(invoke_url("nope"))
        assert re.fullmatch(r"[0-9a-f]{32}", error.headers["x-request-id"])
        assert len(error.headers.get_list("x-request-id")) == 1


async def test_a_routed_request_becomes_a_lambda_proxy_event(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.client.get("/items/42?color=red", headers={"X-Request-ID": "r-9"})
        assert response.status_code == 200
        event = response.json()  # echo answers with the event it received
        assert event["httpMethod"] == "GET" and event["path"] == "/items/42"
        assert event["resource"] == "/items/{id}" and event["pathParameters"] == {"id": "42"}
        assert event["queryStringParameters"] == {"color": "red"}
        assert event["requestContext"]["requestId"] == "r-9"
        posted = await gw.client.post("/echo", json={"a": 1})
        assert json.loads(posted.json()["body"]) == {"a": 1}
        assert posted.json()["isBase64Encoded"] is False


async def test_a_binary_body_travels_base64_encoded(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post("/echo", content=b"\xff\x00\xfe")
        assert response.json()["isBase64Encoded"] is True


async def test_malformed_json_to_the_routed_api_is_422(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/echo", content=b'{"a": ', headers={"content-type": "application/json"}
        )
        assert response.status_code == 422 and error_code(response) == "bad_request"


async def test_an_oversized_body_is_413_declared_or_streamed(make_gateway: GatewayFactory) -> None:
    async with make_gateway(max_body_bytes=1000) as gw:
        declared = await gw.client.post(invoke_url("echo"), content=b"x" * 1001)
        assert declared.status_code == 413 and error_code(declared) == "payload_too_large"

        async def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(5):
                yield b"y" * 400

        streamed = await gw.client.post("/echo", content=chunks())
        assert streamed.status_code == 413
        exactly = await gw.client.post(invoke_url("echo"), content=b"1" * 1000)
        assert exactly.status_code == 200


async def test_a_declared_or_streamed_413_is_the_same_json_error(
    make_gateway: GatewayFactory,
) -> None:
    async def chunks():
        yield b"y" * 1001

    async with make_gateway(max_body_bytes=1000) as gw:
        headers = {"X-Request-ID": "rid-1"}
        declared = await gw.client.post("/echo", content=b"x" * 1001, headers=headers)
        streamed = await gw.client.post("/echo", content=chunks(), headers=headers)
    message = "the body is larger than 1000 bytes (GATEPROOF_MAX_BODY_BYTES); send less"
    body = json.dumps({"code": "payload_too_large", "message": message}).encode()
    for response in (declared, streamed):
        assert (response.status_code, response.content) == (413, body)
        *raw, (timing, split) = response.headers.raw
        assert raw == [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", b"rid-1"),
        ]
        assert timing == b"server-timing" and re.fullmatch(rb"gw;dur=\d+\.\d{3}", split)


async def test_unknown_function_and_unknown_route_are_404_an_unrouted_method_405(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        function = await gw.client.post(invoke_url("nope"), json={})
        assert function.status_code == 404 and error_code(function) == "function_not_found"
        route = await gw.client.get("/no/such/route")
        assert route.status_code == 404 and error_code(route) == "route_not_found"
        method = await gw.client.delete("/echo")
        assert method.status_code == 405 and error_code(method) == "method_not_allowed"
        assert method.headers["allow"] == "POST"


@pytest.mark.parametrize("name", ["%2E%2E", "a%01b", "%0d%0aSet-Cookie:x", "a" * 65, "f%20g"])
async def test_function_names_with_path_tricks_or_control_characters_are_422(
    make_gateway: GatewayFactory, name: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(invoke_url(name), json={})
        assert response.status_code == 422 and error_code(response) == "invalid_function_name"


async def test_a_traversal_in_the_path_never_reaches_a_function(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post("/2015-03-31/functions/..%2F..%2Fecho/invocations")
        assert response.status_code in (404, 422)


async def test_a_header_with_cr_or_lf_is_refused_before_any_route(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": invoke_url("echo"),
            "raw_path": invoke_url("echo").encode(), "query_string": b"", "root_path": "",
            "headers": [(b"x-evil", b"a\r\nSet-Cookie: stolen=1")],
            "client": ("127.0.0.1", 1), "server": ("gateway", 80),
        }  # fmt: skip
        await gw.app(scope, receive, send)
        assert messages[0]["status"] == 422
        body = json.loads(b"".join(m.get("body", b"") for m in messages[1:]))
        assert body["code"] == "bad_request" and "CR, LF" in body["message"]
        assert any(name == b"x-request-id" for name, _ in messages[0]["headers"])
        assert gw.container.pool_stats()["echo"].busy == 0


async def test_trace_headers_reach_the_worker_and_hop_by_hop_headers_do_not_return(
    make_gateway: GatewayFactory,
) -> None:
    seen: list[httpx.Request] = []

    def worker(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"Connection": "x-private", "X-Private": "1", "Keep-Alive": "5", "X-Kept": "yes"}
        return httpx.Response(200, json={"ok": 1}, headers=headers)

    async with make_gateway(with_backend=mock_backend(worker)) as gw:
        trace = {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793",
            "X-Request-ID": "req-1",
            "Proxy-Authorization": "Basic c2VjcmV0",
        }
        response = await gw.client.post(invoke_url("echo"), json={}, headers=trace)
        assert response.status_code == 200
        forwarded = seen[0].headers
        assert forwarded["traceparent"] == trace["traceparent"]
        assert forwarded["x-amzn-trace-id"] == trace["X-Amzn-Trace-Id"]
        assert forwarded["x-request-id"] == "req-1"
        assert "proxy-authorization" not in forwarded
        assert response.headers["x-kept"] == "yes"
        assert "x-private" not in response.headers and "keep-alive" not in response.headers


async def test_an_event_invocation_is_202_runs_in_the_background_and_is_bounded(
    make_gateway: GatewayFactory,
) -> None:
    gate = asyncio.Event()
    calls: list[bytes] = []

    async def worker(request: httpx.Request) -> httpx.Response:
        calls.append(await request.aread())
        await gate.wait()
        return httpx.Response(200, json={})

    async with make_gateway(with_backend=mock_backend(worker), max_background_invocations=1) as gw:
        headers = {"X-Amz-Invocation-Type": "Event"}
        first = await gw.client.post(invoke_url("echo"), content=b'{"n":1}', headers=headers)
        assert first.status_code == 202 and first.content == b""
        for _ in range(200):  # bounded wait for the background call to reach the worker
            if calls:
                break
            await asyncio.sleep(0.01)
        assert calls == [b'{"n":1}']
        second = await gw.client.post(invoke_url("echo"), content=b"{}", headers=headers)
        assert second.status_code == 503 and "Retry-After" in second.headers
        bad = await gw.client.post(invoke_url("echo"), headers={"X-Amz-Invocation-Type": "Bogus"})
        assert bad.status_code == 422 and error_code(bad) == "bad_request"
        gate.set()
        for _ in range(200):
            if gw.container.background.running == 0:
                break
            await asyncio.sleep(0.01)
        assert gw.container.background.running == 0 and gw.ledger_is_consistent()


async def test_a_failing_function_opens_its_breaker_then_503_with_retry_after(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(breaker={"minimum_calls": 2, "window_size": 4}) as gw:
        for _ in range(2):
            failed = await gw.client.post(invoke_url("fail"), json={})
            assert failed.status_code == 502 and error_code(failed) == "function_error"
            assert failed.headers["x-amz-function-error"] == "Unhandled"
        rejected = await gw.client.post("/fail", json={})
        assert rejected.status_code == 503 and error_code(rejected) == "circuit_open"
        assert int(rejected.headers["retry-after"]) >= 1
        status = (await gw.client.get("/api/gateway/status")).json()
        assert status["breakers"]["fail"]["state"] == "open"
        assert status["breakers"]["echo"]["state"] == "closed"
        metrics = (await gw.client.get("/metrics")).text
        assert 'gateway_breaker_state{function="fail",state="open"} 1.0' in metrics
        echo = await gw.client.post(invoke_url("echo"), json={})
        assert echo.status_code == 200  # one function's breaker never blocks another


async def test_an_unexpected_error_is_a_json_500_without_a_stack_trace(
    make_gateway: GatewayFactory,
) -> None:
    class BrokenRelease(InProcessBackend):
        async def release_worker(self, function: str, worker) -> None:
            raise RuntimeError("bug in a backend")

    backend = BrokenRelease(SCALING, transport_factory=lambda n: httpx.MockTransport(
        lambda r: httpx.Response(200, json={})))  # fmt: skip
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post(invoke_url("echo"), json={})
        assert response.status_code == 500 and error_code(response) == "internal_error"
        assert "Traceback" not in response.text and "bug in a backend" not in response.text
        assert response.headers["x-request-id"] in response.json()["message"]


async def test_metrics_status_and_services_describe_the_gateway(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        await gw.client.post(invoke_url("echo"), json={})
        await gw.client.post(invoke_url("not-a-function"), json={})
        metrics = await gw.client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'gateway_requests_total{function="echo",status="200"} 1.0' in metrics.text
        assert "not-a-function" not in metrics.text  # client input never becomes a label
        assert 'gateway_pool_workers{function="echo",state="idle"} 1.0' in metrics.text
        status = (await gw.client.get("/api/gateway/status")).json()
        assert status["pools"]["echo"]["idle"] == 1 and status["pools"]["echo"]["busy"] == 0
        services = (await gw.client.get("/api/gateway/services")).json()
        by_name = {s["name"]: s for s in services}
        assert set(by_name) == {"echo", "sleep", "fail"}
        assert {"path": "/items/{id}", "method": "GET"} in by_name["echo"]["routes"]
        assert by_name["sleep"]["timeout_seconds"] == 0.5
        assert (await gw.client.get("/health")).json() == {"status": "ok"}


async def test_the_access_log_has_one_json_object_per_request(
    make_gateway: GatewayFactory,
) -> None:
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(ACCESS_LOGGER)
    handler = Capture()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with make_gateway(access_log=True) as gw:
            await gw.client.post(invoke_url("echo"), json={}, headers={"X-Request-ID": "log-1"})
            await gw.client.get("/no/route")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(record.getMessage()) for record in records]
    assert [line["status"] for line in lines] == [200, 404]
    assert lines[0]["request_id"] == "log-1" and lines[0]["function"] == "echo"
    assert lines[1]["function"] is None
    assert all(
        isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in lines
    )
    assert all("\n" not in record.getMessage() for record in records)


async def test_a_workers_set_cookie_reaches_the_client_but_is_never_replayed(
    make_gateway: GatewayFactory,
) -> None:
    seen: list[httpx.Request] = []

    def worker(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={}, headers={"Set-Cookie": "session=alice; Path=/"})

    async with make_gateway(with_backend=mock_backend(worker)) as gw:
        first = await gw.client.post(invoke_url("echo"), json={})
        assert first.headers["set-cookie"].startswith("session=alice")
        gw.client.cookies.clear()  # the next caller is someone else
        await gw.client.post(invoke_url("echo"), json={})
        assert "cookie" not in seen[1].headers


async def test_the_request_id_the_client_sees_is_the_one_the_worker_gets(
    make_gateway: GatewayFactory,
) -> None:
    seen: list[httpx.Request] = []
    backend = mock_backend(lambda request: seen.append(request) or httpx.Response(200, json={}))
    async with make_gateway(with_backend=backend) as gw:
        response = await gw.client.post(invoke_url("echo"), json={})
        assert seen[0].headers["x-request-id"] == response.headers["x-request-id"]
