"""A FIFO container pool per function, and the manager that holds one per function.

The pool's invariants live here and nowhere else:

* workers that exist or are being provisioned never exceed ``max_capacity``;
* callers are served strictly in arrival order: while anyone waits, a new
  caller queues behind them, and a released worker goes straight to the head
  waiter (nobody can steal it between the release and the wake-up: the race of
  the legacy pool);
* provisioning runs as its own task, outside any critical section; the worker
  it makes goes to the head waiter, or to the idle set if nobody waits. A
  failure frees the slot; the error is raised in the head waiter when the
  provisions still running cannot cover every waiter, and the next waiter may
  start a new provision;
* ``acquire_timeout`` bounds the whole wait, cold start included; a waiter whose
  deadline passes leaves the queue before anything else can reach it, and a
  cancelled waiter that was already handed a worker passes it to the next
  waiter, so no slot or wake-up is lost. A provision the waiter started keeps
  running: its worker serves the next caller;
* an evicted or drained worker is forgotten: it is never handed out again (not
  even when it was evicted after being handed to a waiter that has not resumed
  yet: that waiter keeps its place at the head of the queue from the moment of
  the eviction, so a caller who arrives before it resumes still queues behind
  it) and releasing it raises :class:`WorkerNotCheckedOutError`, changing nothing.

The pool is single-threaded asyncio code: every state change happens between
two ``await`` points, so no lock is needed and none is held across provisioning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from reference.gateway.models.scaling import ScalingConfig

__all__ = [
    "AcquireTimeoutError",
    "ContainerPool",
    "PoolClosedError",
    "PoolError",
    "PoolManager",
    "PoolStats",
    "UnknownFunctionError",
    "WorkerNotCheckedOutError",
]

log = logging.getLogger(__name__)

W = TypeVar("W")


class PoolError(Exception):
    """Base of every error the pool raises itself."""


class AcquireTimeoutError(PoolError, TimeoutError):
    """No worker became available within the acquire timeout (the gateway answers 503)."""


class PoolClosedError(PoolError):
    """The pool was drained: it hands out nothing and takes nothing back."""


class WorkerNotCheckedOutError(PoolError, ValueError):
    """A release of a worker the pool did not hand out, or no longer owns."""


class UnknownFunctionError(PoolError, KeyError):
    """No pool is registered for this function name."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0]) if self.args else "unknown function"


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of one pool's ledger."""

    function: str
    idle: int
    busy: int
    provisioning: int
    waiting: int
    max_capacity: int

    @property
    def total(self) -> int:
        """Workers that exist or are being provisioned: never above ``max_capacity``."""
        return self.idle + self.busy + self.provisioning


class ContainerPool(Generic[W]):
    """Workers of one function, handed out first come, first served.

    ``provision`` makes one new worker (a container, a process, an object); it
    may take as long as a cold start takes and may raise. Workers are tracked
    by identity, so any object will do.
    """

    def __init__(
        self,
        function: str,
        config: ScalingConfig,
        provision: Callable[[], Awaitable[W]],
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.function = function
        self.config = config
        self._provision = provision
        self._clock = clock
        self._idle: deque[tuple[W, float]] = deque()  # oldest release on the left
        self._busy: dict[int, W] = {}
        self._provisioning: set[asyncio.Task[W]] = set()
        self._waiters: deque[asyncio.Future[W]] = deque()
        # A hand-off the waiter has not resumed from yet, by id(worker); and the place in the
        # queue kept for a waiter whose worker was evicted before it resumed.
        self._handed: dict[int, asyncio.Future[W]] = {}
        self._displaced: dict[asyncio.Future[W], asyncio.Future[W]] = {}
        self._deadlines: deque[tuple[float, asyncio.Future[W]]] = deque()
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._late: list[W] = []  # provisioned after drain began: returned by drain
        self._closed = False

    # -- public API --------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def now(self) -> float:
        """The pool's clock: the running loop's time unless one was injected."""
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    async def start(self) -> None:
        """Provision ``min_capacity`` workers before the first call arrives."""
        await self.ensure_min()

    async def ensure_min(self) -> int:
        """Provision workers until ``min_capacity`` exist; returns how many were started.

        Raises the first provisioning error after every attempt has finished.
        """
        self._check_open()
        missing = self.config.min_capacity - self._total()
        tasks = [self._start_provision() for _ in range(max(0, missing))]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(tasks)

    async def acquire(self, timeout: float | None = None) -> W:
        """Wait for a worker, first come first served.

        Raises :class:`AcquireTimeoutError` after ``timeout`` seconds (default:
        the config's ``acquire_timeout``), :class:`PoolClosedError` if the pool
        is drained, or the provisioning error that was meant for this caller.
        """
        self._check_open()
        if self._idle and not self._waiters:
            worker, _ = self._idle.pop()  # most recently used: the oldest ones age out
            self._busy[id(worker)] = worker
            return worker
        loop = asyncio.get_running_loop()
        limit = self.config.acquire_timeout if timeout is None else timeout
        deadline = loop.time() + limit
        waiter: asyncio.Future[W] = loop.create_future()
        self._waiters.append(waiter)
        timer = self._watch_deadline(loop, waiter, deadline, shared=timeout is None)
        self._dispatch()
        try:
            while True:
                worker = await waiter
                if self._busy.get(id(worker)) is worker:
                    del self._handed[id(worker)]
                    return worker
                # Evicted or drained between the hand-off and this caller resuming:
                # never return it; wait on in the place evict kept, with the same deadline.
                self._check_open()
                waiter = self._displaced.pop(waiter)
                if timer is not None:
                    timer.cancel()
                timer = self._watch_deadline(loop, waiter, deadline, shared=False)
        except _DeadlinePassed:
            raise AcquireTimeoutError(
                f"no worker for function {self.function!r} within {limit:g}s "
                f"(max_capacity={self.config.max_capacity}); raise max_capacity "
                f"or acquire_timeout, or lower the load"
            ) from None
        except BaseException:
            self._leave(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self, worker: W) -> None:
        """Give a worker back; the head waiter gets it at once.

        Raises :class:`WorkerNotCheckedOutError` (and changes nothing) for a
        worker released twice, evicted, drained, or never handed out; also for
        one handed to a waiter that has not resumed yet (only that waiter holds it).
        """
        if id(worker) in self._handed:
            raise self._not_checked_out(worker)
        checked_out = self._busy.pop(id(worker), None)
        if checked_out is not worker:
            if checked_out is not None:
                self._busy[id(worker)] = checked_out
            raise self._not_checked_out(worker)
        self._hand_off(worker)

    def evict(self, worker: W) -> bool:
        """Forget a worker (busy or idle) for good; returns False if it was not in the pool.

        The caller destroys the worker; the freed slot may start a provision for a waiter.
        """
        if self._busy.get(id(worker)) is worker:
            del self._busy[id(worker)]
            waiter = self._handed.pop(id(worker), None)
            if waiter is not None:  # its caller has not resumed: it keeps its place, first
                place = waiter.get_loop().create_future()
                self._waiters.appendleft(place)
                self._displaced[waiter] = place
        else:
            for index, (idle_worker, _) in enumerate(self._idle):
                if idle_worker is worker:
                    del self._idle[index]
                    break
            else:
                return False
        self._dispatch()
        return True

    def prune_idle(self, now: float | None = None) -> list[W]:
        """Evict workers idle for ``idle_timeout`` or longer, keeping ``min_capacity``.

        Returns the evicted workers, oldest first, for the caller to destroy.
        """
        now = self.now() if now is None else now
        pruned: list[W] = []
        while (
            self._idle
            and self._total() > self.config.min_capacity
            and now - self._idle[0][1] >= self.config.idle_timeout
        ):
            pruned.append(self._idle.popleft()[0])
        return pruned

    def adopt(self, workers: Iterable[W]) -> list[W]:
        """Take in workers found running at startup, up to ``max_capacity``.

        Returns the workers adopted; the rest are the caller's to destroy.
        """
        self._check_open()
        adopted: list[W] = []
        for worker in workers:
            if self._total() >= self.config.max_capacity or self._owns(worker):
                continue
            adopted.append(worker)
            self._hand_off(worker)
        return adopted

    async def drain(self) -> list[W]:
        """Close the pool: fail waiters, cancel provisions, return every worker to destroy."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(
                    PoolClosedError(f"the pool of {self.function!r} was drained while waiting")
                )
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        self._deadlines.clear()
        provisions = list(self._provisioning)
        for task in provisions:
            task.cancel()
        await asyncio.gather(*provisions, return_exceptions=True)
        workers = [worker for worker, _ in self._idle] + list(self._busy.values()) + self._late
        self._idle.clear()
        self._busy.clear()
        self._late = []
        return workers

    def stats(self) -> PoolStats:
        return PoolStats(
            function=self.function,
            idle=len(self._idle),
            busy=len(self._busy),
            provisioning=len(self._provisioning),
            waiting=sum(1 for waiter in self._waiters if not waiter.done()),
            max_capacity=self.config.max_capacity,
        )

    # -- the rules ---------------------------------------------------------

    def _total(self) -> int:
        return len(self._idle) + len(self._busy) + len(self._provisioning)

    def _owns(self, worker: W) -> bool:
        return self._busy.get(id(worker)) is worker or any(w is worker for w, _ in self._idle)

    def _not_checked_out(self, worker: W) -> WorkerNotCheckedOutError:
        return WorkerNotCheckedOutError(
            f"worker {worker!r} is not checked out from the pool of "
            f"{self.function!r}: it was already released, was evicted, or the "
            f"pool was drained; release each acquired worker exactly once"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError(
                f"the pool of {self.function!r} is drained; create a new pool to serve again"
            )

    def _head_waiter(self) -> asyncio.Future[W] | None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        return self._waiters[0] if self._waiters else None

    def _hand_off(self, worker: W) -> None:
        """Give a free worker to the head waiter, or park it idle."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                self._busy[id(worker)] = worker
                self._handed[id(worker)] = waiter
                waiter.set_result(worker)
                return
        self._idle.append((worker, self.now()))

    def _dispatch(self) -> None:
        """Serve waiters from the idle set, then start provisions for the rest."""
        while self._idle and self._head_waiter() is not None:
            worker, _ = self._idle.pop()
            self._hand_off(worker)
        if self._total() >= self.config.max_capacity:
            return  # nothing to provision: the common case under contention
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        while waiting > len(self._provisioning) and self._total() < self.config.max_capacity:
            self._start_provision()

    def _start_provision(self) -> asyncio.Task[W]:
        task = asyncio.get_running_loop().create_task(
            self._provision_one(), name=f"provision-{self.function}"
        )
        self._provisioning.add(task)
        task.add_done_callback(_retrieve_exception)
        return task

    async def _provision_one(self) -> W:
        task = asyncio.current_task()
        try:
            worker = await self._provision()
        except BaseException as error:
            self._provisioning.discard(task)  # type: ignore[arg-type]
            self._provision_failed(error)
            raise
        self._provisioning.discard(task)  # type: ignore[arg-type]
        if self._closed:
            self._late.append(worker)
        else:
            self._hand_off(worker)
        return worker

    def _provision_failed(self, error: BaseException) -> None:
        if self._closed:
            return
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        if waiting > len(self._provisioning):
            head = self._head_waiter()
            assert head is not None
            self._waiters.popleft()
            if isinstance(error, asyncio.CancelledError):
                error = PoolError(f"provisioning a worker for {self.function!r} was cancelled")
            head.set_exception(error)
        self._dispatch()

    def _leave(self, waiter: asyncio.Future[W]) -> None:
        """Take a cancelled waiter out of the queue; pass on a worker that reached it too late."""
        place = self._displaced.pop(waiter, None)
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
        if not waiter.done():
            waiter.cancel()
        elif not waiter.cancelled() and waiter.exception() is None:
            worker = waiter.result()
            if self._busy.get(id(worker)) is worker:  # not evicted since the hand-off
                del self._busy[id(worker)]
                del self._handed[id(worker)]
                self._hand_off(worker)
        if place is not None:  # the place evict kept for it: leave that too
            self._leave(place)
        self._dispatch()

    # -- deadlines ---------------------------------------------------------
    #
    # Callers on the default acquire_timeout arrive in order with the same limit,
    # so their deadlines are sorted: one timer, armed for the earliest live one,
    # serves them all (a timer per caller costs more than the rest of acquire).
    # A caller with its own timeout gets its own timer.

    def _watch_deadline(
        self,
        loop: asyncio.AbstractEventLoop,
        waiter: asyncio.Future[W],
        deadline: float,
        *,
        shared: bool,
    ) -> asyncio.TimerHandle | None:
        if not shared:
            return loop.call_at(deadline, self._expire, waiter)
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        deadlines.append((deadline, waiter))
        if self._deadline_timer is None:
            self._deadline_timer = loop.call_at(deadlines[0][0], self._on_shared_deadline)
        return None

    def _on_shared_deadline(self) -> None:
        self._deadline_timer = None
        loop = asyncio.get_running_loop()
        due = loop.time() + _CLOCK_RESOLUTION  # what the loop itself counts as due
        deadlines = self._deadlines
        while deadlines:
            deadline, waiter = deadlines[0]
            if not waiter.done() and deadline > due:
                self._deadline_timer = loop.call_at(deadline, self._on_shared_deadline)
                return
            deadlines.popleft()
            self._expire(waiter)

    def _expire(self, waiter: asyncio.Future[W]) -> None:
        if waiter.done():
            return
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
        waiter.set_exception(_DeadlinePassed())


class _DeadlinePassed(PoolError):
    """Internal: set on a waiter whose acquire deadline passed (raised as AcquireTimeoutError)."""


_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


def _retrieve_exception(task: asyncio.Task[object]) -> None:
    """Provision errors reach a waiter; mark them retrieved so asyncio does not log them."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("provisioning failed: %r", task.exception())


class PoolManager(Generic[W]):
    """One :class:`ContainerPool` per function, all provisioned by one callback."""

    def __init__(
        self,
        provision: Callable[[str], Awaitable[W]],
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._provision = provision
        self._clock = clock
        self._pools: dict[str, ContainerPool[W]] = {}

    def add(self, function: str, config: ScalingConfig) -> ContainerPool[W]:
        """Register a function's pool; a name can be registered once."""
        if function in self._pools:
            raise ValueError(f"function {function!r} already has a pool")

        async def provision() -> W:
            return await self._provision(function)

        pool = ContainerPool(function, config, provision, clock=self._clock)
        self._pools[function] = pool
        return pool

    def pool(self, function: str) -> ContainerPool[W]:
        try:
            return self._pools[function]
        except KeyError:
            known = ", ".join(sorted(self._pools)) or "none"
            raise UnknownFunctionError(
                f"no function named {function!r} (known: {known}); add it to functions.yml"
            ) from None

    @property
    def functions(self) -> list[str]:
        return list(self._pools)

    async def start(self) -> None:
        """Provision every pool's ``min_capacity``."""
        await asyncio.gather(*(pool.start() for pool in self._pools.values()))

    async def ensure_min(self) -> int:
        """Provision every pool back up to its ``min_capacity``; returns how many were started.

        Raises the first provisioning error once every pool has tried.
        """
        outcomes = await asyncio.gather(
            *(pool.ensure_min() for pool in self._pools.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return sum(outcomes)  # type: ignore[arg-type]

    async def acquire(self, function: str, timeout: float | None = None) -> W:
        return await self.pool(function).acquire(timeout)

    def release(self, function: str, worker: W) -> None:
        self.pool(function).release(worker)

    def evict(self, function: str, worker: W) -> bool:
        return self.pool(function).evict(worker)

    def prune_idle(self, now: float | None = None) -> dict[str, list[W]]:
        return {name: pool.prune_idle(now) for name, pool in self._pools.items()}

    async def drain(self) -> dict[str, list[W]]:
        names = list(self._pools)
        drained = await asyncio.gather(*(self._pools[name].drain() for name in names))
        return dict(zip(names, drained, strict=True))

    def stats(self) -> dict[str, PoolStats]:
        return {name: pool.stats() for name, pool in self._pools.items()}
