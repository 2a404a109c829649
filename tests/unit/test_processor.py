"""GatewayRequestProcessor and the event builder: from InputContext to InvocationResult."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from reference.gateway.backends.inprocess import InProcessBackend
from reference.gateway.core.errors import RateLimited, WorkerError
from reference.gateway.models import FunctionEntity, InputContext, InvocationResult
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.event_builder import EventBuilder, proxy_response_to_result
from reference.gateway.services.invoker import LambdaInvoker
from reference.gateway.services.processor import GatewayRequestProcessor
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.routing import Route, RouteTable
from reference.gateway.services.worker_transports import WorkerTransports


def context(
    path: str = "/hello", method: str = "POST", body: bytes = b"", **headers: str
) -> InputContext:
    return InputContext(path, method, headers, {}, body, headers.get("x-user-id"), "req-1")


def processor(answer: httpx.Response, **kwargs: object) -> tuple[GatewayRequestProcessor, list]:
    seen: list[httpx.Request] = []

    def worker(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    registry = FunctionRegistry({"fn": FunctionEntity(name="fn")})
    transport = httpx.MockTransport(worker)
    backend = InProcessBackend(
        {"fn": registry.get("fn").scaling}, transport_factory=lambda n: transport
    )
    invoker = LambdaInvoker(backend, registry, BreakerBoard(), WorkerTransports())
    routes = RouteTable([Route(path="/hello", method="POST", function="fn")])
    return GatewayRequestProcessor(invoker, EventBuilder(), routes, **kwargs), seen  # type: ignore[arg-type]


async def test_a_proxy_response_becomes_the_http_answer() -> None:
    proxy = {"statusCode": 201, "headers": {"X-A": "1", "Connection": "close"}, "body": "made"}
    proc, seen = processor(httpx.Response(200, json=proxy))
    result = await proc.process(context(body=b'{"k": 1}', **{"content-type": "application/json"}))
    assert (result.status_code, result.payload) == (201, b"made")
    assert result.headers == {"x-a": "1"}
    event = json.loads(seen[0].content)
    assert event["body"] == '{"k": 1}' and event["requestContext"]["requestId"] == "req-1"


async def test_a_plain_payload_passes_through_unchanged() -> None:
    proc, _ = processor(httpx.Response(200, json={"just": "data"}))
    result = await proc.process(context())
    assert result.status_code == 200 and json.loads(result.payload) == {"just": "data"}


async def test_an_unmatched_route_or_malformed_json_never_reaches_the_worker() -> None:
    proc, seen = processor(httpx.Response(200, json={}))
    assert (await proc.process(context(path="/other"))).status_code == 404
    bad = context(body=b"{nope", **{"content-type": "application/json"})
    assert (await proc.process(bad)).status_code == 422
    assert seen == []


async def test_the_rate_limiter_is_asked_before_the_call_and_its_429_carries_retry_after() -> None:
    asked: list[tuple[str, str]] = []

    class Limiter:
        async def check(self, ctx: InputContext, function: str) -> None:
            asked.append((ctx.request_id, function))
            raise RateLimited("slow down", retry_after=2.5)

        async def aclose(self) -> None:
            return None

    proc, seen = processor(httpx.Response(200, json={}), rate_limiter=Limiter())
    for result in (await proc.process(context()), await proc.invoke("fn", context())):
        assert result.status_code == 429 and result.headers["Retry-After"] == "3"
    assert asked == [("req-1", "fn"), ("req-1", "fn")] and seen == []


async def test_a_route_matched_by_the_caller_is_used_as_given() -> None:
    proc, seen = processor(httpx.Response(200, json={"just": "data"}))
    match = proc.routes.match("/hello", "POST")
    proc.routes = RouteTable([])  # a second match would now fail with 404
    result = await proc.process(context(), match)
    assert result.status_code == 200 and len(seen) == 1
    assert (await proc.process(context())).status_code == 404


@pytest.mark.parametrize("event", [False, True])
@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("a/b", 422, "invalid_function_name"), ("", 422, "invalid_function_name"),
     ("nope", 404, "function_not_found")],
)  # fmt: skip
async def test_a_bad_or_unknown_name_is_refused_before_the_worker(
    event: bool, name: str, status: int, code: str
) -> None:
    proc, seen = processor(httpx.Response(200, json={}))
    call = proc.invoke_event if event else proc.invoke
    result = await call(name, context())
    assert result.status_code == status and json.loads(result.payload)["code"] == code
    assert result.headers == {"content-type": "application/json"} and seen == []


def test_a_non_utf8_body_is_base64_in_the_event() -> None:
    route = RouteTable([Route(path="/b", function="fn")]).match("/b", "PUT")
    event = json.loads(EventBuilder().build(context("/b", "PUT", b"\xff\xfe"), route))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


@pytest.mark.parametrize(
    "document",
    [
        {"statusCode": "200"},
        {"statusCode": 700},
        {"statusCode": 200, "headers": {"X-Bad": "a\r\nSet-Cookie: x"}},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    ],
)
def test_an_invalid_proxy_response_is_a_worker_error(document: dict) -> None:
    result = InvocationResult(True, 200, json.dumps(document).encode(), {})
    with pytest.raises(WorkerError):
        proxy_response_to_result(result)


def test_a_base64_proxy_body_is_decoded_and_multi_value_headers_kept_apart() -> None:
    document = {
        "statusCode": 200,
        "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True,
        "multiValueHeaders": {"X-M": ["a", "b"]},
    }
    result = proxy_response_to_result(InvocationResult(True, 200, json.dumps(document).encode()))
    assert result.payload == b"\x00\x01" and result.headers["x-m"] == ["a", "b"]
