"""The legacy breaker's two known defects, each shown beside the fixed breaker's behaviour."""

from __future__ import annotations

from reference.gateway.core.breaker import BreakerConfig, BreakerState, CircuitBreaker
from reference.legacy.breaker import LegacyBreakerState, LegacyCircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def legacy(clock: FakeClock, threshold: int = 5, recovery: float = 30.0) -> LegacyCircuitBreaker:
    return LegacyCircuitBreaker(threshold, recovery, clock=clock)


def test_it_opens_after_the_threshold_and_rejects_until_the_recovery_timeout() -> None:
    clock = FakeClock()
    breaker = legacy(clock)
    for _ in range(5):
        assert breaker.allow_request()
        breaker.record_failure()
    assert breaker.state is LegacyBreakerState.OPEN
    assert breaker.trips == 1
    clock.now += 10
    assert not breaker.allow_request()
    assert breaker.retry_after() == 20.0
    assert breaker.rejections == 1


def test_defect_successes_never_reset_the_failure_count() -> None:
    clock = FakeClock()
    breaker = legacy(clock)
    for _ in range(4):
        breaker.record_failure()
    for _ in range(1000):
        breaker.record_success()
    breaker.record_failure()  # 5 failures in 1005 calls: a 0.5% failure rate

    assert breaker.state is LegacyBreakerState.OPEN

    fixed = CircuitBreaker("f", BreakerConfig(window_size=20, minimum_calls=5), clock=clock)
    for _ in range(4):
        fixed.record_failure()
    for _ in range(1000):
        fixed.record_success()
    fixed.record_failure()
    assert fixed.state is BreakerState.CLOSED  # successes aged the old failures out


def test_defect_after_recovery_one_failure_reopens_it_at_once() -> None:
    clock = FakeClock()
    breaker = legacy(clock, threshold=5, recovery=30)
    for _ in range(5):
        breaker.record_failure()
    clock.now += 30
    assert breaker.allow_request()
    breaker.record_success()
    assert breaker.state is LegacyBreakerState.CLOSED
    assert breaker.failure_count == 5  # never reset

    breaker.record_failure()

    assert breaker.state is LegacyBreakerState.OPEN
    assert breaker.trips == 2


def test_defect_half_open_lets_every_caller_through() -> None:
    clock = FakeClock()
    breaker = legacy(clock, threshold=1, recovery=5)
    breaker.record_failure()
    clock.now += 5

    admitted = [breaker.allow_request() for _ in range(50)]  # before any probe returns

    assert all(admitted)
    assert breaker.state is LegacyBreakerState.HALF_OPEN

    fixed = CircuitBreaker(
        "f",
        BreakerConfig(window_size=1, minimum_calls=1, recovery_timeout=5, half_open_max_calls=1),
        clock=clock,
    )
    fixed.record_failure()
    clock.now += 5
    assert [fixed.allow() for _ in range(50)].count(True) == 1


def test_a_failed_probe_reopens_it() -> None:
    clock = FakeClock()
    breaker = legacy(clock, threshold=2, recovery=5)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow_request()
    breaker.record_failure()
    assert breaker.state is LegacyBreakerState.OPEN
    assert not breaker.allow_request()
