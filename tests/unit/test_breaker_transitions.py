"""CircuitBreaker: every transition, with an injected clock, and the half-open gate."""

from __future__ import annotations

import asyncio
import random
from collections import deque

import pytest
from breaker_helpers import breaker, trip

from reference.gateway.core.breaker import (
    BreakerOpenError,
    BreakerState,
)


def test_closed_stays_closed_below_minimum_calls() -> None:
    b, _ = breaker(minimum_calls=3)
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_closed_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    b, _ = breaker(failure_rate_threshold=0.5)
    b.record_success()
    b.record_failure()  # 1 of 2 = 50%
    assert b.state is BreakerState.OPEN and b.trips == 1


def test_successes_age_failures_out_of_the_window() -> None:
    b, _ = breaker(window_size=4, minimum_calls=4, failure_rate_threshold=0.5)
    b.record_failure()
    for _ in range(3):
        b.record_success()
    for _ in range(4):
        b.record_success()  # the early failure has left the window
    b.record_failure()
    assert b.state is BreakerState.CLOSED
    assert b.snapshot().window_failures == 1


def test_the_window_failure_count_stays_right_as_the_window_wraps_and_resets() -> None:
    b, clock = breaker(window_size=7, minimum_calls=7, failure_rate_threshold=0.85)
    reference: deque[bool] = deque(maxlen=7)
    outcomes = random.Random(7)
    for _ in range(5000):  # the window wraps hundreds of times; trips clear it
        failed = outcomes.random() < 0.55
        if failed:
            b.record_failure()
        else:
            b.record_success()
        reference.append(failed)
        if b.state is BreakerState.OPEN:
            reference.clear()
            clock.now += 5.0
            assert b.allow()
            b.record_success()  # the probe closes it with an empty window
        snapshot = b.snapshot()
        assert (snapshot.window_calls, snapshot.window_failures) == (
            len(reference),
            sum(reference),
        )
    assert b.trips > 10  # the resets were exercised too


def test_open_rejects_until_the_recovery_timeout_then_turns_half_open() -> None:
    b, clock = breaker()
    trip(b)
    assert not b.allow()
    with pytest.raises(BreakerOpenError) as caught:
        b.check()
    assert caught.value.retry_after == pytest.approx(5.0)
    clock.now += 4.9
    assert b.state is BreakerState.OPEN and b.retry_after() == pytest.approx(0.1)
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN and b.retry_after() == 0


def test_half_open_probe_success_closes_with_an_empty_window() -> None:
    b, clock = breaker()
    trip(b)
    clock.now += 5
    assert b.allow()
    b.record_success()
    snap = b.snapshot()
    assert snap.state is BreakerState.CLOSED and snap.window_calls == 0


def test_half_open_probe_failure_reopens_and_restarts_the_recovery_timer() -> None:
    b, clock = breaker()
    trip(b)
    clock.now += 5
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN and b.trips == 2
    assert b.retry_after() == pytest.approx(5.0)


def test_half_open_lets_only_the_configured_number_of_probes_through() -> None:
    b, clock = breaker(half_open_max_calls=2)
    trip(b)
    clock.now += 5
    assert [b.allow() for _ in range(4)] == [True, True, False, False]
    assert b.snapshot().probes_in_flight == 2


def test_an_ignored_outcome_frees_a_probe_slot_without_deciding() -> None:
    b, clock = breaker()
    trip(b)
    clock.now += 5
    assert b.allow()
    assert not b.allow()
    b.record_ignored()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()


def test_listeners_see_every_transition_in_order() -> None:
    b, clock = breaker()
    seen: list[tuple[str, str]] = []
    b.listeners.append(lambda old, new, at: seen.append((old.value, new.value)))
    trip(b)
    clock.now += 5
    assert b.allow()
    b.record_failure()
    clock.now += 5
    assert b.allow()
    b.record_success()
    assert seen == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_under_concurrency_the_half_open_gate_admits_exactly_the_probe_budget() -> None:
    b, clock = breaker(half_open_max_calls=3)
    trip(b)
    clock.now += 5
    admitted = 0
    release = asyncio.Event()

    async def call() -> None:
        nonlocal admitted
        if not b.allow():
            return
        admitted += 1
        await release.wait()  # every probe is in flight at once
        b.record_success()

    tasks = [asyncio.create_task(call()) for _ in range(50)]
    await asyncio.sleep(0)
    assert admitted == 3 and b.snapshot().rejections == 47
    release.set()
    await asyncio.gather(*tasks)
    assert b.state is BreakerState.CLOSED


def test_a_late_outcome_of_a_call_admitted_before_the_trip_decides_nothing() -> None:
    b, clock = breaker()
    assert b.allow()  # a slow call starts while the breaker is closed
    trip(b)
    clock.now += 5
    assert b.state is BreakerState.HALF_OPEN
    b.record_success()  # the slow call ends now: it was no probe
    assert b.state is BreakerState.HALF_OPEN
    b.record_failure()
    assert b.state is BreakerState.HALF_OPEN and b.trips == 1
    assert b.allow()  # the real probe decides
    b.record_success()
    assert b.state is BreakerState.CLOSED


@pytest.mark.parametrize("late_outcome", ["success", "failure", "ignored"])
def test_a_call_admitted_before_the_trip_does_not_decide_the_probe(late_outcome: str) -> None:
    b, clock = breaker(recovery_timeout=10.0)
    assert b.allow()
    long_call = b.epoch  # admitted while CLOSED
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.now += 11
    assert b.allow()  # the probe
    probe = b.epoch
    getattr(b, f"record_{late_outcome}")(long_call)
    assert b.state is BreakerState.HALF_OPEN  # the probe still decides
    assert b.snapshot().probes_in_flight == 1
    assert not b.allow()  # and its slot is still taken
    b.record_success(probe)
    assert b.state is BreakerState.CLOSED
