"""The reference breaker's own promises, beyond the adapter contract the conformance suite
holds every breaker to: what its snapshot and its error report, how ``epoch`` counts, what
listeners are told, and how an ignored outcome frees exactly one probe slot.
"""

from __future__ import annotations

import pytest
from breaker_helpers import Clock, trip
from breaker_helpers import breaker as _breaker

from reference.gateway.core.breaker import (
    BreakerOpenError,
    BreakerState,
    CircuitBreaker,
)


def breaker(**config: float) -> tuple[CircuitBreaker, Clock]:
    return _breaker("echo", **config)


def test_a_fresh_breaker_reports_nothing_counted():
    b, _ = breaker()

    snap = b.snapshot()

    assert snap.name == "echo"
    assert (snap.state, snap.window_calls, snap.window_failures) == (BreakerState.CLOSED, 0, 0)
    assert (snap.successes, snap.failures, snap.rejections, snap.trips) == (0, 0, 0, 0)
    assert snap.probes_in_flight == 0
    assert b.epoch == 0


def test_the_snapshot_counts_every_outcome_even_a_stale_one():
    b, _ = breaker(minimum_calls=4, failure_rate_threshold=0.9)
    for _ in range(3):
        assert b.allow()
        b.record_success()
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    b.record_success(epoch=b.epoch + 1)  # a result from another epoch: counted, decides nothing
    b.record_failure(epoch=b.epoch + 1)

    snap = b.snapshot()

    assert (snap.successes, snap.failures, snap.trips) == (4, 3, 0)
    assert (snap.window_calls, snap.window_failures) == (4, 2)


def test_the_epoch_counts_state_changes():
    b, clock = breaker()
    epochs = [b.epoch]
    trip(b)
    epochs.append(b.epoch)
    clock.now += 5
    assert b.state is BreakerState.HALF_OPEN
    epochs.append(b.epoch)
    assert b.allow()
    b.record_success()
    epochs.append(b.epoch)

    assert epochs == [0, 1, 2, 3]
    assert b.snapshot().trips == 1


def test_listeners_are_told_the_clocks_time_of_each_transition():
    b, clock = breaker()
    seen: list[float] = []
    b.listeners.append(lambda old, new, at: seen.append(at))
    trip(b)
    clock.now += 7

    assert b.state is BreakerState.HALF_OPEN
    assert seen == [100.0, 107.0]


def test_a_rejection_raises_an_error_naming_the_breaker_its_state_and_the_wait():
    b, clock = breaker()
    trip(b)
    clock.now += 2

    with pytest.raises(BreakerOpenError) as raised:
        b.check()

    error = raised.value
    assert (error.name, error.state, error.retry_after) == ("echo", BreakerState.OPEN, 3.0)
    assert str(error) == "circuit breaker of 'echo' is open; retry in 3.0s"


def test_an_ignored_outcome_frees_exactly_one_probe_slot():
    b, clock = breaker(half_open_max_calls=2)
    trip(b)
    clock.now += 5
    assert b.allow() and b.allow()
    assert not b.allow()

    b.record_ignored()

    assert b.snapshot().probes_in_flight == 1
    assert b.allow()
    assert not b.allow()
