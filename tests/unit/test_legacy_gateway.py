"""The legacy gateway serves the reference's HTTP API over real runtime workers, defects too."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from gateproof.testing.processes import assert_no_runtime_left, runtime_children
from reference.legacy.main import create_app

INVOKE = "/2015-03-31/functions/{}/invocations"

FUNCTIONS = {
    "defaults": {"timeout_seconds": 10, "scaling": {"max_capacity": 2, "acquire_timeout": 10}},
    "functions": {
        "echo": {"environment": {"GATEPROOF_FUNCTION": "echo"}},
        "fail": {"environment": {"GATEPROOF_FUNCTION": "fail", "GATEPROOF_FAIL_RATE": "0"}},
        "sleep": {
            "environment": {"GATEPROOF_FUNCTION": "sleep"},
            "timeout_seconds": 1.5,
            "scaling": {"max_capacity": 4},
        },
    },
}
ROUTES = {
    "routes": [
        {"path": "/echo", "method": "POST", "function": "echo"},
        {"path": "/items/{id}", "method": "GET", "function": "echo"},
        {"path": "/files/{rest+}", "method": "ANY", "function": "echo"},
    ]
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


Gateway = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture(autouse=True)
def no_runtime_left_behind() -> Iterator[None]:
    yield
    assert_no_runtime_left()


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw", timeout=30) as c:
            yield c


@pytest.fixture
def config_files(tmp_path: Path) -> tuple[Path, Path]:
    functions, routing = tmp_path / "functions.yml", tmp_path / "routing.yml"
    functions.write_text(yaml.safe_dump(FUNCTIONS))
    routing.write_text(yaml.safe_dump(ROUTES))
    return functions, routing


@pytest.fixture
async def gateway(config_files: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    """Starts a legacy gateway with the test's options; stops it (and its workers) after."""
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> httpx.AsyncClient:
            app = create_app(*config_files, **options)
            client = await stack.enter_async_context(serving(app))
            client.app = app  # type: ignore[attr-defined]
            return client

        yield start


async def eventually(condition: Callable[[], bool], limit: float = 20.0) -> bool:
    """Polls ``condition`` (bounded in count and time) until it holds."""
    deadline = time.monotonic() + limit
    for _ in range(int(limit / 0.02)):
        if condition() or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    return condition()


def state(client: httpx.AsyncClient) -> Any:
    return client.app.state.legacy  # type: ignore[attr-defined]


async def invoke(
    client: httpx.AsyncClient, name: str, event: Any, **headers: str
) -> httpx.Response:
    return await client.post(INVOKE.format(name), content=json.dumps(event), headers=headers)


# -- the invoke API ----------------------------------------------------------------


async def test_an_echo_invocation_answers_the_event(gateway: Gateway) -> None:
    client = await gateway()
    response = await invoke(client, "echo", {"hello": "legacy"})
    assert response.status_code == 200
    assert response.json() == {"hello": "legacy"}
    assert len(response.headers["x-request-id"]) >= 16


async def test_a_valid_request_id_is_kept_and_an_invalid_one_replaced(gateway: Gateway) -> None:
    client = await gateway()
    kept = await invoke(client, "echo", {}, **{"X-Request-ID": "abc-123"})
    replaced = await invoke(client, "echo", {}, **{"X-Request-ID": "no spaces allowed"})
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "no spaces allowed"


async def test_an_event_invocation_answers_202_and_runs_in_the_background(
    gateway: Gateway,
) -> None:
    client = await gateway()
    response = await invoke(client, "echo", {"n": 1}, **{"X-Amz-Invocation-Type": "Event"})
    assert response.status_code == 202
    assert await eventually(lambda: state(client).breakers["echo"].success_count == 1)
    pool = (await client.get("/api/gateway/status")).json()["pools"]["echo"]
    assert (pool["idle"], pool["busy"]) == (1, 0)


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("nope", 404, "function_not_found"), ("bad.name", 422, "invalid_function_name")],
)
async def test_an_unknown_or_invalid_function_is_a_json_error(
    gateway: Gateway, name: str, status: int, code: str
) -> None:
    client = await gateway()
    response = await invoke(client, name, {})
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "x-request-id" in response.headers


async def test_an_oversized_body_is_refused_with_413(gateway: Gateway) -> None:
    client = await gateway(max_body_bytes=1024)
    response = await client.post(INVOKE.format("echo"), content=b"x" * 2048)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_a_function_error_is_a_502_with_the_function_error_header(gateway: Gateway) -> None:
    client = await gateway()
    logical = await invoke(client, "fail", {"fail": True})
    status = await invoke(client, "fail", {"fail": True, "fail_mode": "status"})
    assert logical.status_code == 502
    assert logical.json()["code"] == "function_error"
    assert logical.headers["x-amz-function-error"] == "Unhandled"
    assert status.status_code == 502
    assert status.json()["code"] == "worker_error"


async def test_a_worker_crash_is_a_502_and_the_worker_is_evicted_and_killed(
    gateway: Gateway,
) -> None:
    client = await gateway()
    response = await invoke(client, "fail", {"fail": True, "fail_mode": "crash"})
    assert response.status_code == 502
    assert response.json()["code"] == "worker_error"
    assert state(client).pools["fail"].stats().total == 0
    assert state(client).spawner.child_pids("fail") == []
    assert (await invoke(client, "fail", {"ok": 1})).json() == {"ok": 1}  # a fresh worker


@pytest.mark.timeout(60)  # a hang-stopper only: the verdict is the behaviour
async def test_a_hanging_worker_is_a_504_after_the_timeout_and_is_killed(
    gateway: Gateway,
) -> None:
    client = await gateway()
    response = await invoke(client, "sleep", {"sleep_ms": 60_000})  # answers only after 60 s
    assert response.status_code == 504  # so the gateway's own timeout ended the call
    assert response.json()["code"] == "worker_timeout"
    assert state(client).spawner.child_pids("sleep") == []


async def test_an_exhausted_pool_answers_503_with_retry_after(tmp_path: Path) -> None:
    solo = {
        "environment": {"GATEPROOF_FUNCTION": "sleep"},
        "scaling": {"max_capacity": 1, "min_capacity": 1, "acquire_timeout": 0.3},
    }
    functions, routing = tmp_path / "solo.yml", tmp_path / "no-routes.yml"
    functions.write_text(yaml.safe_dump({"functions": {"solo": solo}}))
    routing.write_text("routes: []\n")
    app = create_app(functions, routing)
    async with serving(app) as client:
        busy = asyncio.create_task(invoke(client, "solo", {"sleep_ms": 3000}))
        assert await eventually(lambda: app.state.legacy.pools["solo"].stats().busy == 1)
        response = await invoke(client, "solo", {"sleep_ms": 0})
        assert response.status_code == 503
        assert response.json()["code"] == "no_capacity"
        assert int(response.headers["retry-after"]) >= 1
        assert (await busy).status_code == 200


# -- the routed API ----------------------------------------------------------------


async def test_a_routed_post_reaches_the_function_as_a_lambda_proxy_event(
    gateway: Gateway,
) -> None:
    client = await gateway()
    response = await client.post("/echo?q=1", json={"item": 7})
    assert response.status_code == 200
    event = response.json()
    assert event["httpMethod"] == "POST"
    assert event["path"] == "/echo"
    assert event["resource"] == "/echo"
    assert json.loads(event["body"]) == {"item": 7}
    assert event["queryStringParameters"] == {"q": "1"}
    assert event["requestContext"]["requestId"] == response.headers["x-request-id"]


async def test_routed_path_parameters_are_in_the_event(gateway: Gateway) -> None:
    client = await gateway()
    item = (await client.get("/items/42")).json()
    rest = (await client.delete("/files/a/b.txt")).json()
    assert item["pathParameters"] == {"id": "42"}
    assert rest["pathParameters"] == {"rest": "a/b.txt"}
    assert rest["httpMethod"] == "DELETE"


async def test_an_unrouted_path_or_method_is_a_404(gateway: Gateway) -> None:
    client = await gateway()
    for response in (await client.get("/nowhere"), await client.get("/echo")):
        assert response.status_code == 404
        assert response.json()["code"] == "route_not_found"


async def test_malformed_json_to_the_routed_api_is_a_422(gateway: Gateway) -> None:
    client = await gateway()
    response = await client.post(
        "/echo", content=b'{"unclosed": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "bad_request"


# -- system endpoints --------------------------------------------------------------


async def test_system_endpoints_describe_the_gateway(gateway: Gateway) -> None:
    client = await gateway()
    await invoke(client, "echo", {})
    health = (await client.get("/health")).json()
    status = (await client.get("/api/gateway/status")).json()
    services = {s["name"]: s for s in (await client.get("/api/gateway/services")).json()}
    metrics = (await client.get("/metrics")).text

    assert health == {"status": "ok"}
    assert status["pools"]["echo"]["idle"] == 1
    assert status["breakers"]["echo"]["state"] == "closed"
    assert set(services) == {"echo", "fail", "sleep"}
    assert services["echo"]["routes"][0] == {"path": "/echo", "method": "POST"}
    assert services["sleep"]["timeout_seconds"] == 1.5
    assert services["sleep"]["scaling"]["max_capacity"] == 4
    assert 'gateway_requests_total{function="echo",status="200"} 1' in metrics
    assert 'gateway_breaker_state{function="echo",state="closed"} 1' in metrics
    assert 'gateway_pool_max_capacity{function="sleep"} 4' in metrics
    assert 'gateway_breaker_trips{function="echo"} 0' in metrics
    families = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"gateway_requests", "gateway_pool_workers", "gateway_breaker_state"} <= families


async def test_shutdown_kills_every_worker(config_files: tuple[Path, Path]) -> None:
    app = create_app(*config_files)
    async with serving(app) as client:
        await asyncio.gather(*(invoke(client, "sleep", {"sleep_ms": 200}) for _ in range(3)))
        assert len(app.state.legacy.spawner.child_pids()) == 3
    assert runtime_children() == []


def test_the_module_level_app_reads_the_config_files_named_in_the_environment(
    config_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    import reference.legacy.main as legacy_main

    monkeypatch.setenv("GATEPROOF_FUNCTIONS_FILE", str(config_files[0]))
    monkeypatch.setenv("GATEPROOF_ROUTING_FILE", str(config_files[1]))
    reloaded = importlib.reload(legacy_main)
    try:
        assert set(reloaded.app.state.legacy.functions) == {"echo", "fail", "sleep"}
    finally:
        monkeypatch.undo()
        importlib.reload(legacy_main)


# -- the defects, end to end -------------------------------------------------------


async def test_defect_rare_failures_among_many_successes_open_the_circuit(
    gateway: Gateway,
) -> None:
    client = await gateway(failure_threshold=3)
    for round_ in range(3):
        for _ in range(15):
            assert (await invoke(client, "fail", {"fail": False})).status_code == 200
        assert (await invoke(client, "fail", {"fail": True})).status_code == 502
        assert round_ == 2 or state(client).breakers["fail"].state == "closed"

    response = await invoke(client, "fail", {"fail": False})  # 3 failures in 48 calls

    assert response.status_code == 503
    assert response.json()["code"] == "circuit_open"
    assert int(response.headers["retry-after"]) >= 1


async def test_defect_half_open_lets_a_burst_through_to_the_recovering_function(
    gateway: Gateway,
) -> None:
    clock = FakeClock()
    client = await gateway(failure_threshold=2, recovery_timeout=10, clock=clock)
    for _ in range(2):  # a bad option is the function's own error: counted as a failure
        assert (await invoke(client, "sleep", {"sleep_ms": "soon"})).status_code == 502
    assert (await invoke(client, "sleep", {"sleep_ms": 0})).status_code == 503
    clock.now += 10

    burst = await asyncio.gather(*(invoke(client, "sleep", {"sleep_ms": 300}) for _ in range(4)))

    assert [r.status_code for r in burst] == [200, 200, 200, 200]  # a fixed breaker admits 1


async def test_defect_a_worker_that_died_idle_is_handed_out_and_its_request_fails(
    gateway: Gateway,
) -> None:
    client = await gateway()
    assert (await invoke(client, "echo", {"warm": True})).status_code == 200
    (pid,) = state(client).spawner.child_pids("echo")
    psutil.Process(pid).kill()
    assert await eventually(lambda: not psutil.pid_exists(pid) or _zombie(pid))

    unlucky = await invoke(client, "echo", {"n": 1})  # no liveness check before the hand-out
    after = await invoke(client, "echo", {"n": 2})

    assert unlucky.status_code == 502
    assert unlucky.json()["code"] == "worker_error"
    assert after.json() == {"n": 2}


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- configuration (parsed inline, as the monolith did) ----------------------------


def test_defaults_are_deep_merged_and_env_references_substituted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_TEST_RATE", "0.25")
    functions, routing = tmp_path / "functions.yml", tmp_path / "routing.yml"
    functions.write_text(
        "defaults:\n"
        "  timeout_seconds: 7\n"
        "  scaling: {max_capacity: 3, acquire_timeout: 2}\n"
        "functions:\n"
        "  f:\n"
        "    environment: {GATEPROOF_FAIL_RATE: '${LEGACY_TEST_RATE}', X: '${UNSET_X:-dflt}'}\n"
        "    scaling: {min_capacity: 1}\n"
    )
    routing.write_text("routes: [{path: /f, method: GET, function: f}]\n")

    config = create_app(functions, routing).state.legacy.functions["f"]

    assert config["timeout_seconds"] == 7
    assert config["scaling"]["max_capacity"] == 3
    assert config["scaling"]["min_capacity"] == 1
    assert config["environment"] == {"GATEPROOF_FAIL_RATE": "0.25", "X": "dflt"}


def test_a_route_to_an_undeclared_function_is_refused_at_startup(
    config_files: tuple[Path, Path], tmp_path: Path
) -> None:
    routing = tmp_path / "bad-routing.yml"
    routing.write_text("routes: [{path: /x, method: GET, function: ghost}]\n")
    with pytest.raises(ValueError, match="unknown function"):
        create_app(config_files[0], routing)
