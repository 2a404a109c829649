"""The Redis token bucket against a real Redis: exact, shared, and honest when Redis goes away."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from gateproof.docker.redis_server import RedisServer
from reference.gateway.services.token_bucket import (
    RedisBuckets,
    Tier,
    TokenBucketRateLimiter,
    redis_client,
)

# Slow refill (one token per 2 s): a loaded machine cannot sneak a refill between calls.
BURSTY = {"free": Tier(rate=0.5, burst=3)}
NO_REFILL = {"free": Tier(rate=0.001, burst=50)}  # one token per ~17 minutes: none during a test


def buckets(
    server: RedisServer, tiers: dict[str, Tier], *, fail_open: bool = True, timeout: float = 0.5
) -> RedisBuckets:
    return RedisBuckets(
        redis_client(server.url, timeout=timeout),
        tiers,
        fail_open=fail_open,
        timeout=timeout,
        registry=CollectorRegistry(),
    )


async def test_burst_then_refill_at_the_configured_rate(redis_server: RedisServer) -> None:
    limiter = buckets(redis_server, BURSTY)
    decisions = [await limiter.hit("free", "alice") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    refused = decisions[-1]
    assert 0 < refused.retry_after <= 2.0 + 1e-6  # one token per 2 s
    await asyncio.sleep(refused.retry_after + 0.1)
    assert (await limiter.hit("free", "alice")).allowed
    assert not (await limiter.hit("free", "alice")).allowed
    await limiter.aclose()


async def test_gateways_sharing_one_redis_share_one_bucket(redis_server: RedisServer) -> None:
    gateways = [buckets(redis_server, NO_REFILL) for _ in range(3)]
    allowed = 0
    for round_ in range(30):
        for gateway in gateways:
            allowed += (await gateway.hit("free", "bob")).allowed
        assert round_ < 17 or allowed == 50
    assert allowed == 50  # not 3 x 50
    for gateway in gateways:
        await gateway.aclose()


async def test_limits_are_exact_under_concurrent_requests(redis_server: RedisServer) -> None:
    # a generous timeout: 200 calls at once open many connections on 2 shared cores,
    # and this test is about exactness, not about the outage policy
    gateways = [buckets(redis_server, NO_REFILL, timeout=5.0) for _ in range(4)]
    calls = [gateways[i % 4].hit("free", "carol") for i in range(200)]
    decisions = await asyncio.gather(*calls)
    assert sum(d.allowed for d in decisions) == 50
    assert all(not d.degraded for d in decisions)
    for gateway in gateways:
        await gateway.aclose()


async def test_a_flushed_script_is_loaded_again(redis_server: RedisServer) -> None:
    limiter = buckets(redis_server, BURSTY)
    assert (await limiter.hit("free", "dave")).allowed
    admin = redis_client(redis_server.url)
    await admin.script_flush()
    assert (await limiter.hit("free", "dave")).allowed  # NOSCRIPT, reload, retry
    assert (await admin.script_exists(RedisBuckets.SHA)) == [True]
    await admin.aclose()
    await limiter.aclose()


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail-open", "fail-closed"])
async def test_redis_restarted_mid_test_follows_the_policy_then_recovers(
    redis_server: RedisServer, fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    limiter = RedisBuckets(
        redis_client(redis_server.url, timeout=0.3),
        BURSTY,
        fail_open=fail_open,
        timeout=0.3,
        registry=registry,
    )
    for _ in range(3):
        assert (await limiter.hit("free", "erin")).allowed
    assert not (await limiter.hit("free", "erin")).allowed  # enforced while Redis is up

    caplog.set_level(logging.WARNING)
    await asyncio.to_thread(redis_server.stop_server)
    during = [await limiter.hit("free", "erin") for _ in range(10)]  # none waits on Redis
    assert all(d.degraded and d.allowed is fail_open for d in during)
    label = "allowed" if fail_open else "refused"
    counted = registry.get_sample_value(
        "gateproof_ratelimit_redis_unavailable_total", {"decision": label}
    )
    assert counted == 10
    assert sum("Redis unreachable" in r.getMessage() for r in caplog.records) == 1

    await asyncio.to_thread(redis_server.start_server)  # a fresh server: no scripts, no buckets
    deadline = time.monotonic() + 10
    decision = await limiter.hit("free", "erin")
    while decision.degraded and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        decision = await limiter.hit("free", "erin")
    assert not decision.degraded, "the limiter did not recover without a restart"
    after = [decision] + [await limiter.hit("free", "erin") for _ in range(3)]
    assert [d.allowed for d in after] == [True, True, True, False]  # enforced again
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    await limiter.aclose()


async def test_the_gateway_answers_429_with_rate_limit_headers(
    redis_server: RedisServer, tmp_path
) -> None:
    from reference.gateway.core.factory import create_container
    from reference.gateway.core.settings import GatewaySettings
    from reference.gateway.main import create_app

    settings = GatewaySettings(backend="inprocess", access_log=False)
    limiter = TokenBucketRateLimiter(buckets(redis_server, BURSTY), default_tier="free")
    container = create_container(settings, rate_limiter=limiter)
    app = create_app(settings, container=container)
    async with container:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            answers = [
                await client.post("/2015-03-31/functions/echo/invocations", json={"n": i})
                for i in range(4)
            ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited"
    assert refused.headers["Retry-After"] in {"1", "2"}  # whole seconds, rounded up
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"


async def test_two_gateways_sharing_one_redis_enforce_one_limit(
    redis_server: RedisServer,
) -> None:
    from contextlib import AsyncExitStack

    from reference.gateway.core.factory import create_container
    from reference.gateway.core.settings import GatewaySettings
    from reference.gateway.main import create_app

    settings = GatewaySettings(backend="inprocess", access_log=False)
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            limiter = TokenBucketRateLimiter(buckets(redis_server, BURSTY), default_tier="free")
            container = create_container(settings, rate_limiter=limiter)
            app = create_app(settings, container=container)
            await stack.enter_async_context(container)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g")
                )
            )
        codes = [
            (
                await clients[i % 2].post("/2015-03-31/functions/echo/invocations", json={})
            ).status_code
            for i in range(6)
        ]
    assert sorted(codes) == [200, 200, 200, 429, 429, 429]


async def test_a_fail_closed_gateway_refuses_while_redis_is_down_and_counts_it(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reference.gateway.core.factory import create_container
    from reference.gateway.core.settings import GatewaySettings
    from reference.gateway.main import create_app

    for key, value in {
        "ENABLED": "true",
        "REDIS_URL": redis_server.url,
        "FAIL_OPEN": "false",
        "TIMEOUT": "0.3",
        "DEFAULT_TIER": "free",
        "TIERS": '{"free": {"rate": 100, "burst": 100}}',
    }.items():
        monkeypatch.setenv(f"GATEPROOF_RATELIMIT_{key}", value)
    settings = GatewaySettings(backend="inprocess", access_log=False)
    container = create_container(settings)
    app = create_app(settings, container=container)
    path = "/2015-03-31/functions/echo/invocations"
    async with container:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            assert (await client.post(path, json={})).status_code == 200
            await asyncio.to_thread(redis_server.stop_server)
            refused = await client.post(path, json={})  # fails closed, does not wait for Redis
            assert refused.status_code == 429
            assert refused.json()["code"] == "rate_limited"
            metrics = (await client.get("/metrics")).text
            assert 'gateproof_ratelimit_redis_unavailable_total{decision="refused"} 1.0' in metrics
            await asyncio.to_thread(redis_server.start_server)
            deadline = time.monotonic() + 10
            answer = await client.post(path, json={})
            while answer.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                answer = await client.post(path, json={})
            assert answer.status_code == 200, "no recovery without a gateway restart"


async def test_authenticated_users_spend_their_own_redis_buckets_under_concurrency(
    redis_server: RedisServer, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two users of two tiers through the real gateway: each gets exactly their own burst."""
    from reference.gateway.core.settings import GatewaySettings
    from reference.gateway.main import create_app
    from reference.gateway.services.auth import AuthSettings
    from reference.gateway.services.auth.authenticator import hash_secret

    keys = {"ann": "gpk_ann_" + "a" * 30, "ben": "gpk_ben_" + "b" * 30}
    tiers = {"ann": "pro", "ben": "free"}
    entries = [{"user": u, "tier": tiers[u], "sha256": hash_secret(k)} for u, k in keys.items()]
    (tmp_path / "functions.yml").write_text(
        "functions:\n  echo: {environment: {GATEPROOF_FUNCTION: echo}}\n"
    )
    (tmp_path / "routing.yml").write_text("routes: []\n")
    monkeypatch.setenv("GATEPROOF_RATELIMIT_ENABLED", "true")
    monkeypatch.setenv("GATEPROOF_RATELIMIT_REDIS_URL", redis_server.url)
    monkeypatch.setenv("GATEPROOF_RATELIMIT_DEFAULT_TIER", "free")
    monkeypatch.setenv(
        "GATEPROOF_RATELIMIT_TIERS",
        '{"free": {"rate": 0.001, "burst": 5}, "pro": {"rate": 0.001, "burst": 12}}',
    )
    settings = GatewaySettings(
        backend="inprocess",
        access_log=False,
        functions_file=tmp_path / "functions.yml",
        routing_file=tmp_path / "routing.yml",
    )
    app = create_app(settings, auth=AuthSettings(api_keys=entries))
    url = "/2015-03-31/functions/echo/invocations"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

            async def burst(user: str) -> list[int]:
                calls = [
                    client.post(url, headers={"X-Api-Key": keys[user]}, json={}) for _ in range(20)
                ]
                return [r.status_code for r in await asyncio.gather(*calls)]

            ann, ben = await asyncio.gather(burst("ann"), burst("ben"))
    assert (ann.count(200), ann.count(429)) == (12, 8)
    assert (ben.count(200), ben.count(429)) == (5, 15)
