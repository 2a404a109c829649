"""``LambdaInvoker``: one invocation of one function on one worker, whatever the backend.

It depends on the :class:`~reference.gateway.backends.base.InvocationBackend`
protocol only and never asks which backend it holds. The worker ledger rule
lives in :meth:`LambdaInvoker._execute_on`: a worker is released after a call
that got an answer, and evicted after any other outcome (unreachable, broken
connection, timeout, cancellation), exactly once.

The retry rule lives in :meth:`LambdaInvoker._call`: a call whose request
never reached its worker (the transport raised one of
:data:`~reference.gateway.services.transport.NOT_SENT`: connection refused,
or lost before the request was written) is sent once more, on another worker
(a fresh one if none is idle), within what is left of the call's acquire
timeout and of its ``timeout_seconds``. A request that may have reached a
worker is never sent again: an invocation is not idempotent. Retries are
counted (``on_retry``, the ``gateway_worker_retries_total`` metric) and carried
on the result (``retries``, the access log's ``retries`` field).

``invoke_function`` never raises for a failed invocation: every outcome is an
:class:`~reference.gateway.models.InvocationResult`, errors included (their
payload is the gateway's JSON error body). Only cancellation propagates.

The gateway is a proxy: the worker's body is passed on as its bytes, never
decoded, with its ``Content-Encoding``; any httpx error is the worker's (502).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NamedTuple

import httpx

from reference.gateway.backends.base import InvocationBackend, WorkerInfo
from reference.gateway.core.breaker import BreakerState, CircuitBreaker
from reference.gateway.core.errors import (
    BackendUnavailable,
    BreakerOpen,
    FunctionError,
    GatewayError,
    NoCapacity,
    UnknownFunction,
    WorkerError,
    WorkerTimeout,
    WorkerUnreachable,
)
from reference.gateway.core.timing import CallTiming, reported_service
from reference.gateway.models import FunctionEntity, InvocationResult
from reference.gateway.services.breakers import BreakerBoard
from reference.gateway.services.headers import forwarded_headers, strip_hop_by_hop
from reference.gateway.services.pool import (
    AcquireTimeoutError,
    PoolClosedError,
    PoolError,
    UnknownFunctionError,
)
from reference.gateway.services.registry import FunctionRegistry
from reference.gateway.services.transport import NOT_SENT, post_request
from reference.gateway.services.worker_transports import WorkerTransports

__all__ = ["INVOKE_PATH", "LambdaInvoker", "WorkerAnswer", "error_result"]

log = logging.getLogger(__name__)

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
_HEALTH_FAILURES = (WorkerError, FunctionError, WorkerTimeout)
_PROBING_RETRY_AFTER = 1.0  # seconds: a HALF_OPEN breaker decides with its probes' answers


class WorkerAnswer(NamedTuple):
    """The worker's answer as it came over the wire: the body is raw, not decoded."""

    status_code: int
    headers: httpx.Headers
    body: bytes


def error_result(error: GatewayError) -> InvocationResult:
    """The result that carries a gateway error to the client."""
    return InvocationResult(
        False, error.status, error.body(), error.response_headers(), error, error.retries
    )


class LambdaInvoker:
    """Invokes functions through a backend, guarded by one breaker per function."""

    def __init__(
        self,
        backend: InvocationBackend,
        registry: FunctionRegistry,
        breakers: BreakerBoard,
        transports: WorkerTransports,
        *,
        no_capacity_retry_after: float = 1.0,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.registry = registry
        self.breakers = breakers
        self.transports = transports
        self.no_capacity_retry_after = no_capacity_retry_after
        self.on_retry = on_retry
        self._urls: weakref.WeakKeyDictionary[WorkerInfo, httpx.URL] = weakref.WeakKeyDictionary()

    async def invoke_function(
        self,
        name: str,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
        timing: CallTiming | None = None,
    ) -> InvocationResult:
        """Run ``name`` with ``payload``; the result holds the answer or the error.

        ``timing``, when given, gets the call's ``queue``, ``hold`` and ``svc``.
        """
        try:
            function = self.registry.get(name)
            breaker = self._admit(name)
            return await self._invoke(
                function, breaker, payload, forwarded_headers(headers or {}), timing
            )
        except GatewayError as error:
            return error_result(error)

    def _admit(self, name: str) -> CircuitBreaker:
        breaker = self.breakers.get(name)
        if not breaker.allow():
            if breaker.state is BreakerState.HALF_OPEN:  # probes running: an answer is near
                raise BreakerOpen(
                    f"function {name!r} is recovering; its circuit breaker lets only probe "
                    f"calls through, retry in {_PROBING_RETRY_AFTER:g}s",
                    retry_after=_PROBING_RETRY_AFTER,
                )
            retry = breaker.retry_after() or self.breakers.config.recovery_timeout
            raise BreakerOpen(
                f"function {name!r} is failing; its circuit breaker rejects calls for "
                f"{retry:.1f}s more",
                retry_after=retry,
            )
        return breaker

    async def _invoke(
        self,
        function: FunctionEntity,
        breaker: CircuitBreaker,
        payload: bytes,
        headers: dict[str, str],
        timing: CallTiming | None,
    ) -> InvocationResult:
        epoch = breaker.epoch  # read before the first await: the state this call was admitted in
        retries = 0
        try:
            answer, retries = await self._call(function, payload, headers, timing)
            result = self._validate_response(answer)
        except _HEALTH_FAILURES as error:
            breaker.record_failure(epoch)
            error.retries = max(error.retries, retries)
            raise
        except BaseException:
            breaker.record_ignored(epoch)  # no capacity, cancelled: nothing learned about health
            raise
        breaker.record_success(epoch)
        return dataclasses.replace(result, retries=retries) if retries else result

    async def _call(
        self,
        function: FunctionEntity,
        payload: bytes,
        headers: dict[str, str],
        timing: CallTiming | None,
    ) -> tuple[WorkerAnswer, int]:
        """The worker's answer and the retries it took (0 or 1): see the module docstring."""
        loop = asyncio.get_running_loop()
        acquire_by = loop.time() + function.scaling.acquire_timeout
        worker = await self._timed_acquire(self._acquire_worker(function.name), timing)
        deadline = loop.time() + function.timeout_seconds
        try:
            return await self._timed_run(function, worker, payload, headers, deadline, timing), 0
        except WorkerUnreachable:  # nothing ran: once more, on another worker
            if self.on_retry is not None:
                self.on_retry(function.name)
        try:
            again = self._acquire_again(function.name, acquire_by)
            worker = await self._timed_acquire(again, timing)
            return await self._timed_run(function, worker, payload, headers, deadline, timing), 1
        except GatewayError as error:
            error.retries = 1
            raise

    @staticmethod
    async def _timed_acquire(
        acquiring: Coroutine[Any, Any, WorkerInfo], timing: CallTiming | None
    ) -> WorkerInfo:
        """Await ``acquiring``, adding its wait to ``timing.queue`` (no clock read without one)."""
        if timing is None:
            return await acquiring
        asked = time.perf_counter()
        try:
            return await acquiring
        finally:
            timing.queue = (timing.queue or 0.0) + time.perf_counter() - asked

    async def _timed_run(
        self,
        function: FunctionEntity,
        worker: WorkerInfo,
        payload: bytes,
        headers: dict[str, str],
        deadline: float,
        timing: CallTiming | None,
    ) -> WorkerAnswer:
        """``_execute_on``, adding the worker's hold to ``timing.hold`` and noting its ``svc``."""
        if timing is None:
            return await self._execute_on(function, worker, payload, headers, deadline)
        got = time.perf_counter()
        try:
            answer = await self._execute_on(function, worker, payload, headers, deadline)
        finally:
            timing.hold = (timing.hold or 0.0) + time.perf_counter() - got
        timing.svc = reported_service(answer.body)
        return answer

    async def _acquire_again(self, name: str, acquire_by: float) -> WorkerInfo:
        """A worker for the retry, by the call's own acquire deadline (503 past it)."""
        try:
            async with asyncio.timeout_at(acquire_by):
                return await self._acquire_worker(name)
        except TimeoutError:
            raise NoCapacity(
                f"no other worker of {name!r} within its acquire_timeout after its worker "
                f"could not be reached; retry",
                retry_after=self.no_capacity_retry_after,
            ) from None

    async def _acquire_worker(self, name: str) -> WorkerInfo:
        try:
            return await self.backend.acquire_worker(name)
        except AcquireTimeoutError as error:
            raise NoCapacity(str(error), retry_after=self.no_capacity_retry_after) from error
        except UnknownFunctionError as error:
            raise UnknownFunction(str(error)) from error
        except PoolClosedError as error:
            raise BackendUnavailable(
                "the gateway is shutting down; retry on another instance", retry_after=1
            ) from error
        except Exception as error:
            log.warning("no worker for %s: %r", name, error)
            raise BackendUnavailable(
                f"could not start a worker for {name!r} ({type(error).__name__}: {error}); "
                f"check the backend",
                retry_after=self.no_capacity_retry_after,
            ) from error

    async def _execute_on(
        self,
        function: FunctionEntity,
        worker: WorkerInfo,
        payload: bytes,
        headers: dict[str, str],
        deadline: float,
    ) -> WorkerAnswer:
        """Call the worker by ``deadline`` (loop time); release or evict it exactly once."""
        try:
            async with asyncio.timeout_at(deadline):
                answer = await self._execute_request(worker, payload, headers)
        except (TimeoutError, httpx.RequestError, OSError) as error:
            await self._evict(function.name, worker)
            raise _failure(function, error) from error
        except BaseException:
            await asyncio.shield(self._evict(function.name, worker))
            raise
        await self._release(function.name, worker)
        return answer

    async def _release(self, name: str, worker: WorkerInfo) -> None:
        """Return the worker; a pool that refuses it (drained at shutdown) costs no answer."""
        try:
            await self.backend.release_worker(name, worker)
        except PoolError as error:
            log.warning("worker %s of %r not released: %s", worker.id, name, error)

    async def _evict(self, name: str, worker: WorkerInfo) -> None:
        """Evict the worker; a refusal is logged, never raised over the call's own outcome."""
        try:
            await self.backend.evict_worker(name, worker)
        except PoolError as error:
            log.warning("worker %s of %r not evicted: %s", worker.id, name, error)

    async def _execute_request(
        self, worker: WorkerInfo, payload: bytes, headers: dict[str, str]
    ) -> WorkerAnswer:
        """POST to the worker's transport directly (see worker_transports), the body read raw.

        The response is closed on every path, so a failed or cancelled read frees its connection.
        """
        transport = self.transports.for_worker(worker)
        request = post_request(self._invoke_url(worker), payload, headers)
        response = await transport.handle_async_request(request)
        try:
            body = await _read_raw(response)
        finally:
            await response.aclose()
        return WorkerAnswer(response.status_code, response.headers, body)

    def _invoke_url(self, worker: WorkerInfo) -> httpx.URL:
        """The worker's invoke URL, parsed once per worker (URL parsing is costly in httpx)."""
        url = self._urls.get(worker)
        if url is None:
            url = self._urls[worker] = httpx.URL(worker.url + INVOKE_PATH)
        return url

    def _validate_response(self, answer: WorkerAnswer) -> InvocationResult:
        """A success, or the error the worker's answer means (5xx, function error)."""
        status, body = answer.status_code, answer.body
        if status >= 500:
            raise WorkerError(f"the worker answered {status}; see the function's logs")
        function_error = answer.headers.get("x-amz-function-error")
        if function_error is not None or _is_error_body(body):
            raise FunctionError.from_payload(body, function_error or "Unhandled")
        headers = strip_hop_by_hop(answer.headers.multi_items())
        return InvocationResult(True, status, body, headers)


def _failure(function: FunctionEntity, error: Exception) -> GatewayError:
    """What a failed call to a worker answers: timeout, never reached, or broken after sending."""
    if isinstance(error, TimeoutError):
        return WorkerTimeout(
            f"function {function.name!r} did not answer within "
            f"{function.timeout_seconds:g}s (timeout_seconds); its worker was replaced"
        )
    if isinstance(error, NOT_SENT):
        return WorkerUnreachable(
            f"no worker of {function.name!r} could be reached ({type(error).__name__}); "
            f"the request never reached one, retry the call"
        )
    return WorkerError(
        f"worker of {function.name!r} broke the connection after the request was sent "
        f"({type(error).__name__}); it was replaced, retry the call if it may run twice"
    )


async def _read_raw(response: httpx.Response) -> bytes:
    """The body's bytes as the worker sent them: a proxy must not undo Content-Encoding.

    This is ``aiter_raw`` without its guard: an in-memory response (``httpx.Response(content=)``,
    as ``MockTransport`` handlers build) is read, decoded, at construction, yet its stream still
    holds the raw bytes, which ``aiter_raw`` would refuse to give.
    """
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError(f"{type(stream).__name__} is not an async byte stream")
    return b"".join([chunk async for chunk in stream])


def _is_error_body(body: bytes) -> bool:
    """A 200 whose JSON object has ``errorType`` or ``errorMessage`` (a logical error)."""
    if not body.startswith(b"{") or (b'"errorType"' not in body and b'"errorMessage"' not in body):
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict) and ("errorType" in document or "errorMessage" in document)
