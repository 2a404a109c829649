"""Mutants of the shipped targets that no test can tell from the original, and why.

Each key is (module, function, mutation as ``gateproof bench mutation``
prints it: ``old -> new``); the value is the reason. A mutant listed here is
left out of the score's denominator and printed as equivalent with its
reason; ``docs/mutation.md`` explains them. A change to the module that
rewrites one of these lines makes its mutant count as a survivor again, to be
looked at afresh.
"""

from __future__ import annotations

POOL = "reference/gateway/services/pool.py"
BREAKER = "reference/gateway/core/breaker.py"

_ONE_TIMER_EACH = (
    "every caller gets a timer of its own instead of the shared one: the shared timer "
    "only saves the cost of a timer per caller, the deadlines are the same"
)
_DONE_WAITERS_ARE_SKIPPED = (
    "the waiter, already done, stays in the queue until the next hand-off or dispatch drops "
    "it: every reader of the queue skips done waiters"
)
_SAME_ID = (
    "unreachable: the branch runs only when another object with the worker's id is checked "
    "out, and two live objects never share an id"
)

EQUIVALENTS: dict[tuple[str, str, str], str] = {
    (
        POOL,
        "ContainerPool.acquire",
        "if self._idle and not self._waiters: -> if self._idle and self._waiters:",
    ): (
        "the slow path hands out the same idle worker: idle workers and live waiters never "
        "coexist, so the new caller is alone in the queue, is handed the most recently used "
        "worker at once and does not suspend on its finished future; only a deadline timer is "
        "armed for nothing"
    ),
    (
        POOL,
        "ContainerPool.acquire",
        "timer = self._watch_deadline(loop, waiter, deadline, shared=timeout is None) -> "
        "timer = self._watch_deadline(loop, waiter, deadline, shared=None)",
    ): _ONE_TIMER_EACH,
    (
        POOL,
        "ContainerPool.acquire",
        "timer = self._watch_deadline(loop, waiter, deadline, shared=False) -> "
        "timer = self._watch_deadline(loop, waiter, deadline, shared=None)",
    ): "None is as false as False here",
    (
        POOL,
        "ContainerPool.release",
        "self._busy[id(worker)] = checked_out -> self._busy[id(worker)] = None",
    ): _SAME_ID,
    (
        POOL,
        "ContainerPool.release",
        "self._busy[id(worker)] = checked_out -> self._busy[id(None)] = checked_out",
    ): _SAME_ID,
    (
        POOL,
        "ContainerPool._dispatch",
        "if self._total() >= self.config.max_capacity: -> "
        "if self._total() > self.config.max_capacity:",
    ): "a fast path: at max_capacity the loop below starts nothing either",
    (
        POOL,
        "ContainerPool._leave",
        "self._waiters.remove(waiter) -> self._waiters.remove(None)",
    ): _DONE_WAITERS_ARE_SKIPPED,
    (
        POOL,
        "ContainerPool._expire",
        "self._waiters.remove(waiter) -> self._waiters.remove(None)",
    ): _DONE_WAITERS_ARE_SKIPPED,
    (
        POOL,
        "ContainerPool._leave",
        "elif not waiter.cancelled() and waiter.exception() is None: -> "
        "elif not waiter.cancelled() or waiter.exception() is None:",
    ): (
        "a waiter that ended with an error (or was cancelled) re-raises that same error inside "
        "_leave, which acquire was re-raising anyway; the _dispatch it skips cannot start "
        "anything, since a leaving waiter only lowers demand"
    ),
    (
        POOL,
        "ContainerPool._on_shared_deadline",
        "if not waiter.done() and deadline > due: -> if not waiter.done() and deadline >= due:",
    ): "differs only for a deadline exactly one clock resolution (1 ns) ahead of the loop",
    **{
        (
            POOL,
            "PoolManager.drain",
            f"return dict(zip(names, drained, strict=True)) -> {zipped}",
        ): "gather returns one result per pool it was given: the lengths always match"
        for zipped in (
            "return dict(zip(names, drained, strict=None))",
            "return dict(zip(names, drained, ))",
            "return dict(zip(names, drained, strict=False))",
        )
    },
    (
        BREAKER,
        "CircuitBreaker.__init__",
        "self._opened_at = 0.0 -> self._opened_at = None",
    ): "read only while OPEN, and every move to OPEN sets it first",
    (
        BREAKER,
        "CircuitBreaker.__init__",
        "self._opened_at = 0.0 -> self._opened_at = 1.0",
    ): "read only while OPEN, and every move to OPEN sets it first",
}


def reason_for(module: str, function: str, mutation: str) -> str | None:
    """Why this mutant is equivalent, or None when it is not a known equivalent."""
    return EQUIVALENTS.get((module, function, mutation))
