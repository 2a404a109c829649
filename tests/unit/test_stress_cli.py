"""`gateproof stress` arguments, the pytest command it builds, and how it stops pytest."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gateproof.cli import UsageError, build_parser
from gateproof.commands import stress
from gateproof.commands.stress import (
    DEFAULT_OUT,
    ResultTail,
    StressPlan,
    check_paths,
    pytest_command,
    stop_process_tree,
)


def parse(*argv):
    return build_parser().parse_args(["stress", *argv])


def test_defaults_are_100_runs_on_all_cores_into_reports_out_stress():
    args = parse()
    assert (args.paths, args.count, args.workers, args.out) == ([], 100, "auto", DEFAULT_OUT)
    assert (args.seed, args.timeout, args.pytest_args) == (None, None, [])


def test_arguments_after_double_dash_go_to_pytest_wherever_the_paths_are():
    args = parse("tests/stress", "--count", "5", "--", "--pool-impl", "m:f", "-k", "fifo")
    assert args.paths == ["tests/stress"]
    assert args.count == 5
    assert args.pytest_args == ["--pool-impl", "m:f", "-k", "fifo"]
    args = parse("--count", "5", "a", "b", "--", "-x", "--", "c")
    assert (args.paths, args.pytest_args) == (["a", "b"], ["-x", "--", "c"])


@pytest.mark.parametrize(
    "argv",
    [["--count", "0"], ["--workers", "many"], ["--workers", "-1"], ["--timeout", "0"], ["--bogus"]],
)
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def plan(**changes):
    fields = {"paths": ["tests/stress"], "count": 7, "workers": "auto", "out": Path("out")}
    return StressPlan(**(fields | changes))


def test_the_command_repeats_spreads_and_collects_results():
    command = pytest_command(plan())
    assert command[:4] == [sys.executable, "-P", "-m", "pytest"]
    assert command[4] == "tests/stress"
    assert ["-p", "reports.collector"] == command[5:7]
    assert f"--gateproof-results={Path('out') / 'results.jsonl'}" in command
    assert "--count=7" in command
    assert command[command.index("-n") + 1] == "auto"


def test_zero_workers_runs_without_xdist():
    assert "-n" not in pytest_command(plan(workers="0"))
    command = pytest_command(plan(workers="2"))
    assert command[command.index("-n") + 1] == "2"


def test_timeout_and_seed_are_passed_through_and_user_arguments_come_last():
    command = pytest_command(plan(timeout=2.5, seed=42, pytest_args=["-k", "fifo"]))
    assert "--timeout=2.5" in command
    assert "--hypothesis-seed=42" in command
    assert not any(arg.startswith("--shuffle-seed") for arg in command)
    assert command[-2:] == ["-k", "fifo"]
    assert "--shuffle-seed=42" in pytest_command(plan(seed=42), shuffle_seed=True)


def test_a_missing_path_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a(): pass\n")
    check_paths(["tests", "tests/test_a.py::test_a", "tests/test_a.py::test_a[x]"], tmp_path)
    with pytest.raises(UsageError, match=r"'tests/nope' does not exist .*gateproof stress"):
        check_paths(["tests", "tests/nope"], tmp_path)


def test_the_result_tail_returns_only_complete_lines(tmp_path):
    path = tmp_path / "results.jsonl"
    tail = ResultTail(path)
    assert tail.read_new() == []  # the file does not exist yet
    with open(path, "w") as file:
        file.write('{"event": "start"}\n{"event": "rep')
        file.flush()
        assert tail.read_new() == [{"event": "start"}]
        file.write('ort"}\nnot json\n')
        file.flush()
        assert tail.read_new() == [{"event": "report"}]
    assert tail.records == [{"event": "start"}, {"event": "report"}]
    tail.close()


STUBBORN_TREE = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # before the pid is announced: no race with the test
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(60)
"""


def running(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.timeout(60)
def test_stopping_pytest_ends_its_whole_process_tree_even_processes_ignoring_signals(monkeypatch):
    monkeypatch.setattr(stress, "INTERRUPT_GRACE_SECONDS", 1.0)
    monkeypatch.setattr(stress, "TERMINATE_GRACE_SECONDS", 1.0)
    process = subprocess.Popen(
        [sys.executable, "-c", STUBBORN_TREE], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        grandchild = int(process.stdout.readline())
        assert running(grandchild)
        stop_process_tree(process, interrupt_first=True)
        assert process.returncode == -signal.SIGTERM  # it ignored SIGINT, not SIGTERM
        assert not running(grandchild)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.stdout.close()
