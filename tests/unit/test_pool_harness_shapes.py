"""The pool harness takes pools as they are written: the shapes of the friction list."""

from __future__ import annotations

import asyncio
import re
import time
import types
from dataclasses import dataclass

import pytest

from gateproof.testing.clocks import FakeClock, patch_clock
from gateproof.testing.pool_adapter import AdapterOptions, adapter
from gateproof.testing.pool_harness import ContractViolation, PoolHarness, Snapshot, reported
from reference.gateway.models.scaling import ScalingConfig


@dataclass  # eq=True: unhashable, compared by value, as many worker classes are
class Box:
    name: str
    stamped: float = 0.0


class ShapedPool:
    """A small, correct pool with the shapes the contract once refused."""

    def __init__(self, provision, config, stats_shape: str) -> None:
        self._provision = provision
        self._config = config
        self._idle: list[Box] = []
        self._busy: list[Box] = []
        self._stats_shape = stats_shape

    async def acquire(self) -> Box:
        if self._idle:
            worker = self._idle.pop(0)
        else:
            worker = await self._provision()
        self._busy.append(worker)
        return worker

    async def release(self, worker: Box) -> None:
        if not any(w is worker for w in self._busy):
            raise ValueError("not checked out")
        self._busy = [w for w in self._busy if w is not worker]
        worker.stamped = time.time()
        self._idle.append(worker)

    async def evict(self, worker: Box) -> None:  # returns nothing, as many pools do
        self._busy = [w for w in self._busy if w is not worker]
        self._idle = [w for w in self._idle if w is not worker]

    async def adopt(self, worker: Box) -> bool:  # one at a time
        if len(self._idle) + len(self._busy) >= self._config.max_capacity:
            return False
        self._idle.append(worker)
        return True

    async def drain(self) -> None:
        self._idle, self._busy = [], []

    @property
    def stats(self):
        total = len(self._idle) + len(self._busy)
        if self._stats_shape == "mapping":
            return {"total": total, "idle": len(self._idle)}  # no busy, no waiting
        return types.SimpleNamespace(idle=len(self._idle), in_use=len(self._busy))


def harness_for(stats_shape: str = "mapping", **options) -> PoolHarness:
    @adapter(make_worker=lambda n: Box(f"box{n}"), adopt_takes="one", **options)
    def make(function, config, provision, *, clock):
        return ShapedPool(provision, config, stats_shape)

    return PoolHarness(make, ScalingConfig(max_capacity=2, acquire_timeout=1.0))


@pytest.mark.parametrize("shape", ["mapping", "attributes"])
async def test_stats_may_be_a_property_a_mapping_or_attributes_with_fields_missing(shape):
    harness = harness_for(shape)
    worker = await harness.acquire()
    await harness.release(worker)
    await harness.acquire()

    assert await harness.snapshot() == Snapshot(idle=0, busy=1, provisioning=None, waiting=None)


def test_stats_a_pool_does_not_report_are_said_not_reported_not_passed():
    silent = Snapshot(idle=None, busy=None, provisioning=None, waiting=None)

    with pytest.raises(pytest.skip.Exception, match="stats not reported"):
        reported(silent, idle=1, busy=1)


def test_stats_are_judged_on_the_fields_reported():
    partial = Snapshot(idle=1, busy=None, provisioning=None, waiting=None)

    assert reported(partial, idle=1, busy=7)  # busy is not reported: not judged
    with pytest.raises(AssertionError, match=re.escape("stats report {'idle': 1}")):
        reported(partial, idle=2)
    with pytest.raises(pytest.skip.Exception, match="none of busy, waiting"):
        reported(partial, busy=1, waiting=0)


async def test_an_evict_that_returns_none_is_judged_by_the_ledger():
    harness = harness_for()
    worker = await harness.acquire()

    assert await harness.evict(worker) is True
    assert await harness.evict(worker) is False
    assert harness.owned() == []


async def test_workers_are_the_pools_own_kind_even_unhashable_ones():
    harness = harness_for()
    first, second = await harness.acquire(), await harness.acquire()

    assert isinstance(first, Box) and first == Box("box1") and second.name == "box2"
    await harness.release(first)
    assert first.stamped > 0  # the pool stamped its own attribute on it


async def test_adopt_of_one_worker_at_a_time():
    harness = harness_for()

    adopted = await harness.adopt([harness.new_worker() for _ in range(3)])

    assert [w.name for w in adopted] == ["box1", "box2"]
    assert len(harness.owned()) == 2


async def test_a_pool_that_takes_back_a_destroyed_worker_is_judged_over_capacity():
    class Careless(ShapedPool):
        async def release(self, worker: Box) -> None:
            self._busy = [w for w in self._busy if w is not worker]
            self._idle.append(worker)

    @adapter(make_worker=lambda n: Box(f"box{n}"))
    def make(function, config, provision, *, clock):
        return Careless(provision, config, "mapping")

    harness = PoolHarness(make, ScalingConfig(max_capacity=1, acquire_timeout=1.0))
    evicted = await harness.acquire()
    await harness.evict(evicted)
    await harness.acquire()

    with pytest.raises(ContractViolation, match="exceeded max_capacity after a release of an"):
        await harness.release_refused(evicted, "an evicted worker")


def test_patch_clock_covers_the_time_module_and_names_imported_from_it():
    module = types.ModuleType("their_pool")
    exec("import time\nfrom time import monotonic\n", module.__dict__)
    clock = FakeClock(42.0)

    restore = patch_clock(module, clock)
    try:
        assert module.time.time() == 42.0 and module.monotonic() == 42.0
        assert module.time.sleep is time.sleep
    finally:
        restore()
    assert module.time is time and module.monotonic is time.monotonic


async def test_real_clock_mode_shortens_idle_timeouts_and_sleeps_instead_of_jumping():
    harness = harness_for(clock="real")
    assert harness.config.idle_timeout == pytest.approx(ScalingConfig().idle_timeout * 0.01)

    started = asyncio.get_running_loop().time()
    await harness.advance(1.0)

    assert asyncio.get_running_loop().time() - started >= 0.009


def test_adapter_options_refuse_a_typo_with_the_choices():
    with pytest.raises(ValueError, match="use 'injected', 'patched' or 'real'"):
        AdapterOptions(clock="fake")


async def test_a_pool_that_ignores_its_timeout_fails_naming_it_instead_of_hanging():
    class Stuck(ShapedPool):
        async def acquire(self) -> Box:
            await asyncio.Event().wait()

    def make(function, config, provision, *, clock):
        return Stuck(provision, config, "mapping")

    harness = PoolHarness(make, ScalingConfig(max_capacity=1, acquire_timeout=0.05))

    with pytest.raises(ContractViolation, match="acquire_timeout not honoured: a caller waited"):
        await harness.acquire()
