"""The rules every circuit breaker keeps, judged by what it lets run."""

from __future__ import annotations

from gateproof.testing.breaker_adapter import BreakerSpec
from gateproof.testing.breaker_harness import BreakerHarness

CALLERS = 5


async def test_it_opens_after_its_failure_threshold(breaker):
    threshold = breaker.spec.failure_threshold

    early = await breaker.failures(threshold - 1)
    assert early == ["ran"] * (threshold - 1), (
        f"opened before its threshold: {early} for {threshold - 1} failures "
        f"(failure_threshold={threshold})"
    )
    assert await breaker.attempt(fails=True) == "ran"

    assert await breaker.attempt() == "rejected", (
        f"did not open after {threshold} consecutive failures (failure_threshold={threshold})"
    )


async def test_it_rejects_every_call_while_open(breaker):
    await breaker.trip()
    ran = breaker.ran

    outcomes = [await breaker.attempt() for _ in range(CALLERS)]
    await breaker.advance(breaker.spec.recovery_timeout * 0.9)
    outcomes.append(await breaker.attempt())

    assert outcomes == ["rejected"] * (CALLERS + 1), (
        f"let a call through while open, before recovery_timeout: {outcomes}"
    )
    assert breaker.ran == ran


async def test_half_open_lets_through_a_bounded_number_of_probes(breaker):
    await breaker.trip()
    await breaker.past_recovery()
    allowed = breaker.spec.half_open_max_calls

    entered = await breaker.probes_at_once(CALLERS)

    assert entered > 0, "half-open let no probe through after recovery_timeout"
    assert entered < CALLERS, (
        f"half-open let every caller through: {entered} of {CALLERS} calls ran at once, "
        f"half_open_max_calls={allowed}"
    )
    assert entered <= allowed, (
        f"half-open let {entered} probes through at once, half_open_max_calls={allowed}"
    )


async def test_a_probe_success_closes_it(breaker):
    await breaker.trip()
    await breaker.past_recovery()

    assert await breaker.attempt() == "ran"

    after = await breaker.successes(CALLERS)
    assert after == ["ran"] * CALLERS, f"a probe success did not close the breaker: {after}"


async def test_a_probe_failure_reopens_it(breaker):
    await breaker.trip()
    await breaker.past_recovery()

    assert await breaker.attempt(fails=True) == "ran"

    assert await breaker.attempt() == "rejected", "a failed probe did not reopen the breaker"
    await breaker.past_recovery()
    assert await breaker.attempt() == "ran", "a reopened breaker never half-opened again"


async def test_old_failures_are_forgotten_after_successes(breaker):
    """Failures spread over a long healthy stretch must not add up to a trip."""
    threshold = breaker.spec.failure_threshold
    await breaker.failures(threshold - 1)
    for _ in range(10):  # successes and time: either may retire the old failures
        await breaker.successes(threshold)
        await breaker.advance(breaker.spec.recovery_timeout)

    await breaker.failures(threshold - 1)

    assert await breaker.attempt() == "ran", (
        f"failures never forgotten after a success: {threshold - 1} failures, "
        f"{10 * threshold} successes, then {threshold - 1} failures opened it "
        f"(failure_threshold={threshold})"
    )


async def test_a_breaker_closed_after_recovery_starts_counting_afresh(breaker):
    threshold = breaker.spec.failure_threshold
    await breaker.trip()
    await breaker.past_recovery()
    assert await breaker.attempt() == "ran"  # the probe succeeds: closed again

    await breaker.failures(threshold - 1)

    assert await breaker.attempt() == "ran", (
        f"failures never forgotten after a success: the breaker reopened after "
        f"{threshold - 1} failures once it had closed (failure_threshold={threshold})"
    )
    await breaker.failures(threshold - 1)  # after that success: not in a row with the first ones
    assert await breaker.attempt() == "ran", (
        f"failures never forgotten after a success: once closed, {threshold - 1} failures, "
        f"a success and {threshold - 1} failures reopened it (failure_threshold={threshold})"
    )


async def test_it_opens_after_its_threshold_after_a_healthy_stretch(breaker):
    """A long run of successes must not dilute the failures that follow it."""
    threshold = breaker.spec.failure_threshold
    for _ in range(10):
        await breaker.successes(threshold)
        await breaker.advance(breaker.spec.recovery_timeout)

    await breaker.failures(threshold)

    assert await breaker.attempt() == "rejected", (
        f"did not open after {threshold} consecutive failures that followed "
        f"{10 * threshold} successes: old successes are never forgotten "
        f"(failure_threshold={threshold})"
    )


async def test_a_breaker_closed_after_recovery_opens_again_at_its_threshold(breaker):
    threshold = breaker.spec.failure_threshold
    await breaker.trip()
    await breaker.past_recovery()
    assert await breaker.attempt() == "ran"  # the probe succeeds: closed again

    await breaker.failures(threshold)

    assert await breaker.attempt() == "rejected", (
        f"did not open again after {threshold} consecutive failures once it had closed "
        f"after recovery (failure_threshold={threshold})"
    )


async def test_a_reopened_breaker_waits_a_full_recovery_timeout_again(breaker):
    await breaker.trip()
    await breaker.past_recovery()
    await breaker.advance(breaker.spec.recovery_timeout * 0.5)
    assert await breaker.attempt(fails=True) == "ran"  # the probe fails: open again

    await breaker.advance(breaker.spec.recovery_timeout * 0.9)

    assert await breaker.attempt() == "rejected", (
        "a reopened breaker let a call through before recovery_timeout had passed since "
        "the failed probe"
    )
    await breaker.past_recovery()
    assert await breaker.attempt() == "ran", "a reopened breaker never half-opened again"


async def test_half_open_probes_stay_bounded_when_more_are_allowed(breaker_factory):
    """With room for two probes, five callers arriving together still do not all run."""
    harness = BreakerHarness(breaker_factory, BreakerSpec(3, 30.0, 2))
    try:
        await harness.trip()
        await harness.past_recovery()

        entered = await harness.probes_at_once(CALLERS)
    finally:
        harness.close()

    assert 0 < entered <= 2, (
        f"half-open let {entered} of {CALLERS} calls through at once, half_open_max_calls=2"
    )
