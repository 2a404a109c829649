"""Code of the shipped targets that the adapter contracts cannot reach, and why.

A conformance suite drives one pool (or one breaker) through its adapter:
``acquire``/``release``/``evict``/``drain``/``stats``/``start``/``prune_idle``/
``adopt`` for a pool, ``allow``/``record_success``/``record_failure`` (or
``call``) for a breaker. Mutants in code no adapter call can run are reported
by ``gateproof bench mutation`` as *outside the contract*, in a count of
their own with the reason: they are neither dropped nor called equivalent
(the reference's unit tests, ``--with-unit-tests``, still have to kill them),
and the headline score is over the rest, the contract's subject.

Each key is (module, qualified name):

* a class covers all its methods; a function or method covers its body and
  every mutated line that calls it (``self.method(`` in its class, or the
  module-level function's name anywhere);
* ``Class.attribute`` covers every mutated line of the class's methods that
  reads or writes ``self.attribute``, for state that only the reference's own
  API shows;
* ``Class.method(argument)`` covers the mutated lines of that method that use
  the argument, for an argument the adapter contract never passes.
"""

from __future__ import annotations

import re

from gateproof.bench._mutation_equivalents import BREAKER, POOL

_ONE_POOL = (
    "the pool suite drives one pool through its adapter; the gateway's registry of pools "
    "is the reference's own (tests/unit/test_pool_manager.py)"
)
_NOT_IN_BREAKER_CONTRACT = (
    "not part of the breaker adapter contract (allow, record_success, record_failure, or a "
    "call wrapper): the reference's own API, tested in tests/unit/test_breaker_reference.py"
)

OUTSIDE_CONTRACT: dict[tuple[str, str], str] = {
    (POOL, "PoolManager"): _ONE_POOL,
    (POOL, "UnknownFunctionError"): (
        "raised only by PoolManager for a function it does not hold; " + _ONE_POOL
    ),
    (POOL, "PoolStats.total"): (
        "a derived field the harness never reads (it reads idle, busy, provisioning, waiting)"
    ),
    (POOL, "ContainerPool.stats"): (
        "stats() is read for reports only: the suite judges a pool from its own ledger, "
        "never from the pool's stats (docs/pool-adapter.md)"
    ),
    (POOL, "ContainerPool.function"): (
        "the function's name appears only in error messages, task names and stats; the "
        "contract fixes the exception types, not their text"
    ),
    (POOL, "ContainerPool._not_checked_out"): (
        "the text of a refused release's error: the contract fixes its type (ValueError), "
        "not its message"
    ),
    (POOL, "ContainerPool.acquire(timeout)"): (
        "the per-call timeout argument: the contract calls acquire() with no argument, so "
        "every caller waits config.acquire_timeout"
    ),
    (POOL, "_retrieve_exception"): (
        "a debug log record of a failed cold start: no adapter reads the pool's logs"
    ),
    (BREAKER, "BreakerOpenError"): (
        "raised only by CircuitBreaker.check; " + _NOT_IN_BREAKER_CONTRACT
    ),
    (BREAKER, "CircuitBreaker.check"): _NOT_IN_BREAKER_CONTRACT,
    (BREAKER, "CircuitBreaker._raise_open"): "called only by check; " + _NOT_IN_BREAKER_CONTRACT,
    (BREAKER, "CircuitBreaker.snapshot"): _NOT_IN_BREAKER_CONTRACT,
    (BREAKER, "CircuitBreaker.record_ignored"): _NOT_IN_BREAKER_CONTRACT,
    (BREAKER, "CircuitBreaker.epoch"): _NOT_IN_BREAKER_CONTRACT,
    **{
        (BREAKER, f"CircuitBreaker.{counter}"): (
            "a counter read only through snapshot(), which no adapter reads"
        )
        for counter in ("successes", "failures", "rejections", "trips")
    },
    **{
        (BREAKER, name): (
            "the state-change hook the gateway registers on the reference breaker; no adapter "
            "registers one"
        )
        for name in ("CircuitBreaker.listeners", "CircuitBreaker._notify")
    },
    **{
        (BREAKER, name): (
            "epochs only matter to callers that pass one to record_*; the adapter contract has "
            "no epoch, so every result counts"
        )
        for name in ("CircuitBreaker._epoch", "CircuitBreaker._stale")
    },
    (BREAKER, "CircuitBreaker.name"): (
        "the name shows only in snapshot() and BreakerOpenError, which no adapter reads"
    ),
}


def outside_contract(module: str, function: str, mutation: str = "") -> str | None:
    """Why a mutant is outside the contract, or None.

    ``function`` is ``Class.method`` or ``function``; ``mutation`` is the
    mutant's ``old -> new`` text, matched against the line-level entries.
    """
    parts = function.split(".")
    for end in range(len(parts), 0, -1):
        reason = OUTSIDE_CONTRACT.get((module, ".".join(parts[:end])))
        if reason is not None:
            return reason
    old = mutation.partition(" -> ")[0]
    for (where, name), reason in OUTSIDE_CONTRACT.items():
        if where == module and _touches(name, parts, old):
            return reason
    return None


def _touches(name: str, parts: list[str], old: str) -> bool:
    """Whether the mutated line ``old`` of ``parts`` (the function) uses entry ``name``."""
    owner, _, member = name.partition(".")
    if not member:  # a module-level function or class, called from anywhere
        return re.search(rf"\b{re.escape(owner)}\b", old) is not None
    if len(parts) != 2 or parts[0] != owner:
        return False
    method, _, argument = member.partition("(")
    if argument:
        return parts[1] == method and re.search(rf"\b{re.escape(argument[:-1])}\b", old) is not None
    return re.search(rf"\bself\.{re.escape(method)}\b", old) is not None
