"""A synchronous call-wrapper breaker, as thread-based services write it."""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic
from typing import Any


class BreakerOpen(RuntimeError):
    pass


class SyncBreaker:
    def __init__(self, max_failures: int, reset_after: float) -> None:
        self.max_failures = max_failures
        self.reset_after = reset_after
        self.failures = 0
        self.opened_at: float | None = None
        self.in_trial = False

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        trial = False
        if self.opened_at is not None:
            if monotonic() - self.opened_at < self.reset_after or self.in_trial:
                raise BreakerOpen("open")
            self.in_trial = trial = True
        try:
            result = func(*args)
        except Exception:
            self.failures += 1
            if trial or self.failures >= self.max_failures:
                self.opened_at = monotonic()
            raise
        finally:
            if trial:
                self.in_trial = False
        self.failures, self.opened_at = 0, None
        return result
