"""The runtime worker's functions and settings, called in-process through its ASGI app."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference.runtime import (
    HEALTH_PATH,
    INVOKE_PATH,
    MAX_EVENT_BYTES,
    LatencyDistribution,
    RuntimeSettings,
    SettingsError,
    create_app,
)


def client_for(function: str = "echo", **options: Any) -> httpx.AsyncClient:
    app = create_app(function, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker")


async def invoke(client: httpx.AsyncClient, event: Any) -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return await client.post(INVOKE_PATH, content=body)


# -- routes --------------------------------------------------------------------


async def test_echo_returns_the_event_byte_for_byte() -> None:
    async with client_for("echo") as client:
        response = await invoke(client, b'{"b": [1, 2],  "a": "\xc3\xa9"}')
    assert response.status_code == 200
    assert response.content == b'{"b": [1, 2],  "a": "\xc3\xa9"}'
    assert response.headers["content-type"] == "application/json"


async def test_echo_of_an_empty_event_is_an_empty_object() -> None:
    async with client_for("echo") as client:
        response = await invoke(client, b"")
    assert response.json() == {}


async def test_any_function_name_in_the_invoke_path_is_accepted_as_the_emulator_does() -> None:
    async with client_for("echo") as client:
        response = await client.post("/2015-03-31/functions/anything/invocations", content=b"[1]")
    assert response.json() == [1]


async def test_health_names_the_function() -> None:
    async with client_for("sleep") as client:
        response = await client.get(HEALTH_PATH)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "function": "sleep"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", INVOKE_PATH, 405), ("POST", HEALTH_PATH, 405), ("GET", "/nope", 404)],
)
async def test_other_routes_and_methods_answer_json_errors(
    method: str, path: str, status: int
) -> None:
    async with client_for("echo") as client:
        response = await client.request(method, path)
    assert response.status_code == status
    assert "error" in response.json()


async def test_a_body_sent_in_chunks_is_reassembled_and_an_oversized_one_is_refused() -> None:
    app = create_app("echo")

    async def call(chunks: list[bytes]) -> tuple[int, bytes]:
        messages = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": INVOKE_PATH}
        await app(scope, receive, send)
        return sent[0]["status"], sent[1]["body"]

    assert await call([b'{"a":', b"1", b"}"]) == (200, b'{"a":1}')
    status, _ = await call([b"x" * (MAX_EVENT_BYTES // 2)] * 3)
    assert status == 413


# -- sleep ---------------------------------------------------------------------


async def test_sleep_takes_its_latency_from_the_payload(monkeypatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(seconds: float, *args: Any) -> Any:
        slept.append(seconds)
        return await real_sleep(seconds, *args)

    monkeypatch.setattr(asyncio, "sleep", recorded)
    async with client_for("sleep", sleep_ms=5000) as client:
        started = time.monotonic()
        response = await invoke(client, {"sleep_ms": 40})
        elapsed = time.monotonic() - started
    assert response.json() == {"slept_ms": 40}
    assert 0.04 in slept and 5.0 not in slept  # the payload's latency, not the default's
    assert elapsed >= 0.035


async def test_sleep_reads_options_from_the_body_of_a_lambda_proxy_event() -> None:
    event = {"httpMethod": "POST", "path": "/sleep", "body": json.dumps({"sleep_ms": 15})}
    async with client_for("sleep") as client:
        response = await invoke(client, event)
    assert response.json() == {"slept_ms": 15}


async def test_sleep_draws_from_the_configured_distribution_without_a_payload() -> None:
    async with client_for("sleep", sleep_distribution="uniform:1:9", seed=7) as client:
        slept = [(await invoke(client, {})).json()["slept_ms"] for _ in range(20)]
    assert all(1 <= value <= 9 for value in slept)
    assert len(set(slept)) > 1


async def test_sleep_answers_a_logical_error_after_its_latency_when_asked_to_fail() -> None:
    async with client_for("sleep") as client:
        started = time.monotonic()
        response = await invoke(client, {"sleep_ms": 30, "fail": True})
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["errorType"] == "InjectedFailure"
    assert elapsed >= 0.025


async def test_sleep_falls_back_to_the_fixed_latency() -> None:
    async with client_for("sleep", sleep_ms=12) as client:
        response = await invoke(client, b"not json")
    assert response.json() == {"slept_ms": 12}


async def test_a_bad_option_is_reported_as_a_function_error() -> None:
    async with client_for("sleep") as client:
        response = await invoke(client, {"sleep_ms": "soon"})
    assert response.status_code == 200
    assert response.json()["errorType"] == "InvalidPayload"
    assert "sleep_ms" in response.json()["errorMessage"]


# -- fail ----------------------------------------------------------------------


async def test_fail_in_error_mode_answers_200_with_error_type() -> None:
    async with client_for("fail") as client:
        response = await invoke(client, {"x": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["errorType"] == "InjectedFailure"
    assert body["errorMessage"]


async def test_fail_in_status_mode_answers_the_configured_5xx() -> None:
    async with client_for("fail", fail_mode="status", fail_status=503) as client:
        response = await invoke(client, {})
        overridden = await invoke(client, {"fail_status": 502})
    assert response.status_code == 503
    assert response.json()["errorType"] == "InjectedFailure"
    assert overridden.status_code == 502


async def test_fail_can_be_forced_either_way_from_the_payload() -> None:
    async with client_for("fail", fail_rate=0.0) as client:
        forced = await invoke(client, {"fail": True, "fail_mode": "status"})
        spared = await invoke(client, {"fail": False, "n": 3})
        unforced = await invoke(client, {"n": 4})
    assert forced.status_code == 500
    assert spared.json() == {"fail": False, "n": 3}
    assert unforced.json() == {"n": 4}


async def test_fail_fails_at_the_configured_rate() -> None:
    async with client_for("fail", fail_rate=0.3, seed=11) as client:
        failures = 0
        for _ in range(300):
            failures += "errorType" in (await invoke(client, {"ok": True})).json()
    assert 45 <= failures <= 135  # 90 expected; the bounds are far outside chance


async def test_a_crash_in_process_surfaces_as_a_dropped_connection() -> None:
    async with client_for("fail", fail_mode="crash") as client:
        with pytest.raises(ConnectionResetError):
            await invoke(client, {})


async def test_an_unknown_fail_mode_in_the_payload_is_a_function_error() -> None:
    async with client_for("fail") as client:
        response = await invoke(client, {"fail_mode": "explode"})
    assert response.json()["errorType"] == "InvalidPayload"


# -- cpu -----------------------------------------------------------------------


async def test_cpu_burns_at_least_the_requested_cpu_time() -> None:
    async with client_for("cpu", cpu_ms=1) as client:
        response = await invoke(client, {"cpu_ms": 30})
    body = response.json()
    assert body["cpu_ms"] >= 30
    assert body["rounds"] > 0


# -- settings ------------------------------------------------------------------


def test_settings_are_read_from_the_environment() -> None:
    settings = RuntimeSettings.from_env(
        {
            "GATEPROOF_FUNCTION": "fail",
            "GATEPROOF_COLD_START_MS": "250",
            "GATEPROOF_FAIL_RATE": "0.25",
            "GATEPROOF_FAIL_MODE": "status",
            "GATEPROOF_FAIL_STATUS": "502",
            "GATEPROOF_SLEEP_DISTRIBUTION": "exponential:20",
            "GATEPROOF_CPU_MS": "",
            "GATEPROOF_SEED": "3",
        }
    )
    assert settings == RuntimeSettings(
        function="fail",
        cold_start_ms=250,
        fail_rate=0.25,
        fail_mode="status",
        fail_status=502,
        sleep_distribution=LatencyDistribution("exponential", (20.0,)),
        cpu_ms=10.0,
        seed=3,
    )


def test_an_empty_environment_gives_an_echo_worker() -> None:
    assert RuntimeSettings.from_env({}) == RuntimeSettings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GATEPROOF_FUNCTION", "grep", "GATEPROOF_FUNCTION"),
        ("GATEPROOF_FAIL_RATE", "1.5", "GATEPROOF_FAIL_RATE"),
        ("GATEPROOF_FAIL_RATE", "often", "GATEPROOF_FAIL_RATE"),
        ("GATEPROOF_FAIL_MODE", "loud", "GATEPROOF_FAIL_MODE"),
        ("GATEPROOF_FAIL_STATUS", "404", "GATEPROOF_FAIL_STATUS"),
        ("GATEPROOF_COLD_START_MS", "-1", "GATEPROOF_COLD_START_MS"),
        ("GATEPROOF_SLEEP_DISTRIBUTION", "normal:5", "exponential:MEAN"),
        ("GATEPROOF_SLEEP_DISTRIBUTION", "uniform:5", "needs 2"),
        ("GATEPROOF_SLEEP_DISTRIBUTION", "constant:x", "non-numeric"),
    ],
)
def test_a_malformed_setting_names_the_variable_or_the_fix(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        RuntimeSettings.from_env({variable: value})


def test_create_app_takes_settings_or_options_not_both() -> None:
    with pytest.raises(TypeError):
        create_app("echo", settings=RuntimeSettings(), sleep_ms=3)


@given(
    kind=st.sampled_from(["constant", "uniform", "exponential", "lognormal"]),
    a=st.floats(0, 1e4),
    b=st.floats(0, 5),
    seed=st.integers(0, 2**32),
)
def test_every_distribution_draws_finite_non_negative_latencies(
    kind: str, a: float, b: float, seed: int
) -> None:
    import random

    text = {
        "constant": f"constant:{a}",
        "uniform": f"uniform:{a}:{b}",
        "exponential": f"exponential:{a}",
        "lognormal": f"lognormal:{a}:{b}",
    }[kind]
    value = LatencyDistribution.parse(text).sample(random.Random(seed))
    assert value >= 0
    assert value < float("inf")
