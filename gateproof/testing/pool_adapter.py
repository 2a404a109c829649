"""The pool adapter contract: how the conformance suite builds the pool it tests.

The suite in ``tests/stress/`` runs against any pool that a *factory* can
build. The factory is named on the command line as ``module:attribute``::

    pytest tests/stress --pool-impl reference.legacy.pool:LegacyPool

and is called as ``factory(function, config, provision, clock=clock)`` where
``function`` is a name, ``config`` a ``ScalingConfig``, ``provision`` an
``async () -> worker`` callback (a cold start; it may raise) and ``clock`` a
``() -> float`` the pool must use to stamp idle workers. The pool it returns
has ``async acquire()``, ``release(worker)``, ``evict(worker) -> bool``,
``async drain() -> list``, ``stats()`` (with ``idle``, ``busy``,
``provisioning``, ``waiting``) and, where the pool has them, ``async start()``,
``prune_idle(now) -> list`` and ``adopt(workers) -> list``. The full contract,
with the errors each call raises, is in ``docs/pool-adapter.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["DEFAULT_POOL_IMPL", "PoolFactory", "load_pool_factory"]

DEFAULT_POOL_IMPL = "reference.gateway.services.pool:ContainerPool"


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


def load_pool_factory(spec: str) -> PoolFactory:
    """Resolve ``module:attribute`` to a pool factory, or say how to fix the spec.

    Raises ``ValueError`` with a message meant for the person who typed the spec.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"--pool-impl {spec!r} is not of the form module:factory "
            f"(for example {DEFAULT_POOL_IMPL})"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"--pool-impl {spec!r}: cannot import {module_name!r} ({error}); "
            f"is the package installed or on PYTHONPATH?"
        ) from error
    factory: Any = module
    for part in attribute.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            raise ValueError(
                f"--pool-impl {spec!r}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(factory):
        raise ValueError(f"--pool-impl {spec!r}: {attribute!r} is not callable")
    return factory
