"""Stop a run early when nearly every call fails for a sustained window.

Why: against a host that is down or refusing everything, a 300-s run used to
spend its whole duration failing before it said anything. The runner feeds
:class:`FailureWatch` Locust's running totals (its stats history, once a
second); when at least :data:`FAILURE_SHARE` of the calls in the last
``window_s`` seconds failed, and there were at least :data:`MIN_CALLS` of
them, the run stops (exit 1) and its report says why. Chaos runs, where many
failures are the point, turn it off with ``--no-early-stop``.
"""

from __future__ import annotations

from collections import deque

__all__ = ["FAILURE_SHARE", "MIN_CALLS", "WINDOW_S", "FailureWatch"]

FAILURE_SHARE = 0.95  # of the calls in the window
WINDOW_S = 30.0  # how long the failures must last
MIN_CALLS = 20  # in the window; fewer say too little


class FailureWatch:
    """Judges a run from running totals of calls and failures (which may restart from zero)."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        share: float = FAILURE_SHARE,
        min_calls: int = MIN_CALLS,
    ) -> None:
        self.window_s = window_s
        self.share = share
        self.min_calls = min_calls
        self._samples: deque[tuple[float, int, int]] = deque()

    def observe(self, elapsed: float, calls: int, failures: int) -> str | None:
        """Add the totals at ``elapsed`` seconds; returns why to stop, or None."""
        if self._samples and calls < self._samples[-1][1]:
            self._samples.clear()  # the totals restarted (Locust resets them after the warm-up)
        self._samples.append((elapsed, calls, failures))
        while len(self._samples) > 1 and self._samples[1][0] <= elapsed - self.window_s:
            self._samples.popleft()  # keep one sample at or before the window's start
        start, calls0, failures0 = self._samples[0]
        if elapsed - start < self.window_s:
            return None
        calls_in, failed_in = calls - calls0, failures - failures0
        if calls_in < self.min_calls or failed_in < self.share * calls_in:
            return None
        return (
            f"stopped early: {failed_in} of {calls_in} calls ({failed_in / calls_in:.0%}) failed "
            f"in the last {elapsed - start:.0f} s (at least {self.share:.0%} over "
            f"{self.window_s:g} s stops a run; --no-early-stop runs on)"
        )
