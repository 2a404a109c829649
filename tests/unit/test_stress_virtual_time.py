"""`gateproof stress` on coldpool's own suite (tests/foreign/timed_pool): virtual time, --explore.

coldpool's tests wait about a minute of real time per run (acquire timeouts,
cold starts, an idle reaper); its burst test alone waits 34 s. On virtual time
the same runs give the same verdicts without the waiting, and the report says
so. Its timeout race (a release landing between a waiter's timeout and its
clean-up) never shows on the plain loop and shows under PCT, and the replay
command of a failing repetition fails again.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateproof.cli import EXIT_FAILED, main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TIMED_POOL = Path(__file__).resolve().parents[1] / "foreign" / "timed_pool"
FAILS_EVERY_RUN = {  # known defects of coldpool, pinned down by its own tests
    "tests/test_pool.py::test_stats_count_workers_still_cold_starting",
    "tests/test_pool.py::test_releasing_a_worker_the_pool_never_spawned_is_refused",
}
QUICK = "not burst and not reaped and not busy"  # the tests that wait only a few seconds


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of coldpool, so reports and caches land outside the repository."""
    return Path(shutil.copytree(TIMED_POOL, tmp_path / "timed_pool"))


def stress(tree: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, dict]:
    import json

    monkeypatch.chdir(tree)
    out = tree / "out"
    status = main(["stress", "--workers", "0", "--out", str(out), "--no-progress", *argv])
    return status, json.loads((out / "flakiness.json").read_text())


def verdicts(report: dict) -> dict[str, str]:
    """Per test: passed (every run), failed (every run) or flaky."""
    out = {}
    for test in report["tests"]:
        bad = test["failed"] + test["errors"]
        out[test["nodeid"]] = "passed" if not bad else "failed" if not test["passed"] else "flaky"
    return out


def test_on_virtual_time_every_verdict_holds_and_the_report_says_which_clock_ran(
    tree, monkeypatch, capsys
):
    status, report = stress(tree, monkeypatch, "tests/test_pool.py", "--count", "3")

    assert status == EXIT_FAILED
    expected = {nodeid: "failed" for nodeid in FAILS_EVERY_RUN}
    assert {k: v for k, v in verdicts(report).items() if v != "passed"} == expected
    assert len(report["tests"]) == 8
    assert sorted(report["virtual_time"]["tests"]) == sorted(t["nodeid"] for t in report["tests"])
    assert report["virtual_time"]["real_time_tests"] == []
    burst = next(t for t in report["tests"] if "burst" in t["nodeid"])
    assert burst["clock"] == "virtual"
    assert burst["virtual_seconds"] >= 3 * 30  # three runs of at least 30 s of timers each
    markdown = (tree / "out" / "flakiness.md").read_text()
    assert "- Clock: 8 tests on virtual time" in markdown
    assert "virtual time: 8 tests" in capsys.readouterr().out


def test_the_quick_tests_give_the_same_verdicts_on_the_real_clock(tree, monkeypatch):
    _, virtual = stress(tree, monkeypatch, "tests/test_pool.py", "--count", "1", "--", "-k", QUICK)
    _, real = stress(
        tree, monkeypatch, "tests/test_pool.py", "--count", "1", "--real-time", "--", "-k", QUICK
    )

    assert verdicts(real) == verdicts(virtual)
    assert len(verdicts(real)) == 5
    assert all(t["clock"] == "real" for t in real["tests"])
    assert all(t["clock"] == "virtual" for t in virtual["tests"])
    assert "--real-time" in real["command"]


def test_pct_finds_the_timeout_race_the_plain_loop_never_shows_and_replays_it(
    tree, monkeypatch, capsys
):
    race = "tests/test_pool_timeouts.py"
    _, plain = stress(tree, monkeypatch, race, "--count", "20", "--explore", "plain")
    status, pct = stress(
        tree, monkeypatch, race, "--count", "30", "--explore", "pct", "--seed", "5"
    )

    assert plain["tests"][0]["failed"] == 0
    assert status == EXIT_FAILED
    (test,) = pct["tests"]
    assert test["failed"] >= 27, "at least 90% of single runs (deterministic for this seed)"
    assert test["signatures"][0]["type"] in ("InvalidStateError", "ValueError")
    assert pct["exploration"]["strategy"] == "pct:d=2,k=60"
    assert pct["exploration"]["distinct_schedules"] >= 10
    assert 0 < pct["exploration"]["pct_bound"] < 1
    assert "distinct in 30 runs (pct:d=2,k=60); PCT: a bug of depth <= 2" in capsys.readouterr().out
    for run in test["failed_runs"][:3]:
        assert "--explore pct:d=2,k=60" in run["replay"]
        assert replay(tree, run["replay"]).returncode == 1, run["replay"]


def test_schedules_run_each_test_under_n_schedules_and_count_as_its_runs(tree, monkeypatch):
    _, report = stress(
        tree,
        monkeypatch,
        "tests/test_pool_timeouts.py",
        "--count",
        "2",
        "--explore",
        "random-delay",
        "--schedules",
        "4",
        "--seed",
        "1",
    )

    (test,) = report["tests"]
    assert test["nodeid"] == "tests/test_pool_timeouts.py::" + (
        "test_callers_timing_out_as_workers_come_back_leave_every_worker_usable"
    )
    assert test["runs"] == 8
    assert report["exploration"]["schedules_per_test"] == 4
    assert "--schedules=4" in report["command"]


def test_bad_explore_and_schedules_are_refused_before_pytest_starts(tree, monkeypatch, capsys):
    monkeypatch.chdir(tree)

    with pytest.raises(SystemExit) as bad:
        main(["stress", "tests", "--explore", "dfs"])
    assert bad.value.code == 2
    assert "unknown schedule strategy 'dfs'" in capsys.readouterr().err
    assert main(["stress", "tests", "--schedules", "3"]) == 2
    assert "--schedules needs --explore" in capsys.readouterr().err


def replay(tree: Path, command: str) -> subprocess.CompletedProcess[str]:
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
