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
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, seed, settings
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
from gateproof.testing.pool_harness import ContractViolation, PoolHarness, Provision
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
FINDINGS_SHOWN = 10
SETTLE_TICKS = 15  # enough for every scripted cold start (at most 5 ticks) to finish
ARTICLE = {"evicted": "an evicted worker", "pruned": "a pruned worker"}


def guarded(step: Callable[..., None]) -> Callable[..., None]:
    """Run a step of a machine that is still sound; a broken rule becomes a finding."""

    @functools.wraps(step)
    def run(self: PoolMachine, *args: Any, **kwargs: Any) -> None:
        if self.broken:
            return
        try:
            step(self, *args, **kwargs)
        except AssertionError as broken:  # ContractViolation included
            self.found(str(broken))
        except Exception as error:  # the pool raised something no rule allows
            self.found(f"the pool raised {type(error).__name__}: {error}")

    return run


class PoolMachine(RuleBasedStateMachine):
    def __init__(self, factory: PoolFactory, findings: dict[str, list[str]]) -> None:
        super().__init__()
        self.factory = factory
        self.findings = findings
        self.broken = False
        self.harness: PoolHarness | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.callers: list[asyncio.Task[Any]] = []
        self.scripted_failures: list[BaseException] = []

    def found(self, message: str) -> None:
        """Keep a finding (grouped by the rule it names) and end this example's program."""
        self.broken = True
        rule = message.split(":")[0].split(" after ")[0]
        self.findings.setdefault(rule, []).append(message)

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

    def run(self, step: Awaitable[T]) -> T:
        """Run one harness call inside the loop, as the gateway would."""
        return self.loop.run_until_complete(step)

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

    def held(self) -> list[Any]:
        return sorted(self.harness.held, key=self.harness.name)

    # -- rules --------------------------------------------------------------

    @rule()
    @guarded
    def acquire(self) -> None:
        self.callers.append(self.loop.create_task(self.harness.acquire()))
        self.tick()

    @rule(ticks=st.integers(1, 8))
    @guarded
    def run_loop(self, ticks: int) -> None:
        self.tick(ticks)

    @precondition(lambda self: self.harness and self.harness.held_by)
    @rule(data=st.data())
    @guarded
    def release(self, data: st.DataObject) -> None:
        self.run(self.harness.release(data.draw(st.sampled_from(self.held()))))
        self.tick()

    @precondition(lambda self: self.harness and self.harness.held_by)
    @rule(data=st.data())
    @guarded
    def evict_busy(self, data: st.DataObject) -> None:
        self.run(self.harness.evict(data.draw(st.sampled_from(self.held()))))
        self.tick()

    @precondition(lambda self: self.harness and _not_held(self.harness))
    @rule(data=st.data())
    @guarded
    def evict_not_held(self, data: st.DataObject) -> None:
        """A health check evicts a worker that is idle or on its way to a waiter."""
        self.run(self.harness.evict(data.draw(st.sampled_from(_not_held(self.harness)))))
        self.tick()

    @precondition(lambda self: self.harness and self.harness.has("prune_idle"))
    @rule(seconds=st.sampled_from([1.0, 5.0, 10.0, 30.0]))
    @guarded
    def prune_idle(self, seconds: float) -> None:
        self.run(self.harness.advance(seconds))
        self.run(self.harness.prune())
        self.tick()

    @precondition(lambda self: self.harness is not None)
    @rule(ticks=st.integers(0, 5))
    @guarded
    def next_cold_start_fails(self, ticks: int) -> None:
        self.scripted_failures.append(self.harness.fail_next(ticks=ticks))

    @precondition(lambda self: self.harness is not None)
    @rule(ticks=st.integers(1, 5))
    @guarded
    def next_cold_start_is_slow(self, ticks: int) -> None:
        self.harness.plans.append(Provision(ticks=ticks))

    @precondition(lambda self: any(not task.done() for task in self.callers))
    @rule(data=st.data())
    @guarded
    def cancel_a_caller(self, data: st.DataObject) -> None:
        waiting = [task for task in self.callers if not task.done()]
        data.draw(st.sampled_from(waiting)).cancel()
        self.tick()

    @precondition(lambda self: self.harness and _refusable(self.harness))
    @rule(data=st.data())
    @guarded
    def release_a_destroyed_worker(self, data: st.DataObject) -> None:
        worker = data.draw(st.sampled_from(_refusable(self.harness)))
        what = ARTICLE[self.harness.destroyed[id(worker)]]
        self.run(self.harness.release_refused(worker, what))
        self.tick()

    @precondition(lambda self: self.harness is not None)
    @rule()
    @guarded
    def settle(self) -> None:
        """Let every cold start finish, then check that no caller waits for nothing."""
        self.harness.plans.clear()  # no scripted failure is left to explain a wait
        self.tick(SETTLE_TICKS)
        waiting = [task for task in self.callers if not task.done()]
        if not waiting:
            return
        idle = len(self.harness.owned()) - len(self.harness.held_by)
        if idle > 0 and not self.harness.in_flight:
            raise ContractViolation(
                f"lost wake-up: {len(waiting)} callers wait while {idle} workers "
                f"sit idle (after {self.harness.last_step})"
            )
        total = len(self.harness.owned()) + self.harness.in_flight
        if total < self.harness.config.max_capacity:
            raise ContractViolation(
                f"lost wake-up: {len(waiting)} callers wait while the pool holds {total} of "
                f"max_capacity={self.harness.config.max_capacity} workers"
            )

    # -- invariants and teardown ---------------------------------------------

    @invariant()
    @guarded
    def within_capacity_and_never_handing_out_the_dead(self) -> None:
        if self.harness is not None:
            self.harness.check()

    def teardown(self) -> None:
        if self.loop is None:
            return
        try:
            if self.harness is not None and not self.broken:
                self.drain_closes_the_pool()
        finally:
            self.loop.run_until_complete(_finish(self.callers))
            if self.harness is not None:
                self.loop.run_until_complete(self.harness.close())
            self.loop.close()

    @guarded
    def drain_closes_the_pool(self) -> None:
        pending = [task for task in self.callers if not task.done()]
        drained = {id(worker) for worker in self.run(self.harness.drain())}
        self.loop.run_until_complete(_spin(SETTLE_TICKS))
        served = [  # a caller handed a worker before the drain may resume only now
            t
            for t in pending
            if t.done()
            and not t.cancelled()
            and not t.exception()
            and id(t.result()) not in drained
        ]
        assert not served, (
            f"drain did not close the pool: {len(served)} pending callers were served after it"
        )
        stuck = [task for task in self.callers if not task.done()]
        assert not stuck, f"drain left callers waiting: {len(stuck)} pending acquires never failed"
        for task in self.callers:
            if not task.cancelled() and isinstance(task.exception(), TimeoutError):
                raise AssertionError("drain left a caller to time out")


async def _spin(ticks: int) -> None:
    for _ in range(ticks):
        await asyncio.sleep(0)


async def _finish(tasks: list[asyncio.Task[Any]], rounds: int = 20) -> None:
    """Cancel callers until they are gone.

    One cancel is not always enough on Python 3.11: ``asyncio.wait_for`` returns
    the result instead of raising when a cancel arrives just as its inner wait
    completes (fixed in 3.12), and a pool built on it then waits on. A caller
    still running after every round is left to the loop's shutdown.
    """
    for _ in range(rounds):
        running = [task for task in tasks if not task.done()]
        if not running:
            return
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=0.05)


def _not_held(harness: PoolHarness) -> list[Any]:
    return [worker for worker in harness.alive() if id(worker) not in harness.held_by]


def _refusable(harness: PoolHarness) -> list[Any]:
    """Destroyed workers whose release must be refused (drained ones end the program)."""
    return [
        worker
        for worker in harness.created
        if harness.destroyed.get(id(worker)) in ARTICLE and id(worker) not in harness.taken_back
    ]


def test_pool_invariants_hold_under_random_interleavings(
    pool_factory: PoolFactory, repetition_seed: int | None
) -> None:
    findings: dict[str, list[str]] = {}

    def machine() -> PoolMachine:
        return PoolMachine(pool_factory, findings)

    if repetition_seed is not None:  # each repetition its own programs; a replay gets them back
        machine = seed(repetition_seed)(machine)
    run_state_machine_as_test(machine, settings=SETTINGS)
    if findings:
        lines = [
            f"- {rule} (in {len(seen)} programs): {seen[0]}"
            for rule, seen in list(findings.items())[:FINDINGS_SHOWN]
        ]
        raise ContractViolation(
            f"{len(findings)} rules broken across random interleavings:\n" + "\n".join(lines)
        )
