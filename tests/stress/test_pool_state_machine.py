"""The pool's invariants under random interleavings (Hypothesis stateful testing).

Each example builds a pool with a drawn configuration on its own event loop
(optionally a shuffled one, with a drawn seed, so the ready-queue order is part
of the example and shrinks with it) and runs a random program of acquires,
releases, evictions, idle pruning, failing or slow cold starts, cancellations
and loop ticks. The harness checks capacity and hand-outs after every step;
the machine adds liveness: once the loop settles, nobody waits while a worker
sits idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateproof.testing.pool_adapter import PoolFactory
from gateproof.testing.pool_harness import ContractViolation, FakeWorker, PoolHarness, Provision
from gateproof.testing.shuffle import ShuffledEventLoop
from reference.gateway.models.scaling import ScalingConfig

T = TypeVar("T")

# No shrinking: minimising a failure of a broken pool takes minutes, and the suite is
# repeated 100x; the failing program is printed step by step all the same.
SETTINGS = settings(
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    max_examples=10,
    stateful_step_count=20,
    deadline=None,
    database=None,  # repeated runs explore fresh examples and write nothing to disk
    suppress_health_check=[HealthCheck.too_slow],
)
SETTLE_TICKS = 15  # enough for every scripted cold start (at most 5 ticks) to finish
ARTICLE = {"evicted": "an evicted worker", "pruned": "a pruned worker"}


class PoolMachine(RuleBasedStateMachine):
    def __init__(self, factory: PoolFactory) -> None:
        super().__init__()
        self.factory = factory
        self.harness: PoolHarness | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.callers: list[asyncio.Task[FakeWorker]] = []
        self.scripted_failures: list[BaseException] = []

    @initialize(
        max_capacity=st.integers(1, 3),
        min_capacity=st.integers(0, 2),
        schedule=st.none() | st.integers(0, 2**16),
    )
    def build(self, max_capacity: int, min_capacity: int, schedule: int | None) -> None:
        self.loop = asyncio.new_event_loop() if schedule is None else ShuffledEventLoop(schedule)
        config = ScalingConfig(
            max_capacity=max_capacity,
            min_capacity=min(min_capacity, max_capacity),
            acquire_timeout=60.0,  # never reached: the machine only runs loop ticks
            idle_timeout=10.0,
        )

        async def make() -> PoolHarness:  # some pools need a running loop to be built
            return PoolHarness(self.factory, config)

        self.harness = self.loop.run_until_complete(make())

    # -- driving the loop ---------------------------------------------------

    def tick(self, ticks: int = 3) -> None:
        self.loop.run_until_complete(_spin(ticks))
        self.collect()

    def call(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a synchronous pool call inside the loop, as the gateway does."""

        async def inside() -> T:
            return operation(*args)

        return self.loop.run_until_complete(inside())

    def collect(self) -> None:
        """Drop finished callers; re-raise any error but a scripted cold-start failure."""
        running = []
        for task in self.callers:
            if not task.done():
                running.append(task)
            elif not task.cancelled() and task.exception() is not None:
                error = task.exception()
                if not any(error is scripted for scripted in self.scripted_failures):
                    raise error  # a broken rule, or an error no cold start raised
        self.callers = running

    def held(self) -> list[FakeWorker]:
        return sorted(self.harness.held, key=lambda worker: worker.number)

    # -- rules --------------------------------------------------------------

    @rule()
    def acquire(self) -> None:
        self.callers.append(self.loop.create_task(self.harness.acquire()))
        self.tick()

    @rule(ticks=st.integers(1, 8))
    def run_loop(self, ticks: int) -> None:
        self.tick(ticks)

    @precondition(lambda self: self.harness and self.harness.held)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        self.call(self.harness.release, data.draw(st.sampled_from(self.held())))
        self.tick()

    @precondition(lambda self: self.harness and self.harness.held)
    @rule(data=st.data())
    def evict_busy(self, data: st.DataObject) -> None:
        self.call(self.harness.evict, data.draw(st.sampled_from(self.held())))
        self.tick()

    @precondition(lambda self: self.harness and set(self.harness.alive()) - self.harness.held)
    @rule(data=st.data())
    def evict_not_held(self, data: st.DataObject) -> None:
        """A health check evicts a worker that is idle or on its way to a waiter."""
        candidates = [w for w in self.harness.alive() if w not in self.harness.held]
        self.call(self.harness.evict, data.draw(st.sampled_from(candidates)))
        self.tick()

    @precondition(lambda self: self.harness and hasattr(self.harness.pool, "prune_idle"))
    @rule(seconds=st.sampled_from([1.0, 5.0, 10.0, 30.0]))
    def prune_idle(self, seconds: float) -> None:
        self.harness.clock.advance(seconds)
        self.call(self.harness.prune)
        self.tick()

    @precondition(lambda self: self.harness is not None)
    @rule(ticks=st.integers(0, 5))
    def next_cold_start_fails(self, ticks: int) -> None:
        self.scripted_failures.append(self.harness.fail_next(ticks=ticks))

    @precondition(lambda self: self.harness is not None)
    @rule(ticks=st.integers(1, 5))
    def next_cold_start_is_slow(self, ticks: int) -> None:
        self.harness.plans.append(Provision(ticks=ticks))

    @precondition(lambda self: any(not task.done() for task in self.callers))
    @rule(data=st.data())
    def cancel_a_caller(self, data: st.DataObject) -> None:
        waiting = [task for task in self.callers if not task.done()]
        data.draw(st.sampled_from(waiting)).cancel()
        self.tick()

    @precondition(lambda self: self.harness and _refusable(self.harness))
    @rule(data=st.data())
    def release_a_destroyed_worker(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from(_refusable(self.harness)))
        self.call(self.harness.release_refused, worker, ARTICLE[self.harness.destroyed[worker]])
        self.tick()

    @precondition(lambda self: self.harness is not None)
    @rule()
    def settle(self) -> None:
        """Let every cold start finish, then check that no caller waits for nothing."""
        self.harness.plans.clear()  # no scripted failure is left to explain a wait
        self.tick(SETTLE_TICKS)
        waiting = [task for task in self.callers if not task.done()]
        if not waiting:
            return
        snapshot = self.harness.snapshot()
        if snapshot.idle:
            raise ContractViolation(
                f"lost wake-up: {len(waiting)} callers wait while {snapshot.idle} workers "
                f"sit idle (after {self.harness.last_step})"
            )
        total = snapshot.idle + snapshot.busy + snapshot.provisioning
        if total < self.harness.config.max_capacity:
            raise ContractViolation(
                f"lost wake-up: {len(waiting)} callers wait while the pool holds {total} of "
                f"max_capacity={self.harness.config.max_capacity} workers"
            )

    # -- invariants and teardown ---------------------------------------------

    @invariant()
    def within_capacity_and_never_handing_out_the_dead(self) -> None:
        if self.harness is not None:
            self.harness.check()

    def teardown(self) -> None:
        if self.loop is None:
            return
        try:
            if self.harness is not None:
                self.loop.run_until_complete(self.harness.drain())
                self.loop.run_until_complete(_spin(SETTLE_TICKS))
                stuck = [task for task in self.callers if not task.done()]
                assert not stuck, f"drain left {len(stuck)} callers waiting"
                for task in self.callers:
                    if not task.cancelled() and isinstance(task.exception(), TimeoutError):
                        raise AssertionError("drain left a caller to time out")
        finally:
            for task in self.callers:
                task.cancel()
            self.loop.run_until_complete(_finish(self.callers))
            self.loop.close()


async def _spin(ticks: int) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


async def _finish(tasks: list[asyncio.Task[FakeWorker]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


def _refusable(harness: PoolHarness) -> list[FakeWorker]:
    """Destroyed workers whose release must be refused (drained ones end the program)."""
    return sorted(
        (worker for worker, why in harness.destroyed.items() if why in ARTICLE),
        key=lambda worker: worker.number,
    )


def test_pool_invariants_hold_under_random_interleavings(pool_factory: PoolFactory) -> None:
    run_state_machine_as_test(lambda: PoolMachine(pool_factory), settings=SETTINGS)
