"""An asyncio loop, on virtual time, that lets a strategy decide which ready callback runs next.

A real loop runs its ready callbacks in the order they were scheduled, so a
test meets one interleaving of its tasks, and on a quiet machine always the
same. What can really vary is *when* things land: a timer fires at its
deadline or later, an I/O completion arrives a little sooner or later than
another, a task resumed by one event overtakes a task resumed by another.
:class:`ControlledLoop` keeps exactly those freedoms and no others:

- the callbacks one callback scheduled form a *batch* and keep their order
  (``notify_all`` wakes waiters in the order they waited, ``gather`` starts
  tasks in argument order, a future's done-callbacks run in registration order);
- a timer never fires before it is due; once due, it is a batch of its own,
  which a strategy may run later than the plain loop would;
- an I/O completion is a batch of its own, and may likewise run later;
- iterations stay: what a callback schedules runs in a later iteration of the
  loop, and every batch ready at the start of an iteration runs in it (unless
  ``random-delay`` holds it back, as a late completion). A real loop never
  starves a ready task while others run on and on; tests rely on that when they
  let "a few loop ticks" pass, and a strategy that starved a task (PCT would,
  by priority) would fail correct code.

At each step a :class:`~gateproof.testing.schedules.Strategy` picks the batch
whose next callback runs (``plain``: the oldest, which is asyncio's own order;
``pct``; ``random-delay``). Everything else is the selector loop on the clock
of :class:`~gateproof.testing.virtual_time.VirtualTimeLoop`. A schedule is a
function of the strategy, its seed and the program, so the same seed replays
it exactly; ``fingerprint()`` names the schedule that ran (which task ran at
each step), to count distinct ones.

    loop_factory = lambda: ControlledLoop(parse_explore("pct:d=2"), seed=7)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())

It replaces ``BaseEventLoop._run_once`` and ``_call_soon`` with versions that
keep the same contract (CPython 3.11 to 3.13).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import threading
from array import array
from collections.abc import Callable
from typing import Any

from gateproof.testing.schedules import Batch, ExploreSpec, make_strategy, parse_explore
from gateproof.testing.virtual_time import VirtualTimeLoop

__all__ = ["ControlledLoop", "controlled_loop_factory"]

_MAX_SELECT_TIMEOUT = 24 * 3600  # as asyncio's own loop


class ControlledLoop(VirtualTimeLoop):
    """A selector loop whose ready callbacks run in the order a seeded strategy picks."""

    def __init__(
        self, spec: ExploreSpec | str = "plain", seed: int | str = 0, *, virtual_time: bool = True
    ) -> None:
        super().__init__(virtual_time=virtual_time)
        self.spec = parse_explore(spec) if isinstance(spec, str) else spec
        self.seed = seed
        self.strategy = make_strategy(self.spec, seed)
        self.steps = 0
        self._batches: list[Batch] = []
        self._making: _LazyBatch | None = None  # the batch the running callback schedules into
        self._made = 0
        self._round = 0  # the loop's iteration: a batch runs in the round it is due
        self._timer_owner: dict[int, Any] = {}
        self._owners: dict[Any, int] = {}
        self._trace = array("I")

    # -- what the strategy sees ----------------------------------------------

    @property
    def tasks_seen(self) -> int:
        """How many tasks (and loop-level sources) had a callback run."""
        return len(self._owners)

    def fingerprint(self) -> str:
        """A short name for the schedule that ran: which task ran at each step."""
        return hashlib.blake2b(self._trace.tobytes(), digest_size=8).hexdigest()

    # -- scheduling ------------------------------------------------------------

    def _new_batch(self, due_now: bool = False) -> Batch:
        """A batch, due in this round (a timer or I/O at the poll) or the next (a callback's)."""
        self._made += 1
        batch = Batch(self._made, self._round if due_now else self._round + 1)
        self._batches.append(batch)
        self.strategy.new_batch(batch, batch.round)
        return batch

    def _call_soon(self, callback: Callable[..., Any], args: Any, context: Any) -> Any:
        handle = asyncio.Handle(callback, args, self, context)
        if handle._source_traceback:  # type: ignore[attr-defined]
            del handle._source_traceback[-1]  # type: ignore[attr-defined]
        if threading.get_ident() != self._thread_id:  # type: ignore[attr-defined]
            # call_soon_threadsafe, or a call before the loop runs: an event of its own
            self._ready.append(handle)  # type: ignore[attr-defined]
            return handle
        making = self._making
        # scheduled from outside any callback: its own batch
        batch = making.get() if making is not None else self._new_batch()
        if not batch.items:
            self.strategy.first_callback(batch, _is_wakeup(callback))
        batch.items.append((handle, _owner(callback, self)))
        return handle

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        timer = super().call_at(when, callback, *args, context=context)
        self._timer_owner[id(timer)] = (timer, asyncio.current_task(self))
        return timer

    def _as_batch(self, handle: asyncio.Handle, owner: Any) -> None:
        self._new_batch(due_now=True).items.append((handle, owner))

    def _run_once(self) -> None:
        """One iteration: poll I/O and timers, then as many steps as callbacks were ready."""
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        while scheduled and scheduled[0]._cancelled:  # type: ignore[attr-defined]
            dropped = heapq.heappop(scheduled)
            dropped._scheduled = False  # type: ignore[attr-defined]
            self._timer_owner.pop(id(dropped), None)
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
        self._round += 1
        ready = self._ready  # type: ignore[attr-defined]
        while ready:  # I/O callbacks and call_soon_threadsafe since the last poll
            self._as_batch(ready.popleft(), None)
        timeout: float | None = None
        if self._batches or self._stopping:  # type: ignore[attr-defined]
            timeout = 0  # work is waiting, if only a batch held back for a later iteration
        elif scheduled:
            timeout = min(max(0.0, scheduled[0].when() - self.time()), _MAX_SELECT_TIMEOUT)
        self._process_events(self._selector.select(timeout))  # type: ignore[attr-defined]
        while ready:
            self._as_batch(ready.popleft(), None)
        end_time = self.time() + self._clock_resolution  # type: ignore[attr-defined]
        while scheduled and scheduled[0].when() < end_time:
            timer = heapq.heappop(scheduled)
            timer._scheduled = False  # type: ignore[attr-defined]
            _, owner = self._timer_owner.pop(id(timer), (None, None))
            self._as_batch(timer, owner)
        while True:
            due = [batch for batch in self._batches if batch.round <= self._round]
            if not due:
                break
            self._step(due)

    def _step(self, due: list[Batch]) -> None:
        self.steps += 1
        batch = due[self.strategy.pick(due, self.steps) if len(due) > 1 else 0]
        handle, owner = batch.items.popleft()
        if not batch.items:
            self._batches.remove(batch)
        if handle._cancelled:  # type: ignore[attr-defined]
            return
        self._trace.append(self._owners.setdefault(owner, len(self._owners)))
        self._making = _LazyBatch(self)
        try:
            handle._run()  # type: ignore[attr-defined]
        finally:
            self._making = None


class _LazyBatch:
    """The batch of the running callback, made only if it schedules something."""

    __slots__ = ("_batch", "_loop")

    def __init__(self, loop: ControlledLoop) -> None:
        self._loop = loop
        self._batch: Batch | None = None

    def get(self) -> Batch:
        if self._batch is None:
            self._batch = self._loop._new_batch()
        return self._batch


_WAKEUPS = frozenset({"task_wakeup", "__wakeup", "_Task__wakeup"})  # C task (3.11-3.13), Python


def _is_wakeup(callback: Any) -> bool:
    """Whether the callback resumes a task because a future it awaited is done."""
    return getattr(callback, "__name__", None) in _WAKEUPS and isinstance(
        getattr(callback, "__self__", None), asyncio.Task
    )


def _owner(callback: Any, loop: asyncio.AbstractEventLoop) -> Any:
    """The task a callback belongs to: the one it steps or wakes, else the one scheduling it."""
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        return task
    return asyncio.current_task(loop)


def controlled_loop_factory(
    spec: ExploreSpec | str, seed: int | str, *, virtual_time: bool = True
) -> Callable[[], ControlledLoop]:
    """A loop factory (as ``asyncio.Runner`` takes) for one seeded schedule."""

    def make() -> ControlledLoop:
        return ControlledLoop(spec, seed, virtual_time=virtual_time)

    return make
