"""The breaker harness in real-time mode: recovery timeouts are shortened, not skipped."""

from __future__ import annotations

import time

from gateproof.testing.breaker_adapter import BreakerSpec, breaker_adapter
from gateproof.testing.breaker_harness import BreakerHarness
from reference.gateway.core.breaker import BreakerConfig, CircuitBreaker


@breaker_adapter(clock="real")
def on_the_real_clock(spec, *, clock):
    config = BreakerConfig(
        failure_rate_threshold=1.0,
        window_size=spec.failure_threshold,
        minimum_calls=spec.failure_threshold,
        recovery_timeout=spec.recovery_timeout,
    )
    return CircuitBreaker("fn", config, clock=time.monotonic)  # ignores the fake clock


async def test_real_mode_scales_the_recovery_timeout_and_waits_it_out():
    harness = BreakerHarness(on_the_real_clock, BreakerSpec(2, 30.0, 1))
    assert harness.spec.recovery_timeout == 0.3

    await harness.trip()
    assert await harness.attempt() == "rejected"
    started = time.monotonic()
    await harness.past_recovery()

    assert time.monotonic() - started >= 0.3
    assert await harness.attempt() == "ran"
