"""Drive a pool under test and judge it from the ground truth, after every step.

:class:`PoolHarness` wraps one pool built by an adapter factory (see
:mod:`gateproof.testing.pool_adapter`). It is the pool's only caller and its
only provisioner, so it knows what really happened: which workers it made,
which it handed to callers, which the pool destroyed (evict, prune, drain)
and which destroyed ones the pool took back. Invariants are judged from that
ledger, never from the pool's own ``stats``, which may be computed from the
very bookkeeping a bug bypasses. Each broken rule fails with a message that
names the defect, for example ``evicted worker handed out again`` or ``pool
exceeded max_capacity after a release of an evicted worker``.

Every pool call is awaited when it returns an awaitable, so pools whose
methods are coroutines behind a lock are driven as they are written. Every
wait is bounded: an ``acquire`` that outlives its own ``acquire_timeout`` by
a margin fails with the rule it broke instead of hanging the test.

Provisioning is scripted: each call of the provision callback takes the next
:class:`Provision` plan (default: succeed at once), so a test can make a cold
start wait on an event, take a few loop ticks, or fail.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from gateproof.testing.clocks import REAL_TIME_SCALE, FakeClock, patch_clocks_of
from gateproof.testing.pool_adapter import AdapterOptions, PoolFactory, adapter_options, resolve

__all__ = [
    "ContractViolation",
    "FakeClock",
    "FakeWorker",
    "PoolHarness",
    "Provision",
    "Snapshot",
    "bounded",
    "reported",
    "settle",
    "unfinished",
    "wait_tasks",
    "within",
]

T = TypeVar("T")

_STATS_ALIASES = {
    "idle": ("idle", "idle_workers", "available"),
    "busy": ("busy", "in_use", "active", "busy_workers"),
    "provisioning": ("provisioning", "pending", "starting"),
    "waiting": ("waiting", "waiters", "queued"),
    "total": ("total", "size", "workers"),
}


class ContractViolation(AssertionError):
    """The pool broke one of its rules; the message names which."""


@dataclass(eq=False)
class FakeWorker:
    """A worker is any object; the pool tracks it by identity and may set attributes on it."""

    number: int

    def __repr__(self) -> str:
        return f"w{self.number}"


@dataclass
class Provision:
    """What the next provisioning call does: wait for ``gate``, take ``ticks``, maybe fail."""

    ticks: int = 0
    error: BaseException | None = None
    gate: asyncio.Event | None = None


@dataclass(frozen=True)
class Snapshot:
    """The pool's own report; a field is None when the pool does not report it."""

    idle: int | None
    busy: int | None
    provisioning: int | None
    waiting: int | None


GRACE_TURNS = 50  # loop turns a pool gets after a deadline: what it made ready runs in a few
STALL = 0.25  # a guard called this much later than asked: the loop itself was not running


class _Guard:
    """A deadline that cannot run out while the loop is not running.

    At ``when`` (loop time) it does not fire at once: a loop that was stalled
    (its process descheduled on a busy machine) gets its deadline moved on by
    ``margin``, and a loop that was running gives the pool ``GRACE_TURNS``
    more turns, so whatever the pool made ready, its own timers included, runs
    first. Only then is the scope's deadline set to now. A guard that fires
    has therefore watched the pool do nothing for ``margin`` seconds of a
    running loop and the turns after: a hang, whatever the machine's speed.
    """

    def __init__(self, scope: asyncio.Timeout, when: float, margin: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.scope, self.margin = scope, margin
        self.handle = self.loop.call_at(when, self._due, when)

    def _due(self, when: float) -> None:
        now = self.loop.time()
        if now - when > STALL:
            self.handle = self.loop.call_at(now + self.margin, self._due, now + self.margin)
        else:
            self.handle = self.loop.call_soon(self._turn, GRACE_TURNS)

    def _turn(self, left: int) -> None:
        if left:
            self.handle = self.loop.call_soon(self._turn, left - 1)
        else:
            self.scope.reschedule(self.loop.time())

    def cancel(self) -> None:
        self.handle.cancel()


@asynccontextmanager
async def guarded(seconds: float, margin: float | None = None) -> AsyncIterator[asyncio.Timeout]:
    """A hang-stopper: the block is cancelled only by a :class:`_Guard` firing.

    The scope's ``expired()`` tells a guard's firing from a timeout of the pool's own.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as scope:
        guard = _Guard(scope, loop.time() + seconds, seconds if margin is None else margin)
        try:
            yield scope
        finally:
            guard.cancel()


@asynccontextmanager
async def within(seconds: float, rule: str) -> AsyncIterator[None]:
    """Bound a wait; when it runs out, fail with ``rule`` (what the pool should have done).

    ``seconds`` count only while the loop runs (see :class:`_Guard`): a stalled
    machine delays the verdict, it never makes one.
    """
    started = time.monotonic()
    try:
        async with guarded(seconds) as scope:
            yield
    except TimeoutError:
        if not scope.expired():
            raise  # the pool's own timeout, not ours
        waited = time.monotonic() - started
        raise ContractViolation(
            f"{rule} (a hang: still waiting after {waited:.1f} s and {GRACE_TURNS} more loop turns)"
        ) from None


@dataclass
class PoolHarness:
    """One pool under test, its scripted provisioner, and the ledger it is judged by."""

    factory: PoolFactory
    config: Any
    function: str = "fn"
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        self.options: AdapterOptions = adapter_options(self.factory)
        if self.options.clock == "real":
            self.config = _scaled(self.config)
        self.plans: deque[Provision] = deque()
        self.gates: list[asyncio.Event] = []  # every gate handed out, to open at teardown
        self.created: list[Any] = []
        self.destroyed: dict[int, str] = {}  # id -> "evicted" | "pruned" | "drained"
        self.taken_back: dict[int, str] = {}  # destroyed workers whose release was accepted
        self.released_twice: set[int] = set()
        self.held_by: dict[int, Any] = {}  # checked out to a caller
        self.provision_calls = 0
        self.in_flight = 0
        self.drained = False
        self.last_step = "the pool was built"
        self._numbers = itertools.count(1)
        self._names: dict[int, str] = {}
        self._violations: list[str] = []
        self._restore: list[Any] = []
        self._patch(self.factory)
        self.pool = self.factory(self.function, self.config, self._provision, clock=self.clock)
        self._patch(self.pool)
        self._acquire_takes_provision = _takes_required_argument(self._method("acquire"))
        self._prune_takes_now = _takes_argument(self._method("prune_idle"))

    # -- adapting to the pool's shape ---------------------------------------

    def has(self, member: str) -> bool:
        """Whether the pool offers an optional contract member (under its own name)."""
        return hasattr(self.pool, self.options.methods.get(member, member))

    def _method(self, member: str) -> Any:
        return getattr(self.pool, self.options.methods.get(member, member), None)

    def _patch(self, thing: Any) -> None:
        if self.options.clock == "patched":
            self._restore.append(patch_clocks_of([thing], self.clock))

    async def advance(self, seconds: float) -> float:
        """Let ``seconds`` of pool time pass: the fake clock moves, or real time is slept."""
        if self.options.clock == "real":
            await asyncio.sleep(seconds * REAL_TIME_SCALE)
            return time.monotonic()
        return self.clock.advance(seconds)

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

    def new_worker(self) -> Any:
        """A worker the pool did not provision (for ``adopt``), of the pool's own kind."""
        number = next(self._numbers)
        make = self.options.make_worker
        worker = make(number) if make is not None else FakeWorker(number)
        self._names[id(worker)] = f"w{number}"
        return worker

    def name(self, worker: Any) -> str:
        return self._names.get(id(worker), repr(worker))

    async def _provision(self, *_: Any, **__: Any) -> Any:
        plan = self.plans.popleft() if self.plans else Provision()
        self.provision_calls += 1
        self.in_flight += 1
        try:
            if plan.gate is not None:
                await plan.gate.wait()
            for _ in range(plan.ticks):
                await asyncio.sleep(0)
            if plan.error is not None:
                raise plan.error
            worker = self.new_worker()
            self.created.append(worker)
        finally:
            self.in_flight -= 1
        owned = len(self.owned())
        if owned > self.config.max_capacity:
            self._record(
                f"pool exceeded max_capacity: {owned} workers provisioned and not destroyed "
                f"> max_capacity={self.config.max_capacity} (provisioned after {self.last_step})"
            )
        return [worker] if self.options.provision_returns == "list" else worker

    # -- the pool's API, checked --------------------------------------------

    async def start(self) -> None:
        start = self._method("start")
        if start is not None:
            await resolve(start())
        self._step("start")

    async def acquire(self) -> Any:
        """One caller's acquire, bounded: a pool that ignores its timeout fails, it never hangs."""
        timeout = self.config.acquire_timeout
        margin = max(1.0, timeout / 2)  # loop time past the timeout, then GRACE_TURNS turns
        cold_starts = self.provision_calls
        started = time.monotonic()
        call = self.pool.acquire
        worker: Any = None
        try:
            async with guarded(timeout + margin, margin) as scope:
                worker = await resolve(
                    call(self._provision) if self._acquire_takes_provision else call()
                )
        except TimeoutError:
            if not scope.expired():
                raise
        if scope.expired():
            waited = time.monotonic() - started
            if self.in_flight or self.provision_calls > cold_starts:
                rule = "acquire_timeout does not cover the cold start"
            else:
                rule = "acquire_timeout not honoured"
            self._fail(
                f"{rule}: a caller waited {waited:.1f} s on a {timeout:g} s timeout and was "
                f"still waiting {GRACE_TURNS} loop turns after its deadline had passed"
            )
        self._received(worker)
        return worker

    async def release(self, worker: Any) -> None:
        """A release the pool must accept."""
        await resolve(self._method("release")(worker))
        self._accepted(worker)
        self._step(f"a release of {self.name(worker)}")

    async def release_refused(self, worker: Any, what: str) -> None:
        """A release the pool must refuse with ``ValueError``, changing nothing.

        ``what`` names the worker in messages: "an evicted worker", "a drained worker".
        """
        before = await self.snapshot()
        try:
            await resolve(self._method("release")(worker))
        except ValueError:
            accepted = False
        else:
            accepted = True
        if accepted:
            self._accepted(worker)
        self._step(f"a release of {what} ({self.name(worker)})")  # over capacity: worse news
        if accepted:
            self._fail(
                f"release of {what} accepted: {self.name(worker)} was taken back instead of "
                f"refused with ValueError"
            )
        after = await self.snapshot()
        if after != before:
            self._fail(f"a refused release of {what} changed the pool: {before} -> {after}")

    async def evict(self, worker: Any) -> bool:
        """Evict a worker; a pool whose ``evict`` returns None is judged by the ledger."""
        key = id(worker)
        was_held = key in self.held_by
        held_by_pool = self._is_owned(key) or key in self.taken_back
        result = await resolve(self._method("evict")(worker))
        evicted = held_by_pool if result is None else bool(result)
        if evicted:
            self._destroy(worker, "evicted")
            self.taken_back.pop(key, None)
        self._step(f"an eviction of {self.name(worker)}")
        if was_held and not evicted:
            self._fail(f"evict({self.name(worker)}) returned False for a checked-out worker")
        return evicted

    async def prune(self, now: float | None = None) -> list[Any]:
        """Prune idle workers at ``now`` (default: the clock's time)."""
        method = self._method("prune_idle")
        required = _takes_required_argument(method)
        if now is None and (
            required or (self._prune_takes_now and self.options.clock == "injected")
        ):
            now = (
                self.clock() if self.options.clock != "real" else asyncio.get_running_loop().time()
            )
        owned_before = len(self.owned())
        pruned = list(await resolve(method() if now is None else method(now)) or [])
        for worker in pruned:
            if id(worker) in self.held_by:
                self._fail(f"prune_idle pruned {self.name(worker)}, which is checked out")
            self._destroy(worker, "pruned")
        self._step("prune_idle" if now is None else f"prune_idle at t={now:g}")
        floor = min(self.config.min_capacity, owned_before)
        left = len(self.owned())
        if left < floor:
            self._fail(
                f"prune_idle went below min_capacity={self.config.min_capacity}: "
                f"{left} workers left of {owned_before}"
            )
        return pruned

    async def adopt(self, workers: Iterable[Any]) -> list[Any]:
        """Offer workers found running; returns those the pool adopted."""
        method = self._method("adopt")
        offered = list(workers)
        if self.options.adopt_takes == "one":
            adopted = []
            for worker in offered:
                result = await resolve(method(worker))
                if result is None or result is True or result is worker:
                    adopted.append(worker)
                elif isinstance(result, list):
                    adopted.extend(result)
        else:
            result = await resolve(method(offered))
            adopted = offered if result is None else list(result)
        self.created.extend(adopted)
        self._step(f"adopt of {[self.name(worker) for worker in adopted]}")
        return adopted

    async def drain(self) -> list[Any]:
        """Close the pool; a ``drain`` that returns None is taken to have drained everything."""
        result = await resolve(self._method("drain")())
        drained = self.owned() if result is None else list(result)
        for worker in drained:
            self._destroy(worker, "drained")
            self.taken_back.pop(id(worker), None)
        self.drained = True
        self._step("drain")
        return drained

    async def close(self, seconds: float = 2.0) -> None:
        """End of test: open every gate, drain (bounded) and give the pool its clock back."""
        try:
            for gate in self.gates:
                gate.set()
            if not self.drained:
                async with within(seconds, "drain did not finish"):
                    await resolve(self._method("drain")())
        finally:
            while self._restore:
                self._restore.pop()()

    # -- the ledger -----------------------------------------------------------

    @property
    def held(self) -> list[Any]:
        """Workers checked out to callers right now."""
        return list(self.held_by.values())

    def alive(self) -> list[Any]:
        """Workers provisioned or adopted and not yet destroyed."""
        return [worker for worker in self.created if id(worker) not in self.destroyed]

    def owned(self) -> list[Any]:
        """What the pool holds by the ground truth: the alive ones and destroyed ones taken back."""
        back = [worker for worker in self.created if id(worker) in self.taken_back]
        return self.alive() + back

    def _is_owned(self, key: int) -> bool:
        return any(id(worker) == key for worker in self.alive())

    async def snapshot(self) -> Snapshot:
        """The pool's own ``stats``: a method or property, attributes or a mapping."""
        stats = getattr(self.pool, "stats", None)
        if stats is None:
            return Snapshot(None, None, None, None)
        stats = await resolve(stats() if callable(stats) else stats)
        values = {name: _field(stats, aliases) for name, aliases in _STATS_ALIASES.items()}
        total = values.pop("total")
        if values["busy"] is None and total is not None and values["idle"] is not None:
            values["busy"] = total - values["idle"] - (values["provisioning"] or 0)
        return Snapshot(**values)

    def check(self) -> None:
        """Raise the first rule broken so far (also ones seen inside callbacks)."""
        if self._violations:
            raise ContractViolation(self._violations[0])
        cap = self.config.max_capacity
        owned = self.owned()
        if len(owned) + self.in_flight > cap:
            back = [
                f"{self.name(w)} {self.taken_back[id(w)]}"
                for w in owned
                if id(w) in self.taken_back
            ]
            detail = f" ({', '.join(back)} and taken back)" if back else ""
            self._fail(
                f"pool exceeded max_capacity after {self.last_step}: it holds {len(owned)} "
                f"workers{detail} and {self.in_flight} cold starts > max_capacity={cap}"
            )
        if len(self.held_by) > cap:
            self._fail(
                f"pool exceeded max_capacity after {self.last_step}: {len(self.held_by)} "
                f"workers checked out at once > max_capacity={cap}"
            )

    # -- internals ----------------------------------------------------------

    def _received(self, worker: Any) -> None:
        key, name = id(worker), self.name(worker)
        if key in self.destroyed:
            reason = self.destroyed[key]
            self._fail(
                f"{reason} worker handed out again: acquire returned {name}, which was "
                f"{reason} and destroyed (step before: {self.last_step})"
            )
        if key in self.held_by:
            if key in self.released_twice:
                self._fail(
                    f"double release let one worker go to two callers: {name} was released "
                    f"twice and handed out while still checked out"
                )
            self._fail(f"worker handed out twice: {name} is already checked out")
        if not any(id(known) == key for known in self.created):
            self._fail(f"acquire returned {worker!r}, which the pool never provisioned or adopted")
        self.held_by[key] = worker
        self._step(f"an acquire that returned {name}")

    def _accepted(self, worker: Any) -> None:
        """The pool took ``worker`` back: note what it now holds that it should not."""
        key = id(worker)
        if key in self.held_by:
            del self.held_by[key]
        elif key in self.destroyed:
            self.taken_back[key] = self.destroyed[key]
        elif self._is_owned(key):
            self.released_twice.add(key)

    def _destroy(self, worker: Any, reason: str) -> None:
        self.destroyed.setdefault(id(worker), reason)
        self.held_by.pop(id(worker), None)

    def _step(self, description: str) -> None:
        self.last_step = description
        self.check()

    def _record(self, message: str) -> None:
        self._violations.append(message)

    def _fail(self, message: str) -> None:
        self._record(message)
        raise ContractViolation(message)


def reported(snapshot: Snapshot, **expected: int) -> bool:
    """The fields the pool reports match ``expected``; fields it does not report are not judged.

    A pool that reports none of them is not passed: the test is skipped as "not
    reported", so a pool without stats never counts as one whose stats are right.
    """
    given = {name: getattr(snapshot, name) for name in expected}
    if all(value is None for value in given.values()):
        pytest.skip(f"stats not reported: the pool's stats give none of {', '.join(expected)}")
    wrong = {
        name: value
        for name, value in given.items()
        if value is not None and value != expected[name]
    }
    assert not wrong, f"stats report {wrong}, expected {expected}"
    return True


def _field(stats: Any, aliases: tuple[str, ...]) -> int | None:
    for name in aliases:
        value = stats.get(name) if isinstance(stats, Mapping) else getattr(stats, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def _scaled(config: Any) -> Any:
    """A config whose idle timeout fits a real-time test run."""
    return config.model_copy(update={"idle_timeout": config.idle_timeout * REAL_TIME_SCALE})


def _takes_required_argument(method: Any) -> bool:
    """``acquire(provision_callback)``: the pool wants its provision callback per call."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def _takes_argument(method: Any) -> bool:
    """``prune_idle(now)`` or ``prune_idle()`` (a pool that reads the clock itself)."""
    if method is None:
        return False
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters
    )


async def bounded(awaitable: Awaitable[T], seconds: float, rule: str) -> T:
    """Await ``awaitable`` for at most ``seconds``; fail naming ``rule`` when it takes longer."""
    async with within(seconds, rule):
        return await awaitable


async def settle(ticks: int = 20) -> None:
    """Let the loop run ``ticks`` rounds, so woken callers and quick cold starts get to run."""
    for _ in range(ticks):
        await asyncio.sleep(0)


async def unfinished(
    tasks: Iterable[asyncio.Task[Any]], turns: int = 50
) -> list[asyncio.Task[Any]]:
    """The tasks still running after the loop has turned ``turns`` times (fewer if all end).

    Loop turns, not seconds: what a pool has already made ready runs within a few
    turns however busy the machine is, so a task still pending after them waits
    for something that is not coming, or for a timer, which a refusal must not.
    """
    tasks = list(tasks)
    for _ in range(turns):
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0)
    return [task for task in tasks if not task.done()]


async def wait_tasks(
    tasks: Iterable[asyncio.Task[Any]], seconds: float, *, first: bool = False
) -> set[asyncio.Task[Any]]:
    """``asyncio.wait`` for all tasks (or the ``first``) with a stall-proof bound; the done ones.

    Unlike ``asyncio.wait(timeout=...)``, the bound counts only while the loop
    runs and then gives the tasks more loop turns (see :func:`guarded`).
    """
    tasks = set(tasks)
    when = asyncio.FIRST_COMPLETED if first else asyncio.ALL_COMPLETED
    scope: asyncio.Timeout | None = None
    try:
        async with guarded(seconds) as scope:
            await asyncio.wait(tasks, return_when=when)
    except TimeoutError:
        if scope is None or not scope.expired():
            raise
    return {task for task in tasks if task.done()}
