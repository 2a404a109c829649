"""`gateproof stress` shuffles asyncio schedules by default, replays one failing
repetition exactly, and keeps its report whole when pytest crashes part way."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
from test_stress_end_to_end import stress, write_tree

from gateproof.cli import EXIT_FAILED, EXIT_OK

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

# Fails on some schedules only: which of five tasks finishes its second step last.
SCHEDULE_DEPENDENT = """
import asyncio

async def test_order_matters():
    trace = []

    async def step(name):
        await asyncio.sleep(0)
        trace.append(name)

    await asyncio.gather(*(step(name) for name in "abcde"))
    assert trace[-1] != "e", f"e came last: {trace}"
"""

SEED = 1  # the verdict is this seed's: 30 schedules drawn from it, some with e last


def test_stress_shuffles_by_default_and_lists_a_replay_for_each_failing_repetition(
    tmp_path, monkeypatch
):
    tree = write_tree(tmp_path, {"pytest.ini": INI, "test_order.py": SCHEDULE_DEPENDENT})

    status, report = stress(tree, monkeypatch, ".", "--count", "30", "--seed", str(SEED))

    assert status == EXIT_FAILED, report["verdict"]
    assert "--shuffle-loop" in report["command"]
    assert "--tb=line" in report["command"]
    assert report["seed"]["shuffle"] == SEED
    (test,) = report["tests"]
    assert 0 < test["failed"] < 30, "some schedules pass, some fail: each repetition differs"
    failing = {run["nodeid"] for run in test["failed_runs"]}
    assert len(failing) == test["failed"]
    for run in test["failed_runs"][:3]:
        assert f"--shuffle-seed={report['seed']['shuffle']}" in run["replay"]
        assert replay(tree, run["replay"]).returncode == 1, run["replay"]
    passing = next(
        f"test_order.py::test_order_matters[{n}-30]"
        for n in range(1, 31)
        if f"test_order.py::test_order_matters[{n}-30]" not in failing
    )
    one_failing = test["failed_runs"][0]
    assert (
        replay(tree, one_failing["replay"].replace(one_failing["nodeid"], passing)).returncode == 0
    )


def replay(tree, command: str) -> subprocess.CompletedProcess[str]:
    """Run a report's replay command as a user would paste it."""
    argv = shlex.split(command)
    assert argv[0] == "pytest"
    return subprocess.run(
        [sys.executable, "-m", "pytest", *argv[1:], "-p", "no:cacheprovider"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_shuffle_keeps_the_default_loop(tmp_path, monkeypatch):
    tree = write_tree(tmp_path, {"pytest.ini": INI, "test_order.py": SCHEDULE_DEPENDENT})

    status, report = stress(tree, monkeypatch, ".", "--count", "5", "--no-shuffle")

    assert "--shuffle-loop" not in report["command"]
    assert report["seed"]["shuffle"] is None
    assert status == EXIT_FAILED  # the default loop runs the one schedule where e is last
    assert report["tests"][0]["failed"] == 5


CRASHES_ONCE = """
import os, pathlib, signal

def test_a_before():
    pass

def test_b_crashes_pytest_the_first_time():
    marker = pathlib.Path(__file__).with_name("crashed-once")
    if not marker.exists():
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGKILL)

def test_c_after():
    pass
"""


def test_a_crash_part_way_is_resumed_and_the_report_says_what_happened(tmp_path, monkeypatch):
    tree = write_tree(tmp_path, {"test_crash.py": CRASHES_ONCE})

    status, report = stress(tree, monkeypatch, ".", "--count", "3")

    assert status == EXIT_OK, report["verdict"]
    assert report["complete"] is True
    assert report["lost_runs"] == 0
    assert report["totals"]["runs"] == 9
    (restart,) = report["restarts"]
    assert restart["because"] == "pytest was killed by signal 9"
    assert restart["left"] >= 4
    assert "Restarted after" in (tree / "out" / "flakiness.md").read_text()
