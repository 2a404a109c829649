"""The breaker conformance suite: a harnessed breaker built by ``--breaker-impl``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateproof.testing.breaker_adapter import BreakerSpec, load_breaker_factory
from gateproof.testing.breaker_harness import BreakerHarness


@pytest.fixture(scope="session")
def breaker_factory(pytestconfig: pytest.Config) -> Callable[..., Any]:
    """The factory named by ``--breaker-impl`` (validated when pytest starts)."""
    return load_breaker_factory(pytestconfig.getoption("breaker_impl"))


@pytest.fixture
def breaker(breaker_factory: Callable[..., Any]) -> Iterator[BreakerHarness]:
    """A fresh breaker: opens after 3 failures, half-opens after 30 s, 1 probe at a time."""
    harness = BreakerHarness(breaker_factory, BreakerSpec(3, 30.0, 1))
    yield harness
    harness.close()
