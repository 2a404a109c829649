"""The gateway's ``ContainerPool`` rules, on SimPy time.

This mirrors ``reference/gateway/services/pool.py`` rule for rule (the
model-against-implementation test holds the two together):

* callers wait in FIFO order; a caller that finds an idle worker and nobody
  waiting takes the most recently released one (LIFO: old ones age out);
* provisions start while live waiters outnumber provisions in flight and
  idle + busy + provisioning < ``max_capacity``; a provisioned worker goes to
  the head waiter, else idle; a released worker goes straight to the head
  waiter, else idle;
* ``acquire_timeout`` covers the cold start; a timed-out waiter leaves the
  queue and the provision it triggered keeps running for the next caller;
* a provisioning failure is raised in the head waiter only when the
  provisions still in flight cannot cover every waiter;
* ``prune_idle`` evicts workers idle for ``idle_timeout`` or longer, oldest
  first, never going below ``min_capacity`` in total.

Waiters are callbacks, not SimPy processes, to keep the per-request cost low.
Every waiter of a pool has the same timeout and arrives no earlier than the one
before it, so deadlines increase along the queue and every departure happens at
the head: one pending SimPy timeout (for the head's deadline) serves the whole
queue, and memory does not grow with queued timeouts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy

from reference.gateway.models.scaling import ScalingConfig

__all__ = ["SimPool", "Waiter"]

_EPSILON = 1e-9  # float slack when a deadline timer fires


class Waiter(Protocol):
    """What the pool needs of a caller: its deadline and three outcomes."""

    deadline: float

    def granted(self, worker: int, fresh: bool) -> None: ...

    def timed_out(self) -> None: ...

    def provision_failed(self) -> None: ...


class SimPool:
    """One function's pool. Workers are ints; ``fresh`` marks a worker fresh from provisioning."""

    def __init__(
        self,
        env: simpy.Environment,
        config: ScalingConfig,
        cold_start: Callable[[], float],
        provision_fails: Callable[[], bool] | None = None,
    ) -> None:
        self.env = env
        self.config = config
        self._cold_start = cold_start
        self._provision_fails = provision_fails
        self._max = config.max_capacity
        self.idle: deque[tuple[int, float]] = deque()  # oldest release on the left
        self.busy = 0
        self.provisioning = 0
        self.waiters: deque[Waiter] = deque()  # only live waiters; all leave at the head
        self._timer_armed = False
        self._next_worker = 0
        self.provisions = 0
        self.provision_failures = 0
        self.pruned = 0
        # time-weighted worker count, from ``_area_since``
        self._area = 0.0
        self._area_since = 0.0
        self._area_at = 0.0
        self.peak_total = 0

    # -- the caller's side ------------------------------------------------

    def warm(self, count: int) -> None:
        """Put ``count`` ready workers in the idle set (a pool started with ``min_capacity``)."""
        now = self.env.now
        self._account()
        for _ in range(count):
            self._next_worker += 1
            self.idle.append((self._next_worker, now))
        self.peak_total = max(self.peak_total, self.total)

    def acquire(self, waiter: Waiter) -> None:
        """Ask for a worker; the answer comes through one of the waiter's callbacks."""
        if self.idle and not self.waiters:
            worker, _ = self.idle.pop()
            self.busy += 1
            waiter.granted(worker, False)
            return
        self.waiters.append(waiter)
        self._dispatch()
        if self.waiters and not self._timer_armed:
            self._arm()

    def release(self, worker: int) -> None:
        if self.waiters:  # straight to the head waiter (``_hand_off``, inlined: the hot path)
            self.waiters.popleft().granted(worker, False)
        else:
            self.busy -= 1
            self.idle.append((worker, self.env.now))

    def evict(self, worker: int) -> None:
        """Forget a busy worker (it died); the freed slot may start a provision."""
        self._account()
        self.busy -= 1
        self._dispatch()

    def prune_idle(self) -> int:
        """Evict workers idle for ``idle_timeout`` or longer; returns how many."""
        now = self.env.now
        pruned = 0
        idle, config = self.idle, self.config
        while idle and self.total > config.min_capacity and now - idle[0][1] >= config.idle_timeout:
            if not pruned:
                self._account()
            idle.popleft()
            pruned += 1
        self.pruned += pruned
        return pruned

    def ensure_min(self) -> list[simpy.Event]:
        """Start provisions until ``min_capacity`` workers exist or are coming.

        Returns the provisions started (each event fires when its worker is
        ready or has failed), for a janitor that waits for them as the gateway's does.
        """
        missing = self.config.min_capacity - self.total
        return [self._start_provision() for _ in range(max(0, missing))]

    @property
    def total(self) -> int:
        return len(self.idle) + self.busy + self.provisioning

    def mean_workers(self) -> float:
        """Time-weighted mean of idle + busy + provisioning since :meth:`reset_area`."""
        self._account()
        span = self.env.now - self._area_since
        return self._area / span if span > 0 else float(self.total)

    def reset_area(self) -> None:
        """Start the time-weighted worker count afresh (at the end of the warm-up)."""
        self._account()
        self._area = 0.0
        self._area_since = self.env.now
        self.peak_total = self.total

    # -- the rules ----------------------------------------------------------

    def _account(self) -> None:
        now = self.env.now
        self._area += self.total * (now - self._area_at)
        self._area_at = now

    def _hand_off(self, worker: int, fresh: bool) -> None:
        if self.waiters:
            waiter = self.waiters.popleft()
            self.busy += 1
            waiter.granted(worker, fresh)
        else:
            self.idle.append((worker, self.env.now))

    def _dispatch(self) -> None:
        while self.idle and self.waiters:
            worker, _ = self.idle.pop()
            self._hand_off(worker, False)
        while len(self.waiters) > self.provisioning and self.total < self._max:
            self._start_provision()

    def _start_provision(self) -> simpy.Event:
        self._account()
        self.provisioning += 1
        self.provisions += 1
        total = self.total
        if total > self.peak_total:
            self.peak_total = total
        ready = self.env.timeout(self._cold_start())
        ready.callbacks.append(self._provisioned)
        return ready

    def _provisioned(self, _event: simpy.Event) -> None:
        self._account()
        self.provisioning -= 1
        if self._provision_fails is not None and self._provision_fails():
            self.provision_failures += 1
            if len(self.waiters) > self.provisioning:
                self.waiters.popleft().provision_failed()
            self._dispatch()
            return
        self._next_worker += 1
        self._hand_off(self._next_worker, True)

    def _arm(self) -> None:
        self._timer_armed = True
        delay = max(0.0, self.waiters[0].deadline - self.env.now)
        self.env.timeout(delay).callbacks.append(self._expire)

    def _expire(self, _event: simpy.Event) -> None:
        self._timer_armed = False
        limit = self.env.now + _EPSILON
        waiters = self.waiters
        while waiters and waiters[0].deadline <= limit:
            waiters.popleft().timed_out()
            self._dispatch()
        if waiters:
            self._arm()
