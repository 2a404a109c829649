"""The pool suite judges the pool once more after each test: a rule broken after a
test's last step (by something the pool set going) is reported, not dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

STRESS_CONFTEST = Path(__file__).resolve().parents[1] / "stress" / "conftest.py"

# Correct while the test runs; after each hand-out it warms one spare worker in the
# background, even when that takes it past max_capacity.
OVERWARMING_POOL = """
import asyncio

class OverwarmingPool:
    def __init__(self, provision):
        self._provision, self._idle, self._busy, self._tasks = provision, [], [], set()

    async def acquire(self):
        worker = self._idle.pop() if self._idle else await self._provision()
        self._busy.append(worker)
        task = asyncio.ensure_future(self._warm_one())
        self._tasks.add(task)
        return worker

    async def _warm_one(self):
        self._idle.append(await self._provision())

    async def release(self, worker):
        if not any(w is worker for w in self._busy):
            raise ValueError("not checked out")
        self._busy = [w for w in self._busy if w is not worker]
        self._idle.append(worker)

    async def evict(self, worker):
        return False

    async def drain(self):
        workers, self._idle, self._busy = self._idle + self._busy, [], []
        return workers

def make_pool(function, config, provision, *, clock):
    return OverwarmingPool(provision)
"""

LAST_STEP_IS_FINE = """
from gateproof.testing.pool_harness import settle

async def test_one_acquire(make_harness):
    harness = make_harness(max_capacity=1)
    await harness.acquire()  # the last step the test judges: within capacity
    await settle()  # the spare worker is warmed here, after the last step
"""


def test_a_rule_broken_after_the_last_step_fails_the_test_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest(STRESS_CONFTEST.read_text())
    pytester.makepyfile(overwarming=OVERWARMING_POOL, test_late=LAST_STEP_IS_FINE)
    pytester.syspathinsert()

    result = pytester.runpytest_subprocess(
        "--pool-impl", "overwarming:make_pool", "-p", "no:cacheprovider"
    )

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_one_acquire*"])
    result.stdout.fnmatch_lines(["*pool exceeded max_capacity*"])
