"""Rate limiting switched on from the environment, end to end through the gateway (in memory)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from reference.gateway.core.factory import create_container
from reference.gateway.core.settings import GatewaySettings
from reference.gateway.main import create_app
from reference.gateway.services.ratelimit import NoRateLimit
from reference.gateway.services.token_bucket import (
    MemoryBuckets,
    RateLimitSettings,
    RedisBuckets,
    TokenBucketRateLimiter,
    rate_limiter_from_settings,
)


def test_rate_limiting_is_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEPROOF_RATELIMIT_ENABLED", raising=False)
    assert rate_limiter_from_settings() is None
    container = create_container(GatewaySettings(backend="inprocess"))
    assert isinstance(container.rate_limiter, NoRateLimit)


def test_a_redis_url_selects_the_redis_store() -> None:
    settings = RateLimitSettings(enabled=True, redis_url="redis://127.0.0.1:1/0")
    limiter = rate_limiter_from_settings(settings)
    assert isinstance(limiter, TokenBucketRateLimiter)
    assert isinstance(limiter.store, RedisBuckets)
    assert isinstance(
        rate_limiter_from_settings(RateLimitSettings(enabled=True)).store, MemoryBuckets
    )  # type: ignore[union-attr]


def test_the_default_tier_must_be_one_of_the_tiers() -> None:
    with pytest.raises(ValidationError, match="GATEPROOF_RATELIMIT_TIERS"):
        RateLimitSettings(enabled=True, default_tier="gold")


async def test_tiers_from_the_environment_limit_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEPROOF_RATELIMIT_ENABLED", "true")
    monkeypatch.setenv("GATEPROOF_RATELIMIT_TIERS", '{"free": {"rate": 0.01, "burst": 2}}')
    monkeypatch.setenv("GATEPROOF_RATELIMIT_DEFAULT_TIER", "free")
    settings = GatewaySettings(backend="inprocess", access_log=False)
    container = create_container(settings)
    app = create_app(settings, container=container)
    async with container:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            codes = [
                (await client.post("/2015-03-31/functions/echo/invocations", json={})).status_code
                for _ in range(3)
            ]
            refused = await client.post("/2015-03-31/functions/echo/invocations", json={})
    assert codes == [200, 200, 429]
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == "2"
