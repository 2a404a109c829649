"""Drive a pool under test and check its invariants from the outside, after every step.

:class:`PoolHarness` wraps one pool built by an adapter factory (see
:mod:`gateproof.testing.pool_adapter`). It is the pool's only caller and its
only provisioner, so it knows the ground truth the pool must agree with: which
workers exist, which are checked out, which were evicted, pruned or drained
(and so destroyed). Every step is followed by :meth:`PoolHarness.check`, and
each broken rule fails with a message that names the defect, for example
``evicted worker handed out again`` or ``pool exceeded max_capacity after a
release of an evicted worker``.

Provisioning is scripted: each call of the provision callback takes the next
:class:`Provision` plan (default: succeed at once), so a test can make a cold
start wait on an event, take a few loop ticks, or fail.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateproof.testing.pool_adapter import PoolFactory

__all__ = ["ContractViolation", "FakeClock", "FakeWorker", "PoolHarness", "Provision"]


class ContractViolation(AssertionError):
    """The pool broke one of its invariants; the message names which."""


@dataclass(eq=False)
class FakeWorker:
    """A worker is any object; the pool tracks it by identity."""

    number: int

    def __repr__(self) -> str:
        return f"w{self.number}"


@dataclass
class FakeClock:
    """A clock the test moves by hand, so idle timeouts need no real waiting."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class Provision:
    """What the next provisioning call does: wait for ``gate``, take ``ticks``, maybe fail."""

    ticks: int = 0
    error: BaseException | None = None
    gate: asyncio.Event | None = None


@dataclass(frozen=True)
class Snapshot:
    idle: int
    busy: int
    provisioning: int
    waiting: int


@dataclass
class PoolHarness:
    """One pool under test, its scripted provisioner, and the ledger it is checked against."""

    factory: PoolFactory
    config: Any
    function: str = "fn"
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        self.plans: deque[Provision] = deque()
        self.gates: list[asyncio.Event] = []  # every gate handed out, to open at teardown
        self.created: list[FakeWorker] = []
        self.destroyed: dict[FakeWorker, str] = {}  # worker -> "evicted" | "pruned" | "drained"
        self.held: set[FakeWorker] = set()
        self.provision_calls = 0
        self.last_step = "the pool was built"
        self._numbers = itertools.count(1)
        self._violations: list[str] = []
        self.pool = self.factory(self.function, self.config, self._provision, clock=self.clock)

    # -- provisioning script ----------------------------------------------

    def fail_next(self, error: BaseException | None = None, ticks: int = 0) -> BaseException:
        """Make the next provisioning call fail; returns the error it will raise."""
        error = error if error is not None else RuntimeError("cold start failed")
        self.plans.append(Provision(ticks=ticks, error=error))
        return error

    def block_next(self, *, error: BaseException | None = None) -> asyncio.Event:
        """Make the next provisioning call wait until the returned event is set."""
        gate = asyncio.Event()
        self.gates.append(gate)
        self.plans.append(Provision(gate=gate, error=error))
        return gate

    def new_worker(self) -> FakeWorker:
        """A worker the pool did not provision (for ``adopt``)."""
        return FakeWorker(next(self._numbers))

    async def _provision(self) -> FakeWorker:
        plan = self.plans.popleft() if self.plans else Provision()
        self.provision_calls += 1
        if plan.gate is not None:
            await plan.gate.wait()
        for _ in range(plan.ticks):
            await asyncio.sleep(0)
        if plan.error is not None:
            raise plan.error
        worker = self.new_worker()
        self.created.append(worker)
        alive = len(self.alive())
        if alive > self.config.max_capacity:
            self._record(
                f"pool exceeded max_capacity: {alive} workers provisioned and not destroyed "
                f"> max_capacity={self.config.max_capacity} (provisioned after {self.last_step})"
            )
        return worker

    # -- the pool's API, checked --------------------------------------------

    async def start(self) -> None:
        start = getattr(self.pool, "start", None)
        if start is not None:
            await start()
        self._step("start")

    async def acquire(self) -> FakeWorker:
        worker = await self.pool.acquire()
        self._received(worker)
        return worker

    def release(self, worker: FakeWorker) -> None:
        """A release the pool must accept."""
        self.pool.release(worker)
        self.held.discard(worker)
        self._step(f"a release of {worker}")

    def release_refused(self, worker: FakeWorker, what: str) -> None:
        """A release the pool must refuse with ``ValueError``, changing nothing.

        ``what`` names the worker in messages: "an evicted worker", "a drained worker".
        """
        before = self.snapshot()
        try:
            self.pool.release(worker)
        except ValueError:
            accepted = False
        else:
            accepted = True
        self._step(f"a release of {what} ({worker})")  # over capacity: the worse news
        if accepted:
            self._fail(
                f"release of {what} accepted: {worker} was taken back instead of "
                f"refused with ValueError"
            )
        after = self.snapshot()
        if after != before:
            self._fail(f"a refused release of {what} changed the pool: {before} -> {after}")

    def evict(self, worker: FakeWorker) -> bool:
        was_held = worker in self.held
        evicted = bool(self.pool.evict(worker))
        if evicted:
            self._destroy(worker, "evicted")
        self._step(f"an eviction of {worker}")
        if was_held and not evicted:
            self._fail(f"evict({worker}) returned False for a checked-out worker")
        return evicted

    def prune(self, now: float | None = None) -> list[FakeWorker]:
        now = self.clock() if now is None else now
        before = self.snapshot()
        pruned = list(self.pool.prune_idle(now))
        for worker in pruned:
            if worker in self.held:
                self._fail(f"prune_idle pruned {worker}, which is checked out")
            self._destroy(worker, "pruned")
        self._step(f"prune_idle at t={now:g}")
        total_before = before.idle + before.busy + before.provisioning
        floor = min(self.config.min_capacity, total_before)
        if self.snapshot_total() < floor:
            self._fail(
                f"prune_idle went below min_capacity={self.config.min_capacity}: "
                f"{self.snapshot_total()} workers left"
            )
        return pruned

    def adopt(self, workers: Iterable[FakeWorker]) -> list[FakeWorker]:
        adopted = list(self.pool.adopt(list(workers)))
        self.created.extend(adopted)
        self._step(f"adopt of {adopted}")
        return adopted

    async def drain(self) -> list[FakeWorker]:
        drained = list(await self.pool.drain())
        for worker in drained:
            self._destroy(worker, "drained")
        self._step("drain")
        return drained

    # -- the ledger -----------------------------------------------------------

    def alive(self) -> list[FakeWorker]:
        """Workers provisioned or adopted and not yet destroyed."""
        return [worker for worker in self.created if worker not in self.destroyed]

    def snapshot(self) -> Snapshot:
        stats = self.pool.stats()
        return Snapshot(stats.idle, stats.busy, stats.provisioning, stats.waiting)

    def snapshot_total(self) -> int:
        snapshot = self.snapshot()
        return snapshot.idle + snapshot.busy + snapshot.provisioning

    def check(self) -> None:
        """Raise the first invariant broken so far (also ones seen inside callbacks)."""
        if self._violations:
            raise ContractViolation(self._violations[0])
        cap = self.config.max_capacity
        snapshot = self.snapshot()
        total = snapshot.idle + snapshot.busy + snapshot.provisioning
        if total > cap:
            self._fail(
                f"pool exceeded max_capacity after {self.last_step}: stats report {total} "
                f"workers (idle={snapshot.idle}, busy={snapshot.busy}, "
                f"provisioning={snapshot.provisioning}) > max_capacity={cap}"
            )
        if len(self.held) > cap:
            self._fail(
                f"pool exceeded max_capacity after {self.last_step}: {len(self.held)} workers "
                f"checked out at once > max_capacity={cap}"
            )

    # -- internals ----------------------------------------------------------

    def _received(self, worker: FakeWorker) -> None:
        if worker in self.destroyed:
            reason = self.destroyed[worker]
            self._fail(
                f"{reason} worker handed out again: acquire returned {worker}, which was "
                f"{reason} and destroyed (step before: {self.last_step})"
            )
        if worker in self.held:
            self._fail(f"worker handed out twice: {worker} is already checked out")
        if worker not in self.created:
            self._fail(f"acquire returned {worker!r}, which the pool never provisioned or adopted")
        self.held.add(worker)
        self._step(f"an acquire that returned {worker}")

    def _destroy(self, worker: FakeWorker, reason: str) -> None:
        self.destroyed.setdefault(worker, reason)
        self.held.discard(worker)

    def _step(self, description: str) -> None:
        self.last_step = description
        self.check()

    def _record(self, message: str) -> None:
        self._violations.append(message)

    def _fail(self, message: str) -> None:
        self._record(message)
        raise ContractViolation(message)
