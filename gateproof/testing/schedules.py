"""Scheduling strategies for :class:`~gateproof.testing.controlled_loop.ControlledLoop`.

At each step the loop holds *batches*: the callbacks one callback scheduled,
in the order it scheduled them (a real loop never reorders those), or one
timer or I/O completion that has come due. A strategy picks which batch runs
its next callback. Each is seeded, so a schedule replays exactly from its seed.

``plain``
    the oldest batch first: exactly the order of asyncio's own loop (on
    virtual time).
``pct``
    probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010). Every
    task gets a random priority when it is first seen; the batch whose next
    callback belongs to the highest-priority task runs; at ``d - 1`` change
    points, drawn among steps ``1..k``, the task about to run drops below every
    other. Over ``n`` tasks and ``k`` steps, a bug that needs ``d`` orderings to
    happen is found in one run with probability at least ``1 / (n * k**(d-1))``.
    Timers and I/O completions are batches like any other, so PCT also decides
    when they land (never before they are due).
``random-delay``
    noise injection: each new batch (a task resumed at an await, a timer, an
    I/O completion) is held back, with probability ``p``, for a random number
    of loop iterations up to ``hold``; otherwise the oldest batch runs first.
``handoff``
    noise injection at synchronisation points only: a batch that begins by
    waking a task from a future (a pool's hand-off, a lock, a condition, a
    queue, an event) is held back, with probability ``p``, for a random number
    of iterations up to ``hold`` (and then runs last in its iteration), while
    every other task runs on time. A released worker then meets the callers
    that arrive in the meantime before its waiter does, which is where a
    pool's hand-off races live. The batch keeps its order, so waiters one
    ``notify_all`` wakes stay in line.

Every strategy picks only among the batches due in the loop's current
iteration, so no ready task is starved (see :mod:`gateproof.testing.controlled_loop`).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STRATEGIES",
    "Batch",
    "ExploreSpec",
    "Strategy",
    "make_strategy",
    "parse_explore",
    "pct_bound",
]

STRATEGIES = ("plain", "pct", "random-delay", "handoff")
_DEFAULTS = {
    "pct": {"d": 2, "k": 60},
    "random-delay": {"p": 0.8, "hold": 3},
    "handoff": {"p": 0.5, "hold": 3},
    "plain": {},
}


@dataclass(frozen=True)
class ExploreSpec:
    """A strategy and its parameters, as ``--explore`` spells it: ``pct:d=3,k=200``."""

    strategy: str
    params: tuple[tuple[str, float], ...] = ()

    def get(self, name: str) -> float:
        return dict(self.params).get(name, _DEFAULTS[self.strategy][name])

    @property
    def text(self) -> str:
        """The canonical spelling, every parameter included (what a replay passes)."""
        values = {**_DEFAULTS[self.strategy], **dict(self.params)}
        if not values:
            return self.strategy
        shown = ",".join(f"{key}={_number(value)}" for key, value in values.items())
        return f"{self.strategy}:{shown}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_explore(text: str) -> ExploreSpec:
    """``STRATEGY[:name=value,...]``; raises ValueError saying what is accepted."""
    name, _, rest = text.strip().partition(":")
    if name not in STRATEGIES:
        raise ValueError(
            f"unknown schedule strategy {name!r}; choose one of {', '.join(STRATEGIES)} "
            f"(e.g. --explore pct:d=2)"
        )
    allowed = _DEFAULTS[name]
    params: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in rest.replace(":", ",").split(","))):
        key, eq, value = part.partition("=")
        if not eq or key not in allowed:
            names = ", ".join(allowed) or "none"
            raise ValueError(f"{name} takes no parameter {part!r}; its parameters: {names}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name}: {key} must be a number, not {value!r}") from None
        if key in ("d", "k", "hold") and (number < 1 or not number.is_integer()):
            raise ValueError(f"{name}: {key} must be a whole number >= 1, not {value!r}")
        if key == "p" and not 0 <= number <= 1:
            raise ValueError(f"{name}: p must be between 0 and 1, not {value!r}")
        params[key] = number
    return ExploreSpec(name, tuple(sorted(params.items())))


def pct_bound(tasks: int, steps: int, depth: int) -> float:
    """PCT's guarantee: the least chance one run finds a bug of depth ``depth``."""
    if tasks < 1 or steps < 1:
        return 1.0
    return 1.0 / (tasks * steps ** (depth - 1))


def runs_for(probability: float, confidence: float = 0.95) -> int:
    """Runs needed to meet an event of per-run ``probability`` at ``confidence``."""
    if probability >= 1:
        return 1
    return math.ceil(math.log(1 - confidence) / math.log(1 - probability))


class Batch:
    """Callbacks one callback scheduled, kept in order; with their owning tasks."""

    __slots__ = ("created", "items", "round")

    def __init__(self, created: int, due: int = 0) -> None:
        self.items: deque[tuple[Any, Any]] = deque()  # (handle, owner task or None)
        self.created = created
        self.round = due  # the loop iteration it runs in (random-delay may push it later)


class Strategy:
    """The plain loop's choice: the oldest batch."""

    name = "plain"

    def __init__(self, spec: ExploreSpec, seed: int | str) -> None:
        self.spec = spec
        self.rng = random.Random(seed)

    def new_batch(self, batch: Batch, due: int) -> None:
        """Called once for each batch as it is made, due in loop iteration ``due``."""

    def first_callback(self, batch: Batch, wakeup: bool) -> None:
        """Called as a batch gets its first callback; ``wakeup``: it resumes an awaiting task."""

    def pick(self, batches: list[Batch], step: int) -> int:
        """Which of the batches due in this iteration (oldest first) runs its next callback."""
        return 0


class RandomDelay(Strategy):
    name = "random-delay"

    def __init__(self, spec: ExploreSpec, seed: int | str) -> None:
        super().__init__(spec, seed)
        self.p = spec.get("p")
        self.hold = int(spec.get("hold"))

    def new_batch(self, batch: Batch, due: int) -> None:
        if self.rng.random() < self.p:
            batch.round = due + self.rng.randint(1, self.hold)

    def pick(self, batches: list[Batch], step: int) -> int:
        return 0


class HandOff(RandomDelay):
    """Random delays, but only for batches that wake a task from a future."""

    name = "handoff"

    def __init__(self, spec: ExploreSpec, seed: int | str) -> None:
        super().__init__(spec, seed)
        self.held: set[int] = set()

    def new_batch(self, batch: Batch, due: int) -> None:
        """Not here: whether a batch wakes a task is known at its first callback."""

    def first_callback(self, batch: Batch, wakeup: bool) -> None:
        if wakeup and self.rng.random() < self.p:
            batch.round += self.rng.randint(1, self.hold)
            self.held.add(batch.created)

    def pick(self, batches: list[Batch], step: int) -> int:
        """The oldest batch not held back; a held one, once due, runs last in its iteration."""
        for index, batch in enumerate(batches):
            if batch.created not in self.held:
                return index
        self.held.discard(batches[0].created)
        return 0


class PCT(Strategy):
    name = "pct"

    def __init__(self, spec: ExploreSpec, seed: int | str) -> None:
        super().__init__(spec, seed)
        self.depth = int(spec.get("d"))
        self.k = int(spec.get("k"))
        changes = min(self.depth - 1, self.k)
        self.change_points = set(self.rng.sample(range(1, self.k + 1), changes))
        self.changes_made = 0
        self.priority: dict[Any, float] = {}

    def _priority(self, owner: Any) -> float:
        value = self.priority.get(owner)
        if value is None:
            value = self.priority[owner] = self.depth + self.rng.random()
        return value

    def pick(self, batches: list[Batch], step: int) -> int:
        best = max(range(len(batches)), key=lambda i: self._priority(batches[i].items[0][1]))
        if step in self.change_points:
            self.changes_made += 1
            owner = batches[best].items[0][1]
            self.priority[owner] = self.depth - self.changes_made - 0.5  # below every other
            best = max(range(len(batches)), key=lambda i: self._priority(batches[i].items[0][1]))
        return best


def make_strategy(spec: ExploreSpec, seed: int | str) -> Strategy:
    kind = {"plain": Strategy, "pct": PCT, "random-delay": RandomDelay, "handoff": HandOff}
    kind = kind[spec.strategy]
    return kind(spec, seed)
