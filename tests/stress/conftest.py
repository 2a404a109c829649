"""The pool conformance suite: fixtures that build the pool named by ``--pool-impl``.

Every test gets pools from :func:`make_harness`, which wraps them in a
:class:`~gateproof.testing.pool_harness.PoolHarness` (the rules are judged
after every step from what the harness itself provisioned, handed out and saw
destroyed) and closes them after the test: gates opened, the pool drained
within a bound, its clock given back, so nothing outlives the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateproof.testing.pool_adapter import PoolFactory, load_pool_factory
from gateproof.testing.pool_harness import PoolHarness
from reference.gateway.models.scaling import ScalingConfig

MakeHarness = Callable[..., PoolHarness]


@pytest.fixture(scope="session")
def pool_factory(pytestconfig: pytest.Config) -> PoolFactory:
    """The factory named by ``--pool-impl`` (validated when pytest starts)."""
    return load_pool_factory(pytestconfig.getoption("pool_impl"))


@pytest.fixture
async def make_harness(pool_factory: PoolFactory) -> AsyncIterator[MakeHarness]:
    """Build harnessed pools from ScalingConfig fields; closes each one after the test."""
    made: list[PoolHarness] = []

    def make(**scaling: Any) -> PoolHarness:
        scaling.setdefault("acquire_timeout", 5.0)
        harness = PoolHarness(pool_factory, ScalingConfig(**scaling))
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()
