"""The pool conformance suite: fixtures that build the pool named by ``--pool-impl``.

Every test gets pools from :func:`make_harness`, which wraps them in a
:class:`~gateproof.testing.pool_harness.PoolHarness` (the rules are judged
after every step from what the harness itself provisioned, handed out and saw
destroyed) and, after the test, judges each pool once more (a rule broken by
something the pool set going after the test's last step fails the test at
teardown) and closes it: gates opened, the pool drained within a bound, its
clock given back, so nothing outlives the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gateproof.testing.pool_adapter import PoolFactory, load_pool_factory
from gateproof.testing.pool_harness import PoolHarness, settle
from reference.gateway.models.scaling import ScalingConfig

MakeHarness = Callable[..., PoolHarness]
CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note whether the test itself failed: its broken rule is then reported already."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def pool_factory(pytestconfig: pytest.Config) -> PoolFactory:
    """The factory named by ``--pool-impl`` (validated when pytest starts)."""
    return load_pool_factory(pytestconfig.getoption("pool_impl"))


@pytest.fixture
async def make_harness(
    request: pytest.FixtureRequest, pool_factory: PoolFactory
) -> AsyncIterator[MakeHarness]:
    """Build harnessed pools from ScalingConfig fields; judges and closes each after the test."""
    made: list[PoolHarness] = []

    def make(**scaling: Any) -> PoolHarness:
        scaling.setdefault("acquire_timeout", 5.0)
        harness = PoolHarness(pool_factory, ScalingConfig(**scaling))
        made.append(harness)
        return harness

    yield make
    try:
        if made and not request.node.stash.get(CALL_FAILED, False):
            await settle()  # what the pool set going after the last step gets to run
            for harness in made:
                harness.check()  # raises the first rule broken since
    finally:
        for harness in made:
            await harness.close()
