"""The gateway as it was before the refactor: one module that does everything.

This is the "before" picture of the strangler-fig plan. Configuration
parsing, request parsing, Lambda proxy events, ``json.dumps``, pool and
breaker bookkeeping and error mapping all live in this file, inside the
handlers. It serves the same HTTP API as ``reference.gateway`` (invoke API,
``Event`` invocations, the routed catch-all from ``routing.yml``, ``/health``,
``/metrics``, ``/api/gateway/status``, ``/api/gateway/services``, JSON errors
with the same codes), so every suite and load test can target either one.
It keeps the known defects, on purpose:

* the legacy pool (:mod:`reference.legacy.pool`): the acquire race, and an
  evicted idle worker handed out again (the race surfaces as a 500);
* the legacy breaker (:mod:`reference.legacy.breaker`): failures are never
  forgotten, and half-open lets every caller through;
* no liveness check before a worker is handed out: the request that meets a
  dead worker gets the 502.

Workers are runtime subprocesses started by the process backend's
:class:`~reference.gateway.backends.process.WorkerSpawner`, so the legacy
gateway leaves no orphan processes either.

Run it with ``uvicorn reference.legacy.main:app`` (config files from
``GATEPROOF_FUNCTIONS_FILE`` and ``GATEPROOF_ROUTING_FILE``, the reference's
samples by default), or build one with :func:`create_app`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml
from fastapi import FastAPI, Request, Response

from reference.gateway.backends.process import WorkerSpawner, WorkerStartError
from reference.gateway.models import FunctionEntity, ScalingConfig
from reference.legacy.breaker import LegacyBreakerState, LegacyCircuitBreaker
from reference.legacy.pool import LegacyPool

__all__ = ["app", "create_app"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "gateway" / "config"
WORKER_INVOKE_PATH = "/2015-03-31/functions/function/invocations"
FORWARDED_HEADERS = (
    "content-type",
    "traceparent",
    "tracestate",
    "x-amzn-trace-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-request-id",
)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


def _error(status: int, code: str, message: str, retry_after: float | None = None) -> Response:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after + 0.499)))
    body = json.dumps({"code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _substitute(value: Any) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, fallback = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if fallback is not None:
                return fallback
            raise ValueError(f"environment variable {name} is not set and has no fallback")

        return ENV_RE.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _load_functions(path: Path | str) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        raw = _substitute(yaml.safe_load(file) or {})
    defaults = raw.get("defaults") or {}
    functions: dict[str, dict[str, Any]] = {}
    for name, config in (raw.get("functions") or {}).items():
        entity = FunctionEntity(name=name, **_merge(defaults, config or {}))
        functions[name] = entity.model_dump()  # the legacy code reads dict keys everywhere
    return functions


def _load_routes(path: Path | str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        raw = _substitute(yaml.safe_load(file) or {})
    routes = []
    for entry in raw.get("routes") or []:
        regex, position = "", 0
        for match in PARAM_RE.finditer(entry["path"]):
            regex += re.escape(entry["path"][position : match.start()])
            pattern = ".+" if match.group(2) else "[^/]+"
            regex += f"(?P<{match.group(1)}>{pattern})"
            position = match.end()
        regex += re.escape(entry["path"][position:])
        routes.append(
            {
                "path": entry["path"],
                "method": str(entry.get("method", "ANY")).upper(),
                "function": entry["function"],
                "regex": re.compile(regex),
            }
        )
    return routes


class _State:
    """Everything the handlers share; built by :func:`create_app`, started by its lifespan."""

    def __init__(self) -> None:
        self.functions: dict[str, dict[str, Any]] = {}
        self.routes: list[dict[str, Any]] = []
        self.pools: dict[str, LegacyPool[Any]] = {}
        self.breakers: dict[str, LegacyCircuitBreaker] = {}
        self.spawner: WorkerSpawner | None = None
        self.client: httpx.AsyncClient | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self.janitor: asyncio.Task[None] | None = None
        self.requests: dict[tuple[str, int], int] = {}
        self.max_body_bytes = 6 * 1024 * 1024
        self.max_background = 64


def create_app(
    functions_path: Path | str,
    routing_path: Path | str,
    *,
    max_body_bytes: int = 6 * 1024 * 1024,
    ready_timeout: float = 10.0,
    failure_threshold: int = 5,
    recovery_timeout: float = 30.0,
    janitor_interval: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The legacy gateway for these config files; workers start with the app's lifespan."""
    st = _State()
    st.functions = _load_functions(functions_path)
    st.routes = _load_routes(routing_path)
    st.max_body_bytes = max_body_bytes
    for name in st.functions:
        st.breakers[name] = LegacyCircuitBreaker(failure_threshold, recovery_timeout, clock=clock)
    for route in st.routes:
        if route["function"] not in st.functions:
            raise ValueError(f"{routing_path}: route {route['path']} names unknown function")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st.spawner = WorkerSpawner(ready_timeout=ready_timeout)
        st.client = httpx.AsyncClient(
            timeout=None, limits=httpx.Limits(max_connections=512, max_keepalive_connections=512)
        )
        for name, config in st.functions.items():
            entity = FunctionEntity(**config)
            provision = partial(st.spawner.spawn, entity)
            st.pools[name] = LegacyPool(name, ScalingConfig(**config["scaling"]), provision)
        try:
            for pool in st.pools.values():
                await pool.start()

            async def janitor() -> None:
                while True:
                    await asyncio.sleep(janitor_interval)
                    for pool in st.pools.values():
                        await st.spawner.kill(*pool.prune_idle())  # type: ignore[union-attr]

            st.janitor = asyncio.create_task(janitor())
            yield
        finally:
            if st.janitor is not None:
                st.janitor.cancel()
            for task in list(st.background):
                task.cancel()
            await asyncio.gather(*st.background, return_exceptions=True)
            for pool in st.pools.values():
                await st.spawner.kill(*await pool.drain())
            await st.spawner.kill_all()
            await st.client.aclose()

    app = FastAPI(title="gateproof legacy gateway", version="0.0.1", lifespan=lifespan)
    app.state.legacy = st

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        given = request.headers.get("x-request-id", "")
        rid = given if REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
        request.state.request_id = rid
        request.state.function = "-"
        try:
            response = await call_next(request)
        except Exception as error:
            response = _error(500, "internal_error", f"{type(error).__name__}: {error}")
        response.headers["X-Request-ID"] = rid
        key = (request.state.function, response.status_code)
        st.requests[key] = st.requests.get(key, 0) + 1
        return response

    async def call_function(
        name: str, payload: bytes, headers: dict[str, str]
    ) -> tuple[Response, bytes | None, dict[str, str]]:
        """Invoke ``name``; returns the response, and the worker's body and headers on a 2xx."""
        config = st.functions[name]
        breaker = st.breakers[name]
        if not breaker.allow_request():
            return (
                _error(
                    503, "circuit_open", f"the circuit of {name!r} is open", breaker.retry_after()
                ),
                None,
                {},
            )
        pool = st.pools[name]
        try:
            worker = await pool.acquire()
        except TimeoutError:
            return _error(503, "no_capacity", f"no worker for {name!r} in time", 1.0), None, {}
        except WorkerStartError as error:
            return _error(503, "backend_unavailable", str(error), 1.0), None, {}
        forward = {k: v for k, v in headers.items() if k in FORWARDED_HEADERS}
        try:
            async with asyncio.timeout(config["timeout_seconds"]):
                reply = await st.client.post(  # type: ignore[union-attr]
                    worker.url + WORKER_INVOKE_PATH, content=payload, headers=forward
                )
        except TimeoutError:
            pool.evict(worker)
            await st.spawner.kill(worker)  # type: ignore[union-attr]
            breaker.record_failure()
            timeout = config["timeout_seconds"]
            return _error(504, "worker_timeout", f"{name!r} ran over {timeout}s"), None, {}
        except httpx.TransportError as error:
            pool.evict(worker)
            await st.spawner.kill(worker)  # type: ignore[union-attr]
            breaker.record_failure()
            return _error(502, "worker_error", f"worker unreachable: {error!r}"), None, {}
        except BaseException:
            pool.evict(worker)
            await st.spawner.kill(worker)  # type: ignore[union-attr]
            raise
        pool.release(worker)
        if reply.status_code >= 500:
            breaker.record_failure()
            return _error(502, "worker_error", f"worker answered {reply.status_code}"), None, {}
        document: Any = None
        if reply.content.startswith(b"{"):
            with contextlib.suppress(ValueError):
                document = json.loads(reply.content)
        function_error = reply.headers.get("x-amz-function-error")
        if isinstance(document, dict) and ("errorType" in document or "errorMessage" in document):
            function_error = function_error or "Unhandled"
        if function_error:
            breaker.record_failure()
            kind = document.get("errorType", function_error) if isinstance(document, dict) else ""
            text = document.get("errorMessage", "") if isinstance(document, dict) else ""
            response = _error(502, "function_error", f"{kind}: {text}")
            response.headers["X-Amz-Function-Error"] = function_error
            return response, None, {}
        breaker.record_success()
        media_type = reply.headers.get("content-type", "application/json")
        response = Response(reply.content, status_code=reply.status_code, media_type=media_type)
        return response, reply.content, dict(reply.headers)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        lines = ["# TYPE gateway_requests_total counter"]
        for (function, status), count in sorted(st.requests.items()):
            lines.append(
                f'gateway_requests_total{{function="{function}",status="{status}"}} {count}'
            )
        lines.append("# TYPE gateway_pool_workers gauge")
        for name, pool in st.pools.items():
            stats = pool.stats()
            for state in ("idle", "busy", "provisioning"):
                value = getattr(stats, state)
                lines.append(f'gateway_pool_workers{{function="{name}",state="{state}"}} {value}')
        lines.append("# TYPE gateway_pool_waiting gauge")
        for name, pool in st.pools.items():
            lines.append(f'gateway_pool_waiting{{function="{name}"}} {pool.stats().waiting}')
        lines.append("# TYPE gateway_pool_max_capacity gauge")
        for name, pool in st.pools.items():
            capacity = pool.stats().max_capacity
            lines.append(f'gateway_pool_max_capacity{{function="{name}"}} {capacity}')
        lines.append("# TYPE gateway_breaker_state gauge")
        for name, breaker in st.breakers.items():
            for state in LegacyBreakerState:
                value = 1 if breaker.state is state else 0
                lines.append(
                    f'gateway_breaker_state{{function="{name}",state="{state.value}"}} {value}'
                )
        lines.append("# TYPE gateway_breaker_trips gauge")
        for name, breaker in st.breakers.items():
            lines.append(f'gateway_breaker_trips{{function="{name}"}} {breaker.trips}')
        lines.append("# TYPE gateway_breaker_failure_count gauge")
        for name, breaker in st.breakers.items():
            lines.append(
                f'gateway_breaker_failure_count{{function="{name}"}} {breaker.failure_count}'
            )
        return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    @app.get("/api/gateway/status")
    async def status() -> dict[str, Any]:
        pools = {}
        for name, pool in st.pools.items():
            stats = pool.stats()
            pools[name] = {
                "function": name,
                "idle": stats.idle,
                "busy": stats.busy,
                "provisioning": stats.provisioning,
                "waiting": stats.waiting,
                "max_capacity": stats.max_capacity,
                "total": stats.total,
            }
        breakers = {
            name: {
                "name": name,
                "state": breaker.state.value,
                "failures": breaker.failure_count,
                "successes": breaker.success_count,
                "rejections": breaker.rejections,
                "trips": breaker.trips,
            }
            for name, breaker in st.breakers.items()
        }
        return {
            "status": "running",
            "backend": "legacy-process",
            "pools": pools,
            "breakers": breakers,
            "background_invocations": len(st.background),
        }

    @app.get("/api/gateway/services")
    async def services() -> list[dict[str, Any]]:
        result = []
        for name, config in st.functions.items():
            result.append(
                {
                    "name": name,
                    "image": config["image"],
                    "timeout_seconds": config["timeout_seconds"],
                    "scaling": config["scaling"],
                    "invoke_path": f"/2015-03-31/functions/{name}/invocations",
                    "routes": [
                        {"path": r["path"], "method": r["method"]}
                        for r in st.routes
                        if r["function"] == name
                    ],
                }
            )
        return result

    @app.post("/2015-03-31/functions/{name}/invocations")
    async def invoke(name: str, request: Request) -> Response:
        if not NAME_RE.fullmatch(name):
            return _error(422, "invalid_function_name", f"invalid function name {name!r}")
        if name not in st.functions:
            return _error(404, "function_not_found", f"no function named {name!r}")
        request.state.function = name
        body = await request.body()
        if len(body) > st.max_body_bytes:
            return _error(413, "payload_too_large", f"body over {st.max_body_bytes} bytes")
        invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["x-request-id"] = request.state.request_id
        if invocation_type == "Event":
            if len(st.background) >= st.max_background:
                return _error(503, "no_capacity", "too many event invocations running", 1.0)
            task = asyncio.create_task(call_function(name, body, headers))
            st.background.add(task)
            task.add_done_callback(st.background.discard)
            return Response(b"", status_code=202)
        if invocation_type != "RequestResponse":
            return _error(422, "bad_request", f"unknown X-Amz-Invocation-Type {invocation_type!r}")
        response, _, _ = await call_function(name, body, headers)
        return response

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    )
    async def gateway_handler(path: str, request: Request) -> Response:
        method = request.method
        route, params = None, {}
        for candidate in st.routes:
            if candidate["method"] not in ("ANY", method):
                continue
            found = candidate["regex"].fullmatch(request.url.path)
            if found is not None:
                route, params = candidate, found.groupdict()
                break
        if route is None:
            return _error(404, "route_not_found", f"no route for {method} {request.url.path}")
        request.state.function = route["function"]
        body = await request.body()
        if len(body) > st.max_body_bytes:
            return _error(413, "payload_too_large", f"body over {st.max_body_bytes} bytes")
        headers = {k.lower(): v for k, v in request.headers.items()}
        if body and "json" in headers.get("content-type", "").lower():
            try:
                json.loads(body)
            except ValueError as error:
                return _error(422, "bad_request", f"the body is not valid JSON ({error})")
        try:
            text, is_base64 = (body.decode("utf-8"), False) if body else (None, False)
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
        query = dict(request.query_params)
        user = headers.get("x-user-id")
        event = {
            "resource": route["path"],
            "path": request.url.path,
            "httpMethod": method,
            "headers": {k: v for k, v in headers.items() if k not in HOP_BY_HOP},
            "multiValueHeaders": {k: [v] for k, v in headers.items() if k not in HOP_BY_HOP},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request.state.request_id,
                "resourcePath": route["path"],
                "httpMethod": method,
                "path": request.url.path,
                "identity": {"sourceIp": headers.get("x-forwarded-for"), "user": user},
                "authorizer": {"principalId": user} if user else None,
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
        payload = json.dumps(event).encode()
        headers["x-request-id"] = request.state.request_id
        headers["content-type"] = "application/json"
        response, content, _ = await call_function(route["function"], payload, headers)
        if content is None or not content.startswith(b"{") or b'"statusCode"' not in content:
            return response
        try:
            proxy = json.loads(content)
            code = int(proxy["statusCode"])
            out = proxy.get("body")
            out = out if out is None or isinstance(out, str) else json.dumps(out)
            data = base64.b64decode(out) if proxy.get("isBase64Encoded") and out else None
            data = data if data is not None else (out or "").encode()
            extra = {
                str(k): str(v)
                for k, v in (proxy.get("headers") or {}).items()
                if str(k).lower() not in HOP_BY_HOP and "\r" not in str(v) and "\n" not in str(v)
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(502, "worker_error", "the function returned an invalid proxy response")
        if not 100 <= code <= 599:
            return _error(502, "worker_error", f"the function returned statusCode {code}")
        return Response(data, status_code=code, headers=extra)

    return app


app = create_app(
    os.environ.get("GATEPROOF_FUNCTIONS_FILE", CONFIG_DIR / "functions.yml"),
    os.environ.get("GATEPROOF_ROUTING_FILE", CONFIG_DIR / "routing.yml"),
)
