"""recordbreaker: ask before calling, report how it went; failures expire after a window."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class Breaker:
    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        probes: int = 1,
        window: float = 60.0,
        now: Callable[[], float],
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.probes = probes
        self.window = window
        self._now = now
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probing = 0

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._now() - self._opened_at >= self.cooldown else "open"

    def can_execute(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and self._probing < self.probes:
            self._probing += 1
            return True
        return False

    def on_success(self) -> None:
        if self._opened_at is not None and self._probing:
            self._opened_at = None
            self._probing = 0
        self._failures.clear()

    def on_failure(self) -> None:
        now = self._now()
        if self._opened_at is not None:
            if self._probing:
                self._opened_at, self._probing = now, 0
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.window:
            self._failures.popleft()
        if len(self._failures) >= self.threshold:
            self._opened_at = now
            self._failures.clear()
