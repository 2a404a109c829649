"""A circuit breaker per function, with an injectable clock.

The gateway and the simulator use this same class (the simulator injects the
SimPy clock), so the model cannot drift from the implementation.

States: CLOSED lets every call through and records its outcome in a window of
the last ``window_size`` calls; once at least ``minimum_calls`` are recorded
and the failure rate reaches ``failure_rate_threshold`` it turns OPEN. Because
the window holds calls, not time, successes push old failures out. OPEN rejects
every call until ``recovery_timeout`` has passed, then turns HALF_OPEN, which
lets at most ``half_open_max_calls`` probes run at once and rejects the rest at
once; a probe success closes the breaker (with an empty window), a probe
failure reopens it. Outcomes that say nothing about the function's health (a
pool acquire timeout) are recorded with :meth:`CircuitBreaker.record_ignored`,
which only frees a probe slot.

Every method is synchronous, so in asyncio the half-open gate is atomic.

A call that outlives a state change must not decide the new state: a call
admitted while CLOSED that succeeds after the breaker went OPEN and then
HALF_OPEN is not the probe. Callers read :attr:`CircuitBreaker.epoch` right
after :meth:`CircuitBreaker.allow` and pass it to the ``record_*`` methods; a
result from an earlier epoch is counted in the totals and changes nothing else.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BreakerConfig",
    "BreakerOpenError",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerConfig(BaseModel):
    """When a function's breaker opens and how it recovers (times in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_rate_threshold: float = Field(default=0.5, gt=0, le=1)
    window_size: int = Field(default=20, ge=1, le=100_000)
    minimum_calls: int = Field(default=5, ge=1)
    recovery_timeout: float = Field(default=30.0, gt=0)
    half_open_max_calls: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _minimum_fits_window(self) -> Self:
        if self.minimum_calls > self.window_size:
            raise ValueError(
                f"minimum_calls ({self.minimum_calls}) must not exceed "
                f"window_size ({self.window_size}): the breaker could never open"
            )
        return self


class BreakerOpenError(Exception):
    """The call was rejected without running; retry after ``retry_after`` seconds."""

    def __init__(self, name: str, state: BreakerState, retry_after: float) -> None:
        super().__init__(
            f"circuit breaker of {name!r} is {state.value}; retry in {retry_after:.1f}s"
        )
        self.name = name
        self.state = state
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """What `/metrics` and `/api/gateway/status` show of one breaker."""

    name: str
    state: BreakerState
    window_calls: int
    window_failures: int
    successes: int
    failures: int
    rejections: int
    trips: int
    probes_in_flight: int


class CircuitBreaker:
    """One function's breaker. See the module docstring for the rules."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._window: deque[bool] = deque(maxlen=self.config.window_size)  # True = failure
        self._window_failures = 0  # sum(self._window), kept as calls are recorded
        self._opened_at = 0.0
        self._probes = 0
        self._epoch = 0
        self.successes = 0
        self.failures = 0
        self.rejections = 0
        self.trips = 0
        self.listeners: list[Callable[[BreakerState, BreakerState, float], None]] = []

    @property
    def state(self) -> BreakerState:
        """The current state; OPEN turns HALF_OPEN here once the recovery timeout passed."""
        if self._state is BreakerState.OPEN and self.retry_after() <= 0:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    @property
    def epoch(self) -> int:
        """Counts state changes; read it right after :meth:`allow` and pass it to ``record_*``."""
        return self._epoch

    def retry_after(self) -> float:
        """Seconds until an OPEN breaker lets a probe through (0 when not OPEN)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.recovery_timeout - self._clock())

    def allow(self) -> bool:
        """May a call run now? In HALF_OPEN a True takes one of the probe slots."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_max_calls:
            self._probes += 1
            return True
        self.rejections += 1
        return False

    def check(self) -> None:
        """Like :meth:`allow`, raising :class:`BreakerOpenError` on a rejection."""
        if not self.allow():
            self._raise_open()

    def record_success(self, epoch: int | None = None) -> None:
        self.successes += 1
        if self._stale(epoch):
            return
        if self._state is BreakerState.HALF_OPEN:
            if self._probes == 0:
                return  # a call admitted before the breaker opened: not a probe, decides nothing
            self._move(BreakerState.CLOSED)  # which frees the probe slots
        elif self._state is BreakerState.CLOSED:
            self._record(False)

    def record_failure(self, epoch: int | None = None) -> None:
        self.failures += 1
        if self._stale(epoch):
            return
        if self._state is BreakerState.HALF_OPEN:
            if self._probes == 0:
                return  # a call admitted before the breaker opened: not a probe, decides nothing
            self._move(BreakerState.OPEN)  # which frees the probe slots
        elif self._state is BreakerState.CLOSED:
            self._record(True)
            if self._tripped():
                self._move(BreakerState.OPEN)

    def record_ignored(self, epoch: int | None = None) -> None:
        """A call that ended without telling anything about the function (acquire timeout)."""
        if self._stale(epoch):
            return
        if self._state is BreakerState.HALF_OPEN:
            self._probes = max(0, self._probes - 1)

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            name=self.name,
            state=self.state,
            window_calls=len(self._window),
            window_failures=self._window_failures,
            successes=self.successes,
            failures=self.failures,
            rejections=self.rejections,
            trips=self.trips,
            probes_in_flight=self._probes,
        )

    def _stale(self, epoch: int | None) -> bool:
        return epoch is not None and epoch != self._epoch

    def _record(self, failed: bool) -> None:
        """Append one outcome to the window, keeping the failure count."""
        window = self._window
        if len(window) == window.maxlen:
            self._window_failures -= window[0]  # the oldest outcome falls out
        window.append(failed)
        self._window_failures += failed

    def _tripped(self) -> bool:
        calls = len(self._window)
        if calls < self.config.minimum_calls:
            return False
        return self._window_failures / calls >= self.config.failure_rate_threshold

    def _move(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        self._epoch += 1
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
            self.trips += 1
        self._window.clear()
        self._window_failures = 0
        self._probes = 0
        self._notify(old, new)

    def _notify(self, old: BreakerState, new: BreakerState) -> None:
        """Tell the listeners (the gateway's metrics and logs) about a state change."""
        for listener in self.listeners:
            listener(old, new, self._clock())

    def _raise_open(self) -> None:
        raise BreakerOpenError(self.name, self._state, self.retry_after())
