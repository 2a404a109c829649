"""The circuit breaker as it was before the refactor: kept as the known-bad target.

It opens after ``failure_threshold`` failures and half-opens after
``recovery_timeout``, and it has the two defects the refactor fixes, left in on
purpose so that tests and reports can show them:

1. the failure count is never reset by successes: five failures spread over a
   million successes open the breaker, and after it closes again the count is
   still at the threshold, so the next single failure reopens it;
2. HALF_OPEN lets every caller through: after the recovery timeout a burst of
   traffic hits the recovering function at once, instead of a bounded number
   of probes.

Do not fix them here: the fixed breaker is ``reference.gateway.core.breaker``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["LegacyBreakerState", "LegacyCircuitBreaker"]


class LegacyBreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class LegacyCircuitBreaker:
    """One function's breaker; see the module docstring for what is wrong with it."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self._clock = clock
        self.state = LegacyBreakerState.CLOSED
        self.failure_count = 0
        self.success_count = 0
        self.rejections = 0
        self.trips = 0
        self.opened_at = 0.0

    def allow_request(self) -> bool:
        """True if a call may go to the function."""
        if self.state is LegacyBreakerState.OPEN:
            if self._clock() - self.opened_at < self.recovery_timeout:
                self.rejections += 1
                return False
            self.state = LegacyBreakerState.HALF_OPEN
        return True  # defect 2: in HALF_OPEN every caller gets through

    def retry_after(self) -> float:
        """Seconds until the breaker half-opens (0 unless it is open)."""
        if self.state is not LegacyBreakerState.OPEN:
            return 0.0
        return max(0.0, self.recovery_timeout - (self._clock() - self.opened_at))

    def record_success(self) -> None:
        self.success_count += 1
        if self.state is LegacyBreakerState.HALF_OPEN:
            self.state = LegacyBreakerState.CLOSED
        # defect 1: failure_count is left as it is, here and on closing

    def record_failure(self) -> None:
        self.failure_count += 1
        if self.state is LegacyBreakerState.HALF_OPEN or (
            self.failure_count >= self.failure_threshold
        ):
            if self.state is not LegacyBreakerState.OPEN:
                self.trips += 1
            self.state = LegacyBreakerState.OPEN
            self.opened_at = self._clock()
