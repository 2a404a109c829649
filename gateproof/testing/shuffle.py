"""An event loop that runs independent ready callbacks in a seeded random order.

Races hide when the loop always runs ready callbacks in the order they were
scheduled: every run of a test then explores the same interleaving. Which of
two tasks made runnable by *independent* events runs first is not something
asyncio promises: under other load, on another machine, a reply or a timer
lands a little earlier and the order flips. :class:`ShuffledEventLoop`
explores those orders with its own ``random.Random(seed)``; the same seed
replays the same schedule exactly, as long as the test itself is
deterministic (no real I/O, no wall-clock timing decisions).

What it never reorders is what a real loop never reorders: callbacks that one
callback scheduled, in the order it scheduled them. ``Condition.notify_all``
wakes its waiters in the order they waited, ``gather`` starts its tasks in
argument order, a future's done-callbacks run in registration order; code may
rely on that, and a correct pool built on ``notify_all`` does. So each ready
callback is tagged with the callback that was running when it was scheduled
(its *batch*), and before each iteration the loop shuffles the order of the
batches, keeping every batch contiguous and in its own order. Callbacks made
ready by I/O are each their own batch.

Use it directly::

    with asyncio.Runner(loop_factory=lambda: ShuffledEventLoop(seed=7)) as runner:
        runner.run(main())

or through pytest with ``--shuffle-loop [--shuffle-seed N]`` (see
:mod:`gateproof.testing.plugin`).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
from collections.abc import Callable
from typing import Any

from gateproof.testing.virtual_time import VirtualTimeLoop

__all__ = [
    "ShuffledEventLoop",
    "loop_factory",
    "new_seed",
    "repetition_seed",
    "schedule_seed",
]


class ShuffledEventLoop(VirtualTimeLoop):
    """A selector event loop that shuffles the order of independent ready batches.

    ``keep_batches=False`` shuffles the whole ready queue instead, as gateproof
    did before: it also meets orders no real loop produces, and is kept only as
    the baseline ``gateproof bench shuffle`` measures against. ``virtual_time``
    puts it on the virtual clock of :class:`~gateproof.testing.virtual_time.VirtualTimeLoop`.
    """

    def __init__(
        self, seed: int | str = 0, *, keep_batches: bool = True, virtual_time: bool = False
    ) -> None:
        super().__init__(virtual_time=virtual_time)
        self.seed = seed
        self.keep_batches = keep_batches
        self._rng = random.Random(seed)
        self._running_batch: object | None = None  # the callback running right now
        self._batch_of: dict[int, tuple[asyncio.Handle, object]] = {}

    def call_soon(self, callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        batch = self._running_batch if self._running_batch is not None else object()
        handle = super().call_soon(self._run_in_batch, callback, *args, context=context)
        self._batch_of[id(handle)] = (handle, batch)
        return handle

    def call_at(
        self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> Any:
        return super().call_at(when, self._run_in_batch, callback, *args, context=context)

    def _run_in_batch(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a callback; whatever it schedules forms one batch, kept in order."""
        self._running_batch = object()
        try:
            callback(*args)
        finally:
            self._running_batch = None

    def _run_once(self) -> None:
        # _ready is the selector loop's deque of callbacks due in this iteration;
        # callbacks made ready by I/O and timers join it after the shuffle.
        ready = self._ready  # type: ignore[attr-defined]
        if not self.keep_batches:
            self._batch_of.clear()
            if len(ready) > 1:
                callbacks = list(ready)
                self._rng.shuffle(callbacks)
                ready.clear()
                ready.extend(callbacks)
        elif len(ready) > 1:
            batches: dict[object, list[Any]] = {}
            for handle in ready:
                _, batch = self._batch_of.pop(id(handle), (None, None))
                batches.setdefault(batch if batch is not None else object(), []).append(handle)
            if len(batches) > 1:
                order = list(batches.values())
                self._rng.shuffle(order)
                ready.clear()
                for batch_handles in order:
                    ready.extend(batch_handles)
        elif ready:
            self._batch_of.pop(id(ready[0]), None)
        super()._run_once()  # type: ignore[misc]


def new_seed() -> int:
    """A fresh seed for a run that was not given one (printed so it can be replayed)."""
    return secrets.randbelow(2**32)


def schedule_seed(seed: int, test_id: str) -> str:
    """The seed of one test's loop: the run's seed and the test id (repeat index included).

    Each test, and each repetition of it under ``--count``, gets its own
    schedule; rerunning the same test id with the same run seed replays it.
    """
    return f"{seed}:{test_id}"


def repetition_seed(seed: int, test_id: str) -> int:
    """An integer seed for one repetition, derived from the run's seed and its test id.

    ``--shuffle-seed`` of this value with the same test id replays that one
    repetition's schedule on its own.
    """
    digest = hashlib.sha256(schedule_seed(seed, test_id).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def loop_factory(
    seed: int | str, *, keep_batches: bool = True, virtual_time: bool = False
) -> Callable[[], ShuffledEventLoop]:
    """A loop factory (as ``asyncio.Runner`` takes) for one seeded schedule."""

    def make() -> ShuffledEventLoop:
        return ShuffledEventLoop(seed, keep_batches=keep_batches, virtual_time=virtual_time)

    return make
