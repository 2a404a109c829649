"""Token buckets per tier and client: in Redis (shared by every gateway) or in memory.

Both bucket stores answer :meth:`BucketStore.hit` with a :class:`RateLimitDecision`
that carries what a 429 needs (``Retry-After``, ``X-RateLimit-*``);
:class:`TokenBucketRateLimiter` plugs a store into the gateway's
:class:`~reference.gateway.services.ratelimit.RateLimiter` seam.

The Redis store runs one Lua script (``token_bucket.lua``) so refill and spend
are one atomic step however many gateways share the server; it is loaded
once, called by SHA, and reloaded when Redis answers NOSCRIPT (after a
restart or a ``SCRIPT FLUSH``).

When Redis cannot be reached within ``timeout``, or answers with an error
(read-only replica, out of memory, a failing script), the decision follows the
``fail_open`` setting: let the request through (availability first) or refuse
it (protection first). Each outage is logged once when it starts and once
when it ends; every decision taken without Redis is counted in
``gateproof_ratelimit_redis_unavailable_total``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from reference.gateway.core.errors import RateLimited
from reference.gateway.models import InputContext

__all__ = [
    "TOKEN_BUCKET_LUA",
    "BucketExhausted",
    "BucketStore",
    "MemoryBuckets",
    "RateLimitDecision",
    "RateLimitSettings",
    "RedisBuckets",
    "Tier",
    "TokenBucketRateLimiter",
    "UnknownTierError",
    "create_bucket_store",
    "rate_limiter_from_settings",
    "redis_client",
]

log = logging.getLogger(__name__)

TOKEN_BUCKET_LUA = Path(__file__).with_name("token_bucket.lua").read_text()
DEFAULT_TIMEOUT = 0.25  # seconds: a rate limit check must never cost more than this


@dataclass(frozen=True)
class Tier:
    """A bucket's shape: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError(f"a tier needs rate > 0 and burst >= 1, got {self}")


class UnknownTierError(KeyError):
    """A client was assigned a tier that the settings do not define."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tier"


@dataclass(frozen=True)
class RateLimitDecision:
    """One answer of a store; ``degraded`` means Redis was down and the policy decided."""

    allowed: bool
    limit: int
    remaining: float
    retry_after: float
    degraded: bool = False

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` for every response, plus ``Retry-After`` on a refusal."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, math.floor(self.remaining))),
        }
        if not self.allowed:
            seconds = str(max(1, math.ceil(self.retry_after)))
            headers["Retry-After"] = seconds
            headers["X-RateLimit-Reset"] = seconds
        return headers


class BucketStore(Protocol):
    async def hit(self, tier: str, client: str, cost: int = 1) -> RateLimitDecision:
        """Spend ``cost`` tokens of ``client``'s bucket in ``tier`` if it has them."""
        ...

    async def aclose(self) -> None: ...


def _tier(tiers: Mapping[str, Tier], name: str) -> Tier:
    try:
        return tiers[name]
    except KeyError:
        known = ", ".join(sorted(tiers)) or "none"
        raise UnknownTierError(
            f"no rate limit tier {name!r} (known: {known}); add it to the gateway's tiers setting"
        ) from None


class MemoryBuckets:
    """The same buckets in this process: for one gateway with no Redis configured.

    Client keys come from requests, so a bucket that has refilled to its burst
    (idle for ``burst / rate`` seconds) is forgotten: it is the same as a new
    one. Sweeps are amortised: one runs when the table has doubled since the
    last, so memory stays within twice the buckets still refilling (at least
    ``sweep_threshold``) at O(1) average cost per hit.
    """

    def __init__(
        self,
        tiers: Mapping[str, Tier],
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_threshold: int = 1024,
    ) -> None:
        self.tiers = dict(tiers)
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, last refill
        self._sweep_threshold = sweep_threshold
        self._sweep_at = sweep_threshold

    def __len__(self) -> int:
        return len(self._buckets)

    async def hit(self, tier: str, client: str, cost: int = 1) -> RateLimitDecision:
        shape = _tier(self.tiers, tier)
        now = self._clock()
        tokens, last = self._buckets.get((tier, client), (float(shape.burst), now))
        tokens = min(shape.burst, tokens + max(0.0, now - last) * shape.rate)
        if tokens >= cost:
            tokens -= cost
            decision = RateLimitDecision(True, shape.burst, tokens, 0.0)
        else:
            decision = RateLimitDecision(False, shape.burst, tokens, (cost - tokens) / shape.rate)
        self._buckets[(tier, client)] = (tokens, now)
        if len(self._buckets) >= self._sweep_at:
            self.sweep(now)
        return decision

    def sweep(self, now: float | None = None) -> int:
        """Forget every bucket that has refilled to its burst; returns how many."""
        now = self._clock() if now is None else now
        full = [
            key
            for key, (tokens, last) in self._buckets.items()
            if tokens + max(0.0, now - last) * self.tiers[key[0]].rate >= self.tiers[key[0]].burst
        ]
        for key in full:
            del self._buckets[key]
        self._sweep_at = max(self._sweep_threshold, 2 * len(self._buckets))
        return len(full)

    async def aclose(self) -> None:
        self._buckets.clear()


def redis_client(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> aioredis.Redis:
    """A client that gives up fast: short socket timeouts and no retries."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


# Any Redis failure, not only a lost connection: a READONLY replica, OOM or a script error
# must follow the policy too, never become a 500. (NOSCRIPT is handled in ``_run``.)
_UNREACHABLE = (RedisError, TimeoutError, OSError)


class RedisBuckets:
    """Buckets in Redis, shared by every gateway that uses the same server and prefix."""

    SHA = hashlib.sha1(TOKEN_BUCKET_LUA.encode()).hexdigest()

    def __init__(
        self,
        client: aioredis.Redis,
        tiers: Mapping[str, Tier],
        *,
        fail_open: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        prefix: str = "gateproof:ratelimit",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.tiers = dict(tiers)
        self.fail_open = fail_open
        self._client = client
        self._timeout = timeout
        self._prefix = prefix
        self._loaded = False
        self.outage = False
        self.unavailable = Counter(
            "gateproof_ratelimit_redis_unavailable",
            "Rate limit decisions taken without Redis, by the fail-open/closed policy.",
            ["decision"],
            registry=registry,
        )

    async def hit(self, tier: str, client: str, cost: int = 1) -> RateLimitDecision:
        shape = _tier(self.tiers, tier)
        key = f"{self._prefix}:{tier}:{client}"
        try:
            async with asyncio.timeout(self._timeout):
                allowed, tokens, retry_after = await self._run(key, shape, cost)
        except _UNREACHABLE as error:
            return self._degraded(shape, error)
        if self.outage:
            self.outage = False
            log.warning("rate limiter: Redis is reachable again; limits are enforced")
        return RateLimitDecision(bool(int(allowed)), shape.burst, float(tokens), float(retry_after))

    async def _run(self, key: str, shape: Tier, cost: int) -> list[bytes]:
        args = (key, shape.rate, shape.burst, cost)
        if not self._loaded:
            await self._client.script_load(TOKEN_BUCKET_LUA)
            self._loaded = True
        try:
            return await self._client.evalsha(self.SHA, 1, *args)
        except NoScriptError:  # Redis restarted or flushed its scripts
            await self._client.script_load(TOKEN_BUCKET_LUA)
            return await self._client.evalsha(self.SHA, 1, *args)

    def _degraded(self, shape: Tier, error: BaseException) -> RateLimitDecision:
        decision = "allowed" if self.fail_open else "refused"
        if not self.outage:
            self.outage = True
            log.error(
                "rate limiter: Redis unreachable or failing (%s: %s); requests are %s until it "
                "recovers",
                type(error).__name__,
                error,
                decision,
            )
        self.unavailable.labels(decision).inc()
        if self.fail_open:
            return RateLimitDecision(True, shape.burst, float(shape.burst), 0.0, degraded=True)
        return RateLimitDecision(False, shape.burst, 0.0, 1.0, degraded=True)

    async def aclose(self) -> None:
        await self._client.aclose()


def create_bucket_store(
    tiers: Mapping[str, Tier],
    *,
    redis_url: str | None = None,
    fail_open: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    registry: CollectorRegistry | None = None,
) -> BucketStore:
    """The Redis store when a URL is configured, else the in-memory one."""
    if not redis_url:
        return MemoryBuckets(tiers)
    return RedisBuckets(
        redis_client(redis_url, timeout=timeout),
        tiers,
        fail_open=fail_open,
        timeout=timeout,
        registry=registry,
    )


class BucketExhausted(RateLimited):
    """A 429 that also carries the ``X-RateLimit-*`` headers of the refusal."""

    def __init__(self, decision: RateLimitDecision, tier: str) -> None:
        super().__init__(
            f"rate limit of tier {tier!r} exceeded ({decision.limit} burst); "
            f"retry after {decision.retry_after:.2f}s",
            retry_after=decision.retry_after,
        )
        self.decision = decision

    def headers(self) -> dict[str, str]:
        return self.decision.headers()


def client_of(context: InputContext) -> str:
    """Whose bucket a request spends: the caller's own, so two callers never share one.

    The verified identity when there is one, else the user id a service-layer
    caller set, else the client's address (anonymous callers are limited per
    address), else one shared bucket.
    """
    if context.identity is not None:
        return f"{context.identity.kind}:{context.identity.subject}"
    if context.user_id:
        return f"user:{context.user_id}"
    if context.client:
        return f"addr:{context.client}"
    return "anonymous"


class TokenBucketRateLimiter:
    """The gateway's rate limiter seam over a bucket store.

    ``tier_of`` picks a request's tier (default: the verified caller's tier
    when the store knows it, else ``default_tier``).
    """

    def __init__(
        self,
        store: BucketStore,
        *,
        default_tier: str = "default",
        tier_of: Callable[[InputContext], str] | None = None,
    ) -> None:
        self.store = store
        self.default_tier = default_tier
        self._tier_of = tier_of or self._identity_tier

    def _identity_tier(self, context: InputContext) -> str:
        identity = context.identity
        tiers = getattr(self.store, "tiers", {})
        if identity is not None and identity.tier in tiers:
            return identity.tier
        return self.default_tier

    async def check(self, context: InputContext, function: str) -> None:
        tier = self._tier_of(context)
        decision = await self.store.hit(tier, client_of(context))
        if not decision.allowed:
            raise BucketExhausted(decision, tier)

    async def aclose(self) -> None:
        await self.store.aclose()


class TierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(gt=0, description="Tokens added per second.")
    burst: int = Field(ge=1, description="Most tokens saved up: the largest burst allowed.")


class RateLimitSettings(BaseSettings):
    """``GATEPROOF_RATELIMIT_*``: off unless enabled; Redis when a URL is given.

    Tiers are JSON: ``GATEPROOF_RATELIMIT_TIERS='{"free": {"rate": 5, "burst": 10}}'``.
    """

    model_config = SettingsConfigDict(
        env_prefix="GATEPROOF_RATELIMIT_", extra="ignore", frozen=True
    )

    enabled: bool = False
    redis_url: str | None = None
    fail_open: bool = Field(
        default=True, description="Without Redis: let requests through (true) or refuse them."
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=5)
    default_tier: str = "default"
    tiers: dict[str, TierSettings] = Field(
        default_factory=lambda: {"default": TierSettings(rate=50, burst=100)}
    )

    @model_validator(mode="after")
    def _default_tier_exists(self) -> RateLimitSettings:
        if self.default_tier not in self.tiers:
            known = ", ".join(sorted(self.tiers)) or "none"
            raise ValueError(
                f"GATEPROOF_RATELIMIT_DEFAULT_TIER={self.default_tier!r} is not among the "
                f"tiers ({known}); add it to GATEPROOF_RATELIMIT_TIERS"
            )
        return self


def rate_limiter_from_settings(
    settings: RateLimitSettings | None = None, *, registry: CollectorRegistry | None = None
) -> TokenBucketRateLimiter | None:
    """The configured limiter, or None when rate limiting is off."""
    settings = settings or RateLimitSettings()
    if not settings.enabled:
        return None
    tiers = {name: Tier(t.rate, t.burst) for name, t in settings.tiers.items()}
    store = create_bucket_store(
        tiers,
        redis_url=settings.redis_url,
        fail_open=settings.fail_open,
        timeout=settings.timeout,
        registry=registry,
    )
    return TokenBucketRateLimiter(store, default_tier=settings.default_tier)
