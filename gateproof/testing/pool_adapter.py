"""The pool adapter contract: how the conformance suite builds the pool it tests.

The suite in ``tests/stress/`` runs against any pool that a *factory* can
build. The factory is named on the command line as ``module:attribute``::

    pytest tests/stress --pool-impl reference.legacy.pool:LegacyPool

and is called as ``factory(function, config, provision, clock=clock)`` where
``function`` is a name, ``config`` a ``ScalingConfig``, ``provision`` an
``async () -> worker`` callback (a cold start; it may raise) and ``clock`` a
``() -> float`` for pools that take an injected clock. The pool it returns has
``acquire``, ``release``, ``evict``, ``drain`` and ``stats`` and, where the
pool has them, ``start``, ``prune_idle`` and ``adopt``; any of them may be a
coroutine. Pools shaped differently (a provision callback per ``acquire``
returning a list, ``time.time()`` read inside the pool, ``adopt`` of one
worker, their own worker class) say so with :func:`adapter`::

    @adapter(clock="patched", provision_returns="list", make_worker=Worker)
    def make_pool(function, config, provision, *, clock):
        return TheirPool(function, max_capacity=config.max_capacity, ...)

The full contract, with recipes, is in ``docs/pool-adapter.md``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

__all__ = [
    "DEFAULT_POOL_IMPL",
    "AdapterOptions",
    "PoolFactory",
    "adapter",
    "adapter_options",
    "load_factory",
    "load_pool_factory",
    "resolve",
]

DEFAULT_POOL_IMPL = "reference.gateway.services.pool:ContainerPool"

ClockMode = Literal["injected", "patched", "real"]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
Options = TypeVar("Options")


class PoolFactory(Protocol):
    """Builds one pool under test; see the module docstring."""

    def __call__(
        self,
        function: str,
        config: Any,
        provision: Callable[[], Awaitable[Any]],
        *,
        clock: Callable[[], float],
    ) -> Any: ...


@dataclass(frozen=True)
class AdapterOptions:
    """How the harness reaches a pool whose shape is not the contract's default one.

    ``clock``: ``"injected"`` (the pool uses the ``clock`` it is given),
    ``"patched"`` (the pool reads ``time.time()``/``time.monotonic()`` itself: the
    harness swaps the clock functions its module uses for the fake clock), or
    ``"real"`` (real time; idle timeouts are scaled down so tests stay short).
    ``provision_returns``: what the provision callback returns, one ``"worker"``
    or a ``"list"`` of one. ``adopt_takes``: ``"list"`` or ``"one"`` worker per
    call. ``make_worker``: ``(number) -> worker`` when the pool expects its own
    worker objects. ``methods``: contract name -> the pool's own method name,
    e.g. ``{"prune_idle": "prune_idle_workers"}``.
    """

    clock: ClockMode = "injected"
    provision_returns: Literal["worker", "list"] = "worker"
    adopt_takes: Literal["list", "one"] = "list"
    make_worker: Callable[[int], Any] | None = None
    methods: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("clock", self.clock, ("injected", "patched", "real"))
        check_choice("provision_returns", self.provision_returns, ("worker", "list"))
        check_choice("adopt_takes", self.adopt_takes, ("list", "one"))


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Refuse an adapter option outside its choices, listing them."""
    if value not in choices:
        listed = ", ".join(repr(choice) for choice in choices[:-1])
        raise ValueError(f"{name}={value!r}: use {listed} or {choices[-1]!r}")


def marking(options: object) -> Callable[[F], F]:
    """A decorator that attaches adapter ``options`` to a factory."""

    def mark(factory: F) -> F:
        factory.gateproof_adapter = options  # type: ignore[attr-defined]
        return factory

    return mark


def options_of(factory: Any, kind: type[Options]) -> Options:
    """The ``kind`` of options a factory was marked with (the defaults when it was not)."""
    options = getattr(factory, "gateproof_adapter", None)
    return options if isinstance(options, kind) else kind()


def adapter(**options: Any) -> Callable[[F], F]:
    """Mark a factory with the :class:`AdapterOptions` its pool needs."""
    return marking(AdapterOptions(**options))


def adapter_options(factory: Any) -> AdapterOptions:
    """The options a pool factory was marked with (the defaults when it was not)."""
    return options_of(factory, AdapterOptions)


async def resolve(value: T | Awaitable[T]) -> T:
    """A pool call's result, awaited when the pool's method is a coroutine (or returns one)."""
    if inspect.isawaitable(value):
        return await value
    return value


def load_factory(spec: str, *, option: str, example: str) -> Any:
    """Resolve ``module:attribute`` to a callable, or say how to fix the spec.

    Raises ``ValueError`` with a message meant for the person who typed ``option``.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"{option} {spec!r} is not of the form module:factory (for example {example})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{option} {spec!r}: cannot import {module_name!r} ({error}); "
            f"is the package installed or on PYTHONPATH?"
        ) from error
    factory: Any = module
    for part in attribute.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            raise ValueError(
                f"{option} {spec!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(factory):
        raise ValueError(f"{option} {spec!r}: {attribute!r} is not callable")
    return factory


def load_pool_factory(spec: str) -> PoolFactory:
    """Resolve ``--pool-impl``'s ``module:attribute`` to a pool factory."""
    return load_factory(spec, option="--pool-impl", example=DEFAULT_POOL_IMPL)
