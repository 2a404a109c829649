"""The token bucket's rules, with an injected clock, and the no-Redis policy."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ResponseError

from reference.gateway.models import InputContext
from reference.gateway.services.token_bucket import (
    BucketExhausted,
    MemoryBuckets,
    RateLimitDecision,
    RedisBuckets,
    Tier,
    TokenBucketRateLimiter,
    UnknownTierError,
    create_bucket_store,
    redis_client,
)

TIERS = {"free": Tier(rate=2.0, burst=3), "pro": Tier(rate=100.0, burst=50)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryBuckets:
    return MemoryBuckets(TIERS, clock=clock)


async def test_a_new_client_may_spend_its_whole_burst_at_once(limiter: MemoryBuckets) -> None:
    decisions = [await limiter.hit("free", "alice") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]


async def test_a_refused_call_says_when_one_token_will_be_there(
    limiter: MemoryBuckets, clock: FakeClock
) -> None:
    for _ in range(3):
        await limiter.hit("free", "alice")
    refused = await limiter.hit("free", "alice")
    assert refused.retry_after == pytest.approx(0.5)  # one token at 2 per second
    clock.now += 0.49
    assert not (await limiter.hit("free", "alice")).allowed
    clock.now += 0.02
    assert (await limiter.hit("free", "alice")).allowed


async def test_refill_never_exceeds_the_burst(limiter: MemoryBuckets, clock: FakeClock) -> None:
    await limiter.hit("free", "alice")
    clock.now += 3600
    decisions = [await limiter.hit("free", "alice") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]


async def test_clients_and_tiers_have_separate_buckets(limiter: MemoryBuckets) -> None:
    for _ in range(3):
        await limiter.hit("free", "alice")
    assert not (await limiter.hit("free", "alice")).allowed
    assert (await limiter.hit("free", "bob")).allowed
    assert (await limiter.hit("pro", "alice")).allowed


async def test_a_cost_above_the_tokens_left_is_refused_and_spends_nothing(
    limiter: MemoryBuckets,
) -> None:
    await limiter.hit("free", "alice", cost=2)
    assert not (await limiter.hit("free", "alice", cost=2)).allowed
    assert (await limiter.hit("free", "alice", cost=1)).allowed


async def test_an_unknown_tier_names_the_known_ones(limiter: MemoryBuckets) -> None:
    with pytest.raises(UnknownTierError, match="known: free, pro"):
        await limiter.hit("gold", "alice")


def test_a_tier_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError):
        Tier(rate=0, burst=1)
    with pytest.raises(ValueError):
        Tier(rate=1, burst=0)


def test_headers_of_a_refusal_carry_retry_after_in_whole_seconds() -> None:
    headers = RateLimitDecision(False, limit=3, remaining=0.4, retry_after=1.2).headers()
    assert headers == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "Retry-After": "2",
        "X-RateLimit-Reset": "2",
    }
    allowed = RateLimitDecision(True, limit=3, remaining=2.0, retry_after=0.0).headers()
    assert "Retry-After" not in allowed and allowed["X-RateLimit-Remaining"] == "2"


def test_no_redis_url_means_the_in_memory_limiter() -> None:
    assert isinstance(create_bucket_store(TIERS), MemoryBuckets)


def _unreachable(fail_open: bool, registry: CollectorRegistry) -> RedisBuckets:
    # Port 1 on loopback refuses at once: Redis is "down" without any server.
    return RedisBuckets(
        redis_client("redis://127.0.0.1:1/0", timeout=0.2),
        TIERS,
        fail_open=fail_open,
        timeout=0.2,
        registry=registry,
    )


@pytest.mark.timeout(60)  # a hang-stopper only: the verdict is the behaviour
@pytest.mark.parametrize("fail_open", [True, False])
async def test_without_redis_the_policy_decides_quickly_and_is_counted(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    limiter = _unreachable(fail_open, registry)
    caplog.set_level(logging.WARNING)
    decisions = [await limiter.hit("free", "alice") for _ in range(5)]  # none hangs
    assert all(d.allowed is fail_open and d.degraded for d in decisions)
    label = "allowed" if fail_open else "refused"
    count = registry.get_sample_value(
        "gateproof_ratelimit_redis_unavailable_total", {"decision": label}
    )
    assert count == 5
    outage_logs = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(outage_logs) == 1  # once per outage, not once per request
    await limiter.aclose()


def _context(user: str | None) -> InputContext:
    return InputContext("/x", "POST", {}, {}, b"", user, "req-1")


async def test_the_gateway_seam_refuses_with_a_429_carrying_the_rate_limit_headers(
    clock: FakeClock,
) -> None:
    limiter = TokenBucketRateLimiter(MemoryBuckets(TIERS, clock=clock), default_tier="free")
    for _ in range(3):
        await limiter.check(_context("alice"), "echo")
    with pytest.raises(BucketExhausted) as refused:
        await limiter.check(_context("alice"), "echo")
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.headers()["Retry-After"] == "1"
    assert refused.value.headers()["X-RateLimit-Limit"] == "3"
    await limiter.check(_context(None), "echo")  # anonymous has its own bucket


async def test_buckets_refilled_to_their_burst_are_forgotten(clock: FakeClock) -> None:
    limiter = MemoryBuckets(TIERS, clock=clock, sweep_threshold=8)
    for n in range(1000):  # a new client key every 0.1s; "free" refills in 1.5s
        await limiter.hit("free", f"client-{n}")
        clock.now += 0.1
        assert len(limiter) <= 2 * 16 + 8
    assert len(limiter) < 40


async def test_a_sweep_keeps_buckets_still_refilling(clock: FakeClock) -> None:
    limiter = MemoryBuckets(TIERS, clock=clock, sweep_threshold=4)
    for _ in range(3):
        await limiter.hit("free", "alice")
    clock.now += 1.0  # two tokens back, one short of the burst
    for n in range(10):
        await limiter.hit("pro", f"idle-{n}")
    clock.now += 0.4
    assert limiter.sweep() >= 10  # the "pro" buckets refilled in 0.4s at 100/s
    decisions = [await limiter.hit("free", "alice") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]


class FailingRedis:
    """A client whose script calls answer with a Redis error, as a read-only replica does."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.closed = False

    async def script_load(self, script: str) -> str:
        return RedisBuckets.SHA

    async def evalsha(self, sha: str, numkeys: int, *args: object) -> list[bytes]:
        raise self.error

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "error",
    [
        ResponseError("READONLY You can't write against a read only replica."),
        ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        ResponseError("ERR Error running script (call to f_abc): user_script:1: boom"),
    ],
    ids=["readonly", "oom", "script-error"],
)
@pytest.mark.parametrize("fail_open", [True, False])
async def test_a_redis_error_answer_follows_the_policy_too(
    fail_open: bool, error: Exception
) -> None:
    registry = CollectorRegistry()
    client = FailingRedis(error)
    limiter = RedisBuckets(client, TIERS, fail_open=fail_open, registry=registry)  # type: ignore[arg-type]
    decision = await limiter.hit("free", "alice")
    assert decision.degraded and decision.allowed is fail_open
    label = "allowed" if fail_open else "refused"
    assert (
        registry.get_sample_value(
            "gateproof_ratelimit_redis_unavailable_total", {"decision": label}
        )
        == 1
    )
    await limiter.aclose()
    assert client.closed
