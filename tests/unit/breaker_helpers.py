"""A reference breaker on a hand-moved clock, for the unit tests of its transitions and promises."""

from __future__ import annotations

from reference.gateway.core.breaker import BreakerConfig, BreakerState, CircuitBreaker


class Clock:
    """Time stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(name: str = "f", **config: float) -> tuple[CircuitBreaker, Clock]:
    """A small breaker (window 4, 2 calls minimum, 5 s recovery) unless ``config`` differs."""
    clock = Clock()
    defaults = {"window_size": 4, "minimum_calls": 2, "recovery_timeout": 5.0}
    return CircuitBreaker(name, BreakerConfig(**{**defaults, **config}), clock=clock), clock


def trip(b: CircuitBreaker) -> None:
    """Record failures until the breaker opens."""
    while b.state is BreakerState.CLOSED:
        assert b.allow()
        b.record_failure()
