"""`gateproof stress` run on small generated pytest trees, as a user would run it."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from gateproof.cli import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from reports.binomial import upper_bound

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

COUNTER = """
import fcntl
import pathlib


def bump(name):
    # A counter shared by every run and xdist worker: how many times `name` ran so far.
    path = pathlib.Path(__file__).with_name(name + ".count")
    with open(path, "a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        value = int(file.read() or 0) + 1
        file.seek(0)
        file.truncate()
        file.write(str(value))
    return value
"""


def write_tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def stress(tree, monkeypatch, *argv, workers="0"):
    """Run the command in ``tree``; returns the exit status and the JSON report (or None)."""
    monkeypatch.chdir(tree)
    out = tree / "out"
    options = ["--workers", workers, "--out", str(out), "--no-progress"]
    status = main(["stress", *options, *argv])
    report = out / "flakiness.json"
    return status, json.loads(report.read_text()) if report.exists() else None


def line_of(path, text):
    """``file:line`` of the first line of ``path`` holding ``text``."""
    lines = path.read_text().splitlines()
    return f"{path.name}:{next(i for i, line in enumerate(lines, 1) if text in line)}"


def results_by_id(report):
    return {test["nodeid"]: test for test in report["tests"]}


def test_a_passing_tree_exits_0_with_the_bound_in_the_verdict(tmp_path, monkeypatch, capsys):
    tree = write_tree(
        tmp_path,
        {
            "tests/test_ok.py": """
                import pytest

                def test_ok():
                    assert 1 + 1 == 2

                @pytest.mark.parametrize("size", [1, 2])
                def test_sized(size):
                    assert size > 0
            """
        },
    )
    status, report = stress(tree, monkeypatch, "tests", "--count", "3", workers="2")
    assert status == EXIT_OK
    assert report["passed_all"] is True
    assert report["complete"] is True
    assert report["totals"] == {"runs": 9, "passed": 9, "failed": 0, "errors": 0, "skipped": 0}
    assert set(results_by_id(report)) == {
        "tests/test_ok.py::test_ok",
        "tests/test_ok.py::test_sized[1]",
        "tests/test_ok.py::test_sized[2]",
    }
    assert report["upper_bound_95"] == pytest.approx(upper_bound(0, 3))
    assert report["verdict"].startswith("PASSED: every test passed 3 consecutive runs")
    assert "-n 2" in report["command"]
    assert "--count=3" in report["command"]
    assert report["wall_seconds"] > 0
    markdown = (tree / "out" / "flakiness.md").read_text()
    assert f"**{report['verdict']}**" in markdown
    assert report["verdict"] in capsys.readouterr().out


def test_a_flaky_tree_exits_1_with_counts_and_signatures(tmp_path, monkeypatch):
    tree = write_tree(
        tmp_path,
        {
            "counter.py": COUNTER,
            "test_flaky.py": """
                import pytest
                from counter import bump

                def check_worker(n):
                    if n % 2 == 0:
                        raise ConnectionError(f"worker vanished on run {n}")

                def test_every_second_run_fails():
                    check_worker(bump("every_second"))

                @pytest.mark.parametrize("mode", ["calm", "jumpy"])
                def test_only_jumpy_fails_once(mode):
                    if mode == "jumpy":
                        assert bump("jumpy") != 1, "jumpy failed its first run"

                @pytest.fixture
                def database():
                    if bump("database") == 3:
                        raise RuntimeError("database did not start")
                    return "db"

                def test_with_fixture(database):
                    assert database == "db"
            """,
        },
    )
    status, report = stress(tree, monkeypatch, "test_flaky.py", "--count", "4", workers="2")
    assert status == EXIT_FAILED
    assert report["passed_all"] is False
    assert report["complete"] is True
    tests = results_by_id(report)
    every_second = tests["test_flaky.py::test_every_second_run_fails"]
    assert (every_second["runs"], every_second["passed"], every_second["failed"]) == (4, 2, 2)
    assert every_second["flake_rate"] == 0.5
    assert every_second["upper_bound_95"] == pytest.approx(upper_bound(2, 4))
    (signature,) = every_second["signatures"]
    assert signature["type"] == "ConnectionError"
    # the raise in the helper, not the test's call of it
    assert signature["location"] == line_of(tree / "test_flaky.py", "raise ConnectionError")
    assert signature["count"] == 2
    assert signature["message"].startswith("worker vanished on run ")

    jumpy = tests["test_flaky.py::test_only_jumpy_fails_once[jumpy]"]
    assert (jumpy["passed"], jumpy["failed"]) == (3, 1)
    assert jumpy["signatures"][0]["type"] == "AssertionError"
    assert "jumpy failed its first run" in jumpy["signatures"][0]["message"]
    assert tests["test_flaky.py::test_only_jumpy_fails_once[calm]"]["passed"] == 4

    fixture = tests["test_flaky.py::test_with_fixture"]
    assert (fixture["passed"], fixture["errors"], fixture["failed"]) == (3, 1, 0)
    assert fixture["signatures"][0]["phases"] == ["setup"]
    assert fixture["signatures"][0]["location"] == line_of(tree / "test_flaky.py", "raise Runtime")

    assert report["verdict"].startswith("FAILED: 3 of 4 tests failed:")
    assert "test_every_second_run_fails failed 2 of 4 runs (50%" in report["verdict"]


def test_a_missing_path_exits_2_and_says_what_to_give(tmp_path, monkeypatch, capsys):
    status, report = stress(tmp_path, monkeypatch, "tests/stress")
    assert status == EXIT_USAGE
    assert report is None
    assert "'tests/stress' does not exist" in capsys.readouterr().err


def test_no_tests_collected_exits_2(tmp_path, monkeypatch, capsys):
    tree = write_tree(tmp_path, {"tests/helpers.py": "VALUE = 1\n"})
    status, report = stress(tree, monkeypatch, "tests", "--count", "3")
    assert status == EXIT_USAGE
    assert "no tests collected from tests" in capsys.readouterr().err
    assert report["totals"]["runs"] == 0
    assert report["passed_all"] is False


def test_a_selection_that_matches_nothing_exits_2(tmp_path, monkeypatch, capsys):
    tree = write_tree(tmp_path, {"test_a.py": "def test_a():\n    pass\n"})
    status, _ = stress(tree, monkeypatch, ".", "--count", "2", "--", "-k", "no_such_test")
    assert status == EXIT_USAGE
    assert "no tests collected" in capsys.readouterr().err


def test_a_conftest_that_raises_at_import_gives_a_clear_message(tmp_path, monkeypatch, capsys):
    tree = write_tree(
        tmp_path,
        {
            "conftest.py": "raise RuntimeError('the fixture server is not configured')\n",
            "test_a.py": "def test_a():\n    pass\n",
        },
    )
    status, _ = stress(tree, monkeypatch, ".", "--count", "2")
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert "conftest" in err
    assert "RuntimeError: the fixture server is not configured" in err


def test_a_module_that_cannot_be_collected_exits_2_and_is_listed(tmp_path, monkeypatch, capsys):
    tree = write_tree(
        tmp_path,
        {"test_ok.py": "def test_ok():\n    pass\n", "test_broken.py": "import no_such_module\n"},
    )
    status, report = stress(tree, monkeypatch, ".", "--count", "2", workers="2")
    assert status == EXIT_USAGE
    assert "could not collect 1 item(s): test_broken.py" in capsys.readouterr().err
    (error,) = report["collection_errors"]
    assert error["nodeid"] == "test_broken.py"
    assert "No module named 'no_such_module'" in error["message"]
    assert report["complete"] is False


def test_a_pytest_crash_exits_3_and_keeps_the_results_so_far(tmp_path, monkeypatch, capsys):
    tree = write_tree(
        tmp_path,
        {
            "test_crash.py": """
                import os
                import signal

                def test_a_first():
                    pass

                def test_b_kills_pytest():
                    os.kill(os.getpid(), signal.SIGKILL)
            """
        },
    )
    status, report = stress(tree, monkeypatch, ".", "--count", "2")
    assert status == EXIT_ENVIRONMENT
    assert "killed by signal 9" in capsys.readouterr().err
    assert report["complete"] is False
    assert report["pytest_exit_code"] == -signal.SIGKILL
    assert results_by_id(report)["test_crash.py::test_a_first"]["passed"] == 2
    assert report["verdict"].startswith("INCOMPLETE")
    assert report["lost_runs"] == 2
    assert report["lost_because"] == "pytest was killed by signal 9"
    assert len(report["restarts"]) == 1  # retried once; it crashed again before any run ended


def test_seed_and_extra_pytest_arguments_reach_pytest(tmp_path, monkeypatch):
    tree = write_tree(
        tmp_path,
        {
            "conftest.py": """
                def pytest_addoption(parser):
                    parser.addoption("--flavor", default="plain")
            """,
            "test_options.py": """
                from hypothesis import given, strategies as st

                def test_flavor(pytestconfig):
                    assert pytestconfig.getoption("flavor") == "salty"

                def test_seed(pytestconfig):
                    assert pytestconfig.getoption("hypothesis_seed") == "1234"

                @given(st.integers())
                def test_property(number):
                    assert isinstance(number, int)
            """,
        },
    )
    status, report = stress(
        tree, monkeypatch, ".", "--count", "2", "--seed", "1234", "--", "--flavor", "salty"
    )
    assert status == EXIT_OK, report["verdict"]
    assert report["seed"]["requested"] == 1234
    assert report["seed"]["hypothesis"] == "1234"
    assert report["seed"]["shuffle"] == 1234  # gateproof's pytest plugin offers --shuffle-seed
    assert "--shuffle-seed=1234" in report["command"]
    assert "--hypothesis-seed=1234" in report["command"]
    assert report["command"].endswith("--flavor salty")


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(("signum", "workers"), [(signal.SIGINT, "2"), (signal.SIGTERM, "0")])
def test_an_interrupted_run_writes_its_results_and_leaves_no_process(tmp_path, signum, workers):
    tree = write_tree(
        tmp_path,
        {
            "test_slow.py": """
                import os
                import pathlib
                import subprocess
                import sys
                import time

                HERE = pathlib.Path(__file__).parent

                def test_a_quick():
                    pass

                def test_b_hangs():
                    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
                    helper = subprocess.Popen(sleeper)
                    (HERE / "pids.txt").write_text(f"{os.getpid()} {helper.pid}")
                    time.sleep(120)
            """
        },
    )
    command = [sys.executable, "-m", "gateproof", "stress", ".", "--count", "2"]
    command += ["--workers", workers, "--out", "out", "--no-progress"]
    gateproof = subprocess.Popen(command, cwd=tree, stderr=subprocess.PIPE, text=True)
    try:
        pids_file = tree / "pids.txt"
        deadline = time.monotonic() + 60
        while not pids_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pids_file.exists(), "the hanging test never started"
        time.sleep(0.3)
        pids = [int(pid) for pid in pids_file.read_text().split()]
        assert all(alive(pid) for pid in pids)
        gateproof.send_signal(signum)
        _, err = gateproof.communicate(timeout=60)
    finally:
        if gateproof.poll() is None:
            gateproof.kill()
    assert gateproof.returncode == 130
    assert "interrupted" in err
    assert not any(alive(pid) for pid in pids)
    report = json.loads((tree / "out" / "flakiness.json").read_text())
    assert report["complete"] is False
    assert report["passed_all"] is False
    assert results_by_id(report)["test_slow.py::test_a_quick"]["passed"] >= 1
