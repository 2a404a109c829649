"""callbreaker: wrap calls to a flaky dependency; fail fast while it is down."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CircuitOpenError(Exception):
    """Raised instead of calling while the circuit is open."""


class CircuitBreaker:
    """Opens after ``fail_max`` consecutive failures; one trial call after ``reset_timeout``."""

    def __init__(self, fail_max: int = 5, reset_timeout: float = 60.0) -> None:
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.state = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    async def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        trial = False
        if self.state == "open":
            if time.time() - self._opened_at < self.reset_timeout:
                raise CircuitOpenError("circuit open")
            self.state = "half-open"
        if self.state == "half-open":
            if self._trial_running:
                raise CircuitOpenError("circuit half-open: a trial call is running")
            self._trial_running = trial = True
        try:
            result = await func(*args, **kwargs)
        except Exception:
            self._failures += 1
            if trial or self._failures >= self.fail_max:
                self.state = "open"
                self._opened_at = time.time()
            raise
        else:
            self._failures = 0
            self.state = "closed"
            return result
        finally:
            if trial:
                self._trial_running = False
