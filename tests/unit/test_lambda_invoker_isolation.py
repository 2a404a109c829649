"""LambdaInvoker in isolation (seed 000, Phase 0.2): a fake backend, a mocked HTTP worker.

The backend is a recording fake of the InvocationBackend protocol; the worker
is an ``httpx.MockTransport``, so no socket or process is involved. Every test
also checks the worker ledger: each acquired worker released or evicted once.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from reference.gateway.backends.base import InvocationBackend, WorkerInfo
from reference.gateway.core.breaker import BreakerConfig, BreakerState
from reference.gateway.models import FunctionEntity, InvocationResult
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.invoker import INVOKE_PATH, LambdaInvoker
from reference.gateway.services.pool import AcquireTimeoutError, UnknownFunctionError
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.worker_transports import WorkerTransports

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeBackend:
    """Hands out one worker per call and records what came back, and how."""

    def __init__(self, handler: Handler, *, acquire_error: BaseException | None = None) -> None:
        self.transport = httpx.MockTransport(handler)
        self.acquire_error = acquire_error
        self.acquired: list[WorkerInfo] = []
        self.released: list[WorkerInfo] = []
        self.evicted: list[WorkerInfo] = []

    async def acquire_worker(self, function: str) -> WorkerInfo:
        if self.acquire_error is not None:
            raise self.acquire_error
        worker = WorkerInfo(
            f"{function}-{len(self.acquired)}", function, "http://w", self.transport
        )
        self.acquired.append(worker)
        return worker

    async def release_worker(self, function: str, worker: WorkerInfo) -> None:
        self.released.append(worker)

    async def evict_worker(self, function: str, worker: WorkerInfo) -> None:
        self.evicted.append(worker)

    async def __aenter__(self) -> FakeBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def assert_ledger(self) -> None:
        returned = self.released + self.evicted
        assert sorted(w.id for w in returned) == sorted(w.id for w in self.acquired)


def ok(body: object = None, status: int = 200, **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, json=body if body is not None else {"ok": True}, headers=headers
        )

    return handler


def make(
    backend: FakeBackend, *, timeout: float = 5.0, breaker: BreakerConfig | None = None
) -> tuple[LambdaInvoker, Clock]:
    clock = Clock()
    registry = FunctionRegistry({"echo": FunctionEntity(name="echo", timeout_seconds=timeout)})
    config = breaker or BreakerConfig(minimum_calls=2, window_size=4, recovery_timeout=10)
    board = BreakerBoard(config, clock=clock)
    invoker = LambdaInvoker(backend, registry, board, WorkerTransports(), no_capacity_retry_after=2)
    return invoker, clock


def code_of(result: InvocationResult) -> str:
    return json.loads(result.payload)["code"]


def test_the_fake_backend_honours_the_protocol() -> None:
    assert isinstance(FakeBackend(ok()), InvocationBackend)


async def test_a_success_returns_the_workers_answer_and_releases_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=request.content, headers={"connection": "close"})

    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b'{"x":1}', {"traceparent": "00-a-b-01"})
    assert result.success and result.status_code == 200 and result.payload == b'{"x":1}'
    assert "connection" not in result.headers  # hop-by-hop stripped
    assert seen[0].url.path == INVOKE_PATH
    assert seen[0].headers["traceparent"] == "00-a-b-01"
    assert backend.released == backend.acquired and not backend.evicted


async def test_only_trace_and_context_headers_reach_the_worker() -> None:
    seen: list[httpx.Request] = []
    backend = FakeBackend(lambda r: seen.append(r) or httpx.Response(200, json={}))
    invoker, _ = make(backend)
    headers = {"authorization": "secret", "connection": "keep-alive", "x-request-id": "r1"}
    await invoker.invoke_function("echo", b"{}", headers)
    assert "authorization" not in seen[0].headers
    assert seen[0].headers["x-request-id"] == "r1"


async def test_when_acquire_worker_raises_an_exception_the_answer_is_503_and_nothing_leaks() -> (
    None
):
    backend = FakeBackend(ok(), acquire_error=RuntimeError("orchestrator down"))
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 503 and code_of(result) == "backend_unavailable"
    assert "orchestrator down" in json.loads(result.payload)["message"]
    assert result.headers["Retry-After"] == "2"
    assert isinstance(result.error, Exception) and result.is_retryable
    assert not backend.acquired and not backend.released and not backend.evicted


async def test_an_acquire_timeout_is_503_no_capacity_and_does_not_count_against_the_breaker() -> (
    None
):
    backend = FakeBackend(ok(), acquire_error=AcquireTimeoutError("pool full"))
    invoker, _ = make(backend)
    for _ in range(5):
        result = await invoker.invoke_function("echo", b"{}")
        assert result.status_code == 503 and code_of(result) == "no_capacity"
        assert "Retry-After" in result.headers
    snap = invoker.breakers.get("echo").snapshot()
    assert snap.state is BreakerState.CLOSED and snap.failures == 0


async def test_an_unknown_function_is_404_and_a_bad_name_is_422() -> None:
    backend = FakeBackend(ok(), acquire_error=UnknownFunctionError("x"))
    invoker, _ = make(backend)
    assert (await invoker.invoke_function("other", b"")).status_code == 404
    assert code_of(await invoker.invoke_function("../etc", b"")) == "invalid_function_name"
    assert code_of(await invoker.invoke_function("a\x00b", b"")) == "invalid_function_name"
    assert not backend.acquired


async def test_a_5xx_from_the_worker_is_502_the_worker_is_released_and_counted_as_failure() -> None:
    backend = FakeBackend(ok({"boom": 1}, status=500))
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "worker_error"
    assert backend.released == backend.acquired
    assert invoker.breakers.get("echo").snapshot().failures == 1


@pytest.mark.parametrize(
    "handler",
    [
        ok({"errorType": "ValueError", "errorMessage": "bad"}),
        ok({"result": 1}, **{"X-Amz-Function-Error": "Unhandled"}),
    ],
    ids=["200-with-errorType", "x-amz-function-error"],
)
async def test_a_function_error_is_502_with_the_error_header(handler: Handler) -> None:
    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "function_error"
    assert result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert invoker.breakers.get("echo").snapshot().failures == 1
    backend.assert_ledger()


async def test_a_200_that_merely_mentions_errorType_in_a_string_is_a_success() -> None:
    backend = FakeBackend(ok({"text": 'see "errorType" docs'}))
    invoker, _ = make(backend)
    assert (await invoker.invoke_function("echo", b"{}")).success


async def test_a_workers_set_cookie_is_passed_on_but_never_sent_back_to_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={}, headers={"Set-Cookie": "session=alice; Path=/"})

    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    first = await invoker.invoke_function("echo", b"{}")
    assert first.headers["set-cookie"].startswith("session=alice")
    await invoker.invoke_function("echo", b"{}")
    assert backend.acquired[0].transport is backend.acquired[1].transport
    assert "cookie" not in seen[1].headers


class BrokenBody(httpx.AsyncByteStream):
    """A body that breaks after its first chunk, as a worker dying mid-answer does."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"partial'
        raise httpx.ReadError("connection reset mid-body")

    async def aclose(self) -> None:
        self.closed = True


async def test_a_body_that_breaks_is_502_its_response_closed_and_the_worker_evicted() -> None:
    body = BrokenBody()
    backend = FakeBackend(lambda request: httpx.Response(200, stream=body))
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "worker_error"
    assert body.closed
    assert backend.evicted == backend.acquired and not backend.released


async def test_a_gzip_answer_passes_through_as_its_gzip_bytes_with_its_header() -> None:
    compressed = gzip.compress(b'{"ok": true}')
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    backend = FakeBackend(lambda request: httpx.Response(200, content=compressed, headers=headers))
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.success and result.payload == compressed
    assert result.headers["content-encoding"] == "gzip"
    assert backend.released == backend.acquired and not backend.evicted


async def test_a_body_marked_gzip_that_is_not_gzip_passes_through_unchanged() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        stream = httpx.ByteStream(b'{"plain": 1}')  # as a network transport hands it over
        return httpx.Response(200, stream=stream, headers={"content-encoding": "gzip"})

    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.success and result.payload == b'{"plain": 1}'
    assert result.headers["content-encoding"] == "gzip"
    assert backend.released == backend.acquired and not backend.evicted
    assert invoker.breakers.get("echo").snapshot().failures == 0


async def test_any_httpx_error_from_the_transport_is_502_and_evicts_the_worker() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.DecodingError("not gzip after all", request=request)  # not a TransportError

    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and code_of(result) == "worker_error"
    assert backend.evicted == backend.acquired and not backend.released
    assert invoker.breakers.get("echo").snapshot().failures == 1


class StalledBody(httpx.AsyncByteStream):
    """A body whose first chunk never comes, as a worker stalling after its head does."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.reading.set()
        await asyncio.sleep(30)
        yield b"unreachable"

    async def aclose(self) -> None:
        self.closed += 1


async def test_a_body_read_that_times_out_closes_the_response_and_evicts_once() -> None:
    body = StalledBody()
    backend = FakeBackend(lambda request: httpx.Response(200, stream=body))
    invoker, _ = make(backend, timeout=0.05)
    result = await asyncio.wait_for(invoker.invoke_function("echo", b"{}"), 5)
    assert result.status_code == 504 and code_of(result) == "worker_timeout"
    assert body.closed == 1
    assert backend.evicted == backend.acquired and len(backend.evicted) == 1
    assert not backend.released


async def test_a_body_read_that_is_cancelled_closes_the_response_and_evicts_once() -> None:
    body = StalledBody()
    backend = FakeBackend(lambda request: httpx.Response(200, stream=body))
    invoker, _ = make(backend)
    task = asyncio.create_task(invoker.invoke_function("echo", b"{}"))
    await asyncio.wait_for(body.reading.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.closed == 1
    assert backend.evicted == backend.acquired and len(backend.evicted) == 1
    assert not backend.released


async def test_an_unreachable_worker_is_evicted_never_released() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    backend = FakeBackend(handler)
    invoker, _ = make(backend)
    result = await invoker.invoke_function("echo", b"{}")
    assert result.status_code == 502 and result.is_retryable
    assert backend.evicted == backend.acquired and not backend.released


async def test_a_hung_worker_gives_504_after_timeout_seconds_and_is_evicted() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    backend = FakeBackend(hang)  # type: ignore[arg-type]
    invoker, _ = make(backend, timeout=0.05)
    result = await asyncio.wait_for(invoker.invoke_function("echo", b"{}"), 5)
    assert result.status_code == 504 and code_of(result) == "worker_timeout"
    assert backend.evicted == backend.acquired and not backend.released
    assert invoker.breakers.get("echo").snapshot().failures == 1


async def test_a_cancelled_call_evicts_its_worker_and_frees_the_probe_slot() -> None:
    started = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    backend = FakeBackend(hang)  # type: ignore[arg-type]
    invoker, _ = make(backend)
    task = asyncio.create_task(invoker.invoke_function("echo", b"{}"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.evicted == backend.acquired and not backend.released
    assert invoker.breakers.get("echo").snapshot().failures == 0


async def test_breaker_closed_to_open_to_half_open_to_closed_through_the_invoker() -> None:
    answers = iter([500, 500, 200, 200])
    backend = FakeBackend(lambda r: httpx.Response(next(answers), json={}))
    invoker, clock = make(backend)
    breaker = invoker.breakers.get("echo")
    assert (await invoker.invoke_function("echo", b"{}")).status_code == 502
    assert breaker.state is BreakerState.CLOSED
    assert (await invoker.invoke_function("echo", b"{}")).status_code == 502
    assert breaker.state is BreakerState.OPEN
    calls_before = len(backend.acquired)
    rejected = await invoker.invoke_function("echo", b"{}")
    assert rejected.status_code == 503 and code_of(rejected) == "circuit_open"
    assert rejected.headers["Retry-After"] == "10"
    assert len(backend.acquired) == calls_before  # rejected without touching the backend
    clock.now = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert (await invoker.invoke_function("echo", b"{}")).status_code == 200
    assert breaker.state is BreakerState.CLOSED
    backend.assert_ledger()


async def test_breaker_half_open_probe_failure_reopens_it() -> None:
    backend = FakeBackend(ok(status=503))
    invoker, clock = make(backend)
    for _ in range(2):
        await invoker.invoke_function("echo", b"{}")
    clock.now = 10.0
    assert (await invoker.invoke_function("echo", b"{}")).status_code == 502
    breaker = invoker.breakers.get("echo")
    assert breaker.state is BreakerState.OPEN and breaker.trips == 2
