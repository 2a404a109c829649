"""The pool suite on pools written elsewhere, adapted in a few lines (tests/foreign/).

A Condition-based pool with coroutine methods, ``time.time()``, a ``stats``
dict property and a provision callback per acquire gets exactly its real
defects, each named, in plain and shuffled runs, with no hang; a correct
Condition-based FIFO pool that relies on ``notify_all`` waking waiters in order
passes both, which is what keeps the shuffled loop realistic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FOREIGN = REPO / "tests" / "foreign"
UNUSED_PLUGINS = ("-p", "no:schemathesis", "-p", "no:locust", "-p", "no:cacheprovider")

CONDITION_POOL_DEFECTS = {
    "test_acquire_timeout_covers_the_cold_start": "acquire_timeout does not cover the cold start: "
    "a caller waited",
    "test_a_caller_cancelled_during_its_cold_start_leaves_no_slot_behind": "a caller cancelled "
    "during its cold start left its slot taken: provisioning=1 forever",
    "test_an_evicted_idle_worker_is_never_handed_out_again": "evicted worker handed out again",
    "test_a_worker_evicted_after_its_hand_off_is_not_returned_to_the_waiter": "evicted worker "
    "handed out again",
    "test_releasing_an_idle_worker_after_its_eviction_is_refused": "evicted worker handed "
    "out again",
    "test_a_caller_arriving_right_after_a_release_queues_behind_the_waiter": "FIFO broken: a "
    "caller arriving after a release took the worker from the head waiter",
    "test_min_capacity_is_kept_warm": "min_capacity is never kept warm",
    "test_prune_idle_keeps_min_capacity_warm": "prune_idle went below min_capacity=2",
    "test_drain_fails_pending_waiters_cleanly_and_returns_every_worker": "drain did not close "
    "the pool",
    "test_releasing_an_evicted_worker_is_refused_and_keeps_the_pool_within_capacity": "pool "
    "exceeded max_capacity after a release of an evicted worker",
    "test_releasing_after_drain_is_refused": "release of a drained worker accepted",
    "test_releasing_a_worker_the_pool_never_handed_out_is_refused": "release of a foreign worker "
    "accepted",
    "test_pool_invariants_hold_under_random_interleavings": "rules broken across random "
    "interleavings",
    "test_adopt_skips_workers_the_pool_already_holds_and_takes_the_rest": "pool exceeded "
    "max_capacity after adopt",
    "test_a_waiter_whose_worker_was_evicted_after_its_hand_off_gets_the_next_release"
    "[after the eviction]": "evicted worker handed out again",
    "test_a_waiter_whose_worker_was_evicted_after_its_hand_off_gets_the_next_release"
    "[before the eviction]": "evicted worker handed out again",
    "test_a_waiter_cancelled_after_its_worker_was_evicted_loses_no_worker": "evicted worker "
    "handed out again",
    "test_a_waiter_whose_worker_was_evicted_after_its_hand_off_still_times_out": "evicted "
    "worker handed out again",
}
STATE_MACHINE_FINDINGS = (  # what the random programs may meet in this pool
    "evicted worker handed out again",
    "pruned worker handed out again",
    "release of an evicted worker accepted",
    "release of a pruned worker accepted",
    "pool exceeded max_capacity",
    "drain left callers waiting",
    "drain left a caller to time out",  # the same defect met when a waiter's own timer wins
    "drain did not close the pool",
    "prune_idle went below min_capacity",
    "lost wake-up",
)


def run_suite(
    tmp_path: Path, project: str, adapter: str, *options: str
) -> tuple[dict[str, str], str]:
    """Run tests/stress on a foreign pool: {test name: failure message}, and pytest's output."""
    report = tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": str(FOREIGN / project)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/stress",
            "-q",
            "--tb=line",
            *UNUSED_PLUGINS,
            "--pool-impl",
            adapter,
            f"--junitxml={report}",
            *options,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-2000:]
    failures = {}
    for case in ElementTree.parse(report).iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            failures[case.get("name")] = failure.get("message", "") + (failure.text or "")
    return failures, result.stdout


@pytest.mark.parametrize(
    "schedule",
    [(), ("--shuffle-loop",), ("--explore", "handoff", "--shuffle-seed", "3")],
    ids=["plain", "shuffled", "handoff"],
)
def test_a_condition_pool_gets_exactly_its_real_defects_named(tmp_path, schedule):
    failures, output = run_suite(
        tmp_path, "condition_pool", "asyncpool_adapter:make_pool", *schedule
    )

    assert set(failures) == set(CONDITION_POOL_DEFECTS)
    for test, named in CONDITION_POOL_DEFECTS.items():
        assert named in failures[test], f"{test}: {failures[test][:500]}"
    findings = [
        line.strip()[2:]
        for line in failures["test_pool_invariants_hold_under_random_interleavings"].splitlines()
        if line.strip().startswith("- ")
    ]
    assert findings
    for finding in findings:
        assert finding.startswith(STATE_MACHINE_FINDINGS), finding
    if sys.version_info < (3, 12):  # its wait_for keeps a caller cancelled with its hand-off
        assert "Python 3.11: asyncio.wait_for swallowed a cancel" in output
        assert "test_a_waiter_cancelled_right_after_its_hand_off" not in failures


@pytest.mark.parametrize(
    "schedule",
    [(), ("--shuffle-loop", "--count", "5"), ("--explore", "handoff", "--count", "5")],
    ids=["plain", "shuffled", "handoff"],
)
def test_a_correct_condition_fifo_pool_passes_on_every_loop(tmp_path, schedule):
    failures, _ = run_suite(tmp_path, "fifo_pool", "fifopool_adapter:make_pool", *schedule)

    assert failures == {}


def test_each_adapter_is_a_few_lines():
    for adapter in FOREIGN.glob("*/*_adapter.py"):
        lines = [line for line in adapter.read_text().splitlines() if line.strip()]
        assert len(lines) <= 20, f"{adapter.name} takes {len(lines)} lines"


@pytest.mark.parametrize("schedule", [(), ("--shuffle-loop",)], ids=["plain", "shuffled"])
def test_a_pool_whose_drain_never_closes_it_is_flagged(tmp_path, schedule):
    """Its waiters fail at drain, but later callers wait out their timeout: once a false pass."""
    failures, _ = run_suite(tmp_path, "unclosed_pool", "shrinkpool_adapter:make_pool", *schedule)

    assert set(failures) == {"test_drain_fails_pending_waiters_cleanly_and_returns_every_worker"}
    message = failures["test_drain_fails_pending_waiters_cleanly_and_returns_every_worker"]
    assert (
        "drain did not close the pool: a later acquire waited instead of being refused" in message
    )
