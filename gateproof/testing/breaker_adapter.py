"""The breaker adapter contract: how the breaker conformance suite builds the breaker it tests.

The suite in ``tests/breaker/`` runs against any circuit breaker a *factory*
can build, named as ``module:attribute``::

    pytest tests/breaker --breaker-impl gateproof.testing.breaker_adapter:legacy_breaker

The factory is called as ``factory(spec, clock=clock)``: ``spec`` is a
:class:`BreakerSpec` (open after ``failure_threshold`` consecutive failures,
half-open after ``recovery_timeout`` seconds, at most ``half_open_max_calls``
probes at once) and ``clock`` a ``() -> float`` for breakers that take one.
Breakers come in two shapes, both sync or async, and say which with
:func:`breaker_adapter`:

* ``style="record"`` (the default): ``allow() -> bool``, ``record_success()``,
  ``record_failure()``; the names may differ (``methods={"allow": "allow_request"}``);
* ``style="call"``: ``breaker.call(func, *args)`` runs ``func`` (awaiting it if
  ``call`` is a coroutine) and raises ``open_error`` when it refuses.

``clock`` is ``"injected"``, ``"patched"`` (the breaker reads ``time.time()``
or ``time.monotonic()`` itself) or ``"real"``. The reference and legacy
breakers' own adapters below are the worked examples; the rest is in
``docs/breaker-adapter.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from gateproof.testing.pool_adapter import check_choice, load_factory, marking, options_of

__all__ = [
    "DEFAULT_BREAKER_IMPL",
    "LEGACY_BREAKER_IMPL",
    "BreakerAdapterOptions",
    "BreakerSpec",
    "breaker_adapter",
    "breaker_options",
    "legacy_breaker",
    "load_breaker_factory",
    "reference_breaker",
]

DEFAULT_BREAKER_IMPL = "gateproof.testing.breaker_adapter:reference_breaker"
LEGACY_BREAKER_IMPL = "gateproof.testing.breaker_adapter:legacy_breaker"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BreakerSpec:
    """What the suite asks of every breaker it builds (times in seconds)."""

    failure_threshold: int = 3
    recovery_timeout: float = 30.0
    half_open_max_calls: int = 1


@dataclass(frozen=True)
class BreakerAdapterOptions:
    """How the harness reaches a breaker; see the module docstring."""

    style: Literal["record", "call"] = "record"
    open_error: type[BaseException] | tuple[type[BaseException], ...] = ()
    clock: Literal["injected", "patched", "real"] = "injected"
    methods: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("style", self.style, ("record", "call"))
        if self.style == "call" and not self.open_error:
            raise ValueError("style='call' needs open_error: the exception the breaker raises")
        check_choice("clock", self.clock, ("injected", "patched", "real"))


def breaker_adapter(**options: Any) -> Callable[[F], F]:
    """Mark a factory with the :class:`BreakerAdapterOptions` its breaker needs."""
    return marking(BreakerAdapterOptions(**options))


def breaker_options(factory: Any) -> BreakerAdapterOptions:
    """The options a breaker factory was marked with (the defaults when it was not)."""
    return options_of(factory, BreakerAdapterOptions)


def load_breaker_factory(spec: str) -> Callable[..., Any]:
    """Resolve ``--breaker-impl``'s ``module:attribute`` to a breaker factory."""
    return load_factory(spec, option="--breaker-impl", example=DEFAULT_BREAKER_IMPL)


@breaker_adapter()
def reference_breaker(spec: BreakerSpec, *, clock: Callable[[], float]) -> Any:
    """The gateway's breaker: a failure-rate window of calls, bounded half-open probes."""
    from reference.gateway.core.breaker import BreakerConfig, CircuitBreaker

    config = BreakerConfig(
        # a window of the last failure_threshold calls, all failed: that many failures in a row
        failure_rate_threshold=1.0,
        window_size=spec.failure_threshold,
        minimum_calls=spec.failure_threshold,
        recovery_timeout=spec.recovery_timeout,
        half_open_max_calls=spec.half_open_max_calls,
    )
    return CircuitBreaker("fn", config, clock=clock)


@breaker_adapter(methods={"allow": "allow_request"})
def legacy_breaker(spec: BreakerSpec, *, clock: Callable[[], float]) -> Any:
    """The pre-refactor breaker, kept with its defects."""
    from reference.legacy.breaker import LegacyCircuitBreaker

    return LegacyCircuitBreaker(spec.failure_threshold, spec.recovery_timeout, clock=clock)
