"""One circuit breaker per function, made on first use with the gateway's config."""

from __future__ import annotations

import time
from collections.abc import Callable

from reference.gateway.core.breaker import BreakerConfig, BreakerSnapshot, CircuitBreaker

__all__ = ["BreakerBoard"]


class BreakerBoard:
    """The breakers of every function; the clock is injectable for tests."""

    def __init__(
        self, config: BreakerConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, function: str) -> CircuitBreaker:
        breaker = self._breakers.get(function)
        if breaker is None:
            breaker = CircuitBreaker(function, self.config, clock=self._clock)
            self._breakers[function] = breaker
        return breaker

    def snapshots(self) -> dict[str, BreakerSnapshot]:
        return {name: breaker.snapshot() for name, breaker in self._breakers.items()}
