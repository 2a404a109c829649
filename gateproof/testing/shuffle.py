"""An event loop that runs ready callbacks in a seeded random order.

Races hide when the loop always runs ready callbacks in the order they were
scheduled: every run of a test then explores the same interleaving. asyncio
promises no order between *different* tasks, so any order of the ready queue
is one the program may meet in production (under other load, on another
machine). :class:`ShuffledEventLoop` shuffles the ready queue before each
iteration with its own ``random.Random(seed)``: the same seed replays the
same schedule exactly, as long as the test itself is deterministic (no real
I/O, no wall-clock timing decisions).

The caveat: asyncio does promise that callbacks scheduled with ``call_soon``
run in registration order, and the whole ready queue is shuffled, so a
shuffled run can also meet an order no production loop would produce (two
futures resolved by one callback waking their tasks in reverse order). Code
that relies on that ordering may fail here; read a failure's schedule before
calling it a race. The pool conformance suite relies on none.

Use it directly::

    with asyncio.Runner(loop_factory=lambda: ShuffledEventLoop(seed=7)) as runner:
        runner.run(main())

or through pytest with ``--shuffle-loop [--shuffle-seed N]`` (see
:mod:`gateproof.testing.plugin`).
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable

__all__ = ["ShuffledEventLoop", "loop_factory", "new_seed", "schedule_seed"]


class ShuffledEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ready queue is shuffled before each iteration."""

    def __init__(self, seed: int | str = 0) -> None:
        super().__init__()
        self.seed = seed
        self._rng = random.Random(seed)

    def _run_once(self) -> None:
        # _ready is the selector loop's deque of callbacks due in this iteration;
        # callbacks made ready by I/O and timers join it after the shuffle.
        ready = self._ready  # type: ignore[attr-defined]
        if len(ready) > 1:
            callbacks = list(ready)
            self._rng.shuffle(callbacks)
            ready.clear()
            ready.extend(callbacks)
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


def loop_factory(seed: int | str) -> Callable[[], ShuffledEventLoop]:
    """A loop factory (as ``asyncio.Runner`` takes) for one seeded schedule."""

    def make() -> ShuffledEventLoop:
        return ShuffledEventLoop(seed)

    return make
