"""A failure-rate breaker that rates every call it has seen since it last closed.

Its defect, kept on purpose: old successes never leave the rate, so after a
long healthy stretch a run of failures no longer opens it.
"""

from __future__ import annotations

from collections.abc import Callable


class RateBreaker:
    def __init__(self, rate: float, minimum: int, cooldown: float, clock: Callable[[], float]):
        self.rate, self.minimum, self.cooldown, self.clock = rate, minimum, cooldown, clock
        self.calls = self.failed = 0
        self.opened_at: float | None = None
        self.probing = False

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.probing or self.clock() - self.opened_at < self.cooldown:
            return False
        self.probing = True
        return True

    def record_success(self) -> None:
        if self.probing:
            self.opened_at, self.probing = None, False
        if self.opened_at is None:
            self.calls += 1

    def record_failure(self) -> None:
        if self.probing:
            self.opened_at, self.probing = self.clock(), False
            return
        self.calls += 1
        self.failed += 1
        if self.calls >= self.minimum and self.failed / self.calls >= self.rate:
            self.opened_at, self.calls, self.failed = self.clock(), 0, 0
