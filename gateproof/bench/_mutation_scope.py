"""Code of the shipped targets that the adapter contracts cannot reach, and why.

A conformance suite drives one pool (or one breaker) through its adapter:
``acquire``/``release``/``evict``/``drain``/``stats``/``start``/``prune_idle``/
``adopt`` for a pool, ``allow``/``record_success``/``record_failure`` (or
``call``) for a breaker. Mutants in code no adapter call can run are reported
by ``gateproof bench mutation`` as *outside the contract*, in a count of
their own with the reason: they are neither dropped nor called equivalent
(the reference's unit tests, ``--with-unit-tests``, still have to kill them),
and the headline score is over the rest, the contract's subject.

Each key is (module, qualified name): a class covers all its methods; a
function or method covers its body; ``Class.attribute`` (not a method) covers
every mutated line of the class's methods that reads or writes
``self.attribute``, for state that only the reference's own API shows.
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
    mutant's ``old -> new`` text, matched against ``Class.attribute`` entries.
    """
    parts = function.split(".")
    for end in range(len(parts), 0, -1):
        reason = OUTSIDE_CONTRACT.get((module, ".".join(parts[:end])))
        if reason is not None:
            return reason
    if len(parts) == 2:
        old = mutation.partition(" -> ")[0]
        for (where, name), reason in OUTSIDE_CONTRACT.items():
            owner, _, attribute = name.partition(".")
            if (
                where == module
                and owner == parts[0]
                and attribute
                and re.search(rf"\bself\.{re.escape(attribute)}\b", old)
            ):
                return reason
    return None
