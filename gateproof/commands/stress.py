"""`gateproof stress`: run a pytest selection N times and report how flaky each test is.

Any pytest tree works: the selection runs in a pytest subprocess (so the
user's own conftest and options apply, and a pytest crash cannot take the
report with it), repeated by pytest-repeat and spread over pytest-xdist
workers. :mod:`reports.collector` streams every result to
``results.jsonl`` in ``--out``; this command tails it for the progress bar and
turns it into ``flakiness.json`` and ``flakiness.md`` (:mod:`reports.flakiness`),
also after Ctrl-C or a crash, marked ``complete: false``. pytest's own output
goes to ``pytest.log`` beside them.

asyncio tests run on gateproof's shuffled event loop by default (``--no-shuffle``
opts out): each repetition gets its own schedule, derived from the run's seed
and its test id, and every failing repetition is listed in the report with the
command that replays that one repetition. The loop runs on virtual time
(``--real-time`` opts out): timer waits are skipped, waits on real I/O keep real
time, and the report says which tests ran on which clock. ``--explore
STRATEGY[:d=N]`` runs them on the controlled loop instead (``pct``,
``random-delay``, ``plain``), ``--schedules N`` each under N schedules, and the
report counts the distinct schedules and, for ``pct``, gives its bound.
Hypothesis tests that take the ``repetition_seed`` fixture replay with it.
pytest runs with ``--tb=line``: the report's failure messages come from the
exception itself, and the long traceback styles parse source with ``ast``
where Python 3.11.7 can crash (``SystemError: AST constructor recursion depth
mismatch``) when a pytest-timeout signal lands; pass ``-- --tb=short`` to get
them back. If pytest crashes part way (an internal error, a killed process), the runs not done yet
are started again in a new pytest, as long as the last attempt made progress;
the report says how many runs were lost and why (``lost_runs``,
``lost_because``, ``restarts``).

Exit status: 0 every run passed; 1 a run failed; 2 bad input (a missing path,
nothing collected, a collection error, an option pytest refused); 3 pytest
crashed or ended without finishing; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from gateproof import __version__
from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError
from gateproof.signals import sigterm_as_interrupt

DEFAULT_OUT = Path("reports/out/stress")
COLLECTOR_PLUGIN = "reports.collector"
POLL_SECONDS = 0.2
INTERRUPT_GRACE_SECONDS = 10.0  # pytest writes its summary and the collector its last lines
TERMINATE_GRACE_SECONDS = 3.0
_LOG_TAIL_LINES = 25
MAX_RESTARTS = 3  # new pytest sessions for the runs a crash cut off
TRACEBACK_STYLE = "--tb=line"  # the long styles parse source; see the module docstring

# pytest's own exit codes (pytest.ExitCode), named here to keep pytest out of the CLI import.
_PYTEST_OK, _PYTEST_FAILED, _PYTEST_INTERRUPTED = 0, 1, 2
_PYTEST_INTERNAL, _PYTEST_USAGE, _PYTEST_NO_TESTS = 3, 4, 5
_PYTEST_EXITS = {
    _PYTEST_INTERRUPTED: "interrupted: a test called pytest.exit or raised KeyboardInterrupt",
    _PYTEST_INTERNAL: "internal error in pytest or a plugin",
}


class _SplitAtDoubleDash(argparse.ArgumentParser):
    """Everything after the first ``--`` goes to pytest untouched, as ``args.pytest_args``.

    argparse alone folds arguments after ``--`` into the positional paths, or
    rejects them when the paths came first; pytest needs them kept apart.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        args = list(sys.argv[1:] if args is None else args)
        extra: list[str] = []
        if "--" in args:
            split = args.index("--")
            args, extra = args[:split], args[split + 1 :]
        parsed, unknown = super().parse_known_args(args, namespace)
        parsed.pytest_args = extra
        return parsed, unknown


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _workers(text: str) -> str:
    if text == "auto" or (text.isdigit() and int(text) >= 0):
        return text
    raise argparse.ArgumentTypeError("must be 'auto' or a number of workers (0 disables xdist)")


def _timeout(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _explore(text: str) -> str:
    from gateproof.testing.schedules import parse_explore

    try:
        return parse_explore(text).text
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stress",
        help="run tests N times in parallel and write a flakiness report",
        usage="gateproof stress [options] [PATH ...] [-- PYTEST_ARG ...]",
        description=(
            "Run a pytest selection N times (pytest-repeat) across workers "
            "(pytest-xdist) and write flakiness.json and flakiness.md: per test runs, "
            "failures, flake rate, a 95% upper bound on the failure probability and "
            "the failure signatures. Arguments after -- go to pytest unchanged."
        ),
        epilog=(
            "example: gateproof stress tests/stress --count 100 "
            "-- --pool-impl reference.legacy.pool:LegacyPool"
        ),
    )
    parser.__class__ = _SplitAtDoubleDash  # add_parser offers no parser class per subcommand
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="test files, directories or node ids"
    )
    parser.add_argument(
        "--count", type=_count, default=100, help="runs of each test (default: 100)"
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default="auto",
        help="pytest-xdist workers: 'auto' (one per core, the default) or N; 0 runs in one process",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"directory for the report (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="fix the randomness: passed as --hypothesis-seed, and as --shuffle-seed "
        "when the gateproof plugin offers it",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=None,
        help="fail any single test run after this many seconds (pytest-timeout)",
    )
    parser.add_argument(
        "--no-shuffle",
        action="store_true",
        help="run asyncio tests on the default event loop (default: a shuffled loop, "
        "one schedule per repetition, replayable from the report)",
    )
    parser.add_argument(
        "--real-time",
        action="store_true",
        help="keep the real clock (default: virtual time on gateproof's loop: timer waits "
        "are skipped, waits on real I/O keep real time)",
    )
    parser.add_argument(
        "--explore",
        type=_explore,
        default=None,
        metavar="STRATEGY[:d=N]",
        help="run asyncio tests on the controlled loop: pct[:d=N,k=STEPS], "
        "random-delay[:p=P,hold=N], handoff[:p=P,hold=N] or plain (default: the shuffled loop)",
    )
    parser.add_argument(
        "--schedules",
        type=_count,
        default=1,
        metavar="N",
        help="with --explore: run each test under N schedules per repetition (default 1)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.set_defaults(func=run, pytest_args=[])


@dataclass
class StressPlan:
    """What to run and where to write, resolved from the command line."""

    paths: list[str]
    count: int
    workers: str
    out: Path
    seed: int | None = None
    timeout: float | None = None
    pytest_args: list[str] = field(default_factory=list)
    shuffle: bool = True  # asyncio tests on the shuffled loop, when gateproof's plugin is there
    shuffle_seed: int | None = None  # the run's schedule seed (default: ``seed``, else drawn)
    real_time: bool = False  # gateproof's loop keeps the real clock
    explore: str | None = None  # the controlled loop's strategy, canonical (``pct:d=2,k=60``)
    schedules: int = 1

    def loop_options(self) -> list[str]:
        """The plugin options that pick the loop and its clock (the seed apart)."""
        if self.explore is not None:
            options = ["--explore", self.explore]
            if self.schedules > 1:
                options.append(f"--schedules={self.schedules}")
        elif self.shuffle:
            options = ["--shuffle-loop"]
        else:
            return []
        return [*options, "--real-time"] if self.real_time else options

    @property
    def results_path(self) -> Path:
        return self.out / "results.jsonl"

    @property
    def log_path(self) -> Path:
        return self.out / "pytest.log"


def check_paths(paths: Sequence[str], cwd: Path) -> None:
    """Refuse a path that does not exist before pytest is started for nothing."""
    for path in paths:
        file_part = path.split("::", 1)[0]
        if not (cwd / file_part).exists():
            raise UsageError(
                f"{file_part!r} does not exist (relative to {cwd}); give test files, "
                f"directories or node ids, e.g. `gateproof stress tests/stress`"
            )


def pytest_base() -> list[str]:
    """The interpreter running gateproof, started like the `pytest` script (no cwd on sys.path)."""
    return [sys.executable, "-P", "-m", "pytest"]


def offers_shuffle_seed(paths: Sequence[str], cwd: Path) -> bool:
    """Whether the pytest plugins this tree loads accept ``--shuffle-seed``."""
    try:
        help_text = subprocess.run(
            [*pytest_base(), "--help", *paths],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except subprocess.TimeoutExpired:
        return False
    return "--shuffle-seed" in help_text


def pytest_command(plan: StressPlan, *, shuffle_seed: bool = False) -> list[str]:
    """The pytest command line for a plan; the user's own arguments come last and win."""
    command = [
        *pytest_base(),
        *plan.paths,
        "-p",
        COLLECTOR_PLUGIN,
        f"--gateproof-results={plan.results_path}",
        f"--count={plan.count}",
    ]
    if plan.workers != "0":
        command += ["-n", plan.workers]
    if plan.timeout is not None:
        command.append(f"--timeout={plan.timeout:g}")
    command.append(TRACEBACK_STYLE)
    if plan.seed is not None:
        command.append(f"--hypothesis-seed={plan.seed}")
    schedule = plan.shuffle_seed if plan.shuffle_seed is not None else plan.seed
    if shuffle_seed:
        command += plan.loop_options()
    if shuffle_seed and schedule is not None:
        command.append(f"--shuffle-seed={schedule}")
    return [*command, *plan.pytest_args]


def replay_command(plan: StressPlan, nodeid: str, shuffle_seed: int | None) -> str:
    """The pytest command that runs one repetition (``nodeid`` with its index) again, exactly."""
    command = ["pytest", nodeid, "-p", "no:xdist"]
    if plan.count > 1:
        command.append(f"--count={plan.count}")  # the repetition's id exists only with it
    if plan.seed is not None:
        command.append(f"--hypothesis-seed={plan.seed}")
    if shuffle_seed is not None:
        command += [*plan.loop_options(), f"--shuffle-seed={shuffle_seed}"]
    return shlex.join([*command, *plan.pytest_args])


class ResultTail:
    """Reads the JSON lines the collector appends, a complete line at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None
        self._partial = ""
        self.records: list[dict[str, Any]] = []

    def read_new(self) -> list[dict[str, Any]]:
        if self._file is None:
            if not self._path.exists():
                return []
            self._file = open(self._path, encoding="utf-8")  # closed in close()
        text = self._partial + self._file.read()
        *lines, self._partial = text.split("\n")
        new = []
        for line in lines:
            if line.strip():
                try:
                    new.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line torn by a crash: the rest of the file still counts
        self.records += new
        return new

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


def _group_members(pgid: int) -> list[Any]:
    """Live processes of a process group (zombies are dead: nothing left to stop)."""
    import psutil

    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _gone(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for pytest and its whole group to end."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None and not _group_members(process.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def stop_process_tree(process: subprocess.Popen[bytes], *, interrupt_first: bool) -> None:
    """End pytest and everything it started (xdist workers, a test's subprocesses).

    pytest runs in its own process group, so the group is the tree; children
    that left the group are found through psutil. ``interrupt_first`` gives
    pytest a SIGINT and a grace period to write its last results, as Ctrl-C
    would; then SIGTERM, then SIGKILL.
    """
    import psutil

    try:
        escaped = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        escaped = []
    if interrupt_first and process.poll() is None:
        _signal_group(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=INTERRUPT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    for signum in (signal.SIGTERM, signal.SIGKILL):  # whatever outlived pytest, or pytest itself
        if _gone(process, 0):
            break
        _signal_group(process.pid, signum)
        if _gone(process, TERMINATE_GRACE_SECONDS):
            break
    for child in escaped:
        try:
            child.kill()
        except psutil.Error:
            pass
    process.wait(timeout=TERMINATE_GRACE_SECONDS)


@dataclass
class PytestRun:
    """What happened to the pytest subprocess."""

    command: list[str]
    records: list[dict[str, Any]]
    exit_code: int | None
    wall_seconds: float
    interrupted: bool


def _progress_bar(enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=None,
        unit="run",
        desc="stress",
        file=sys.stderr,
        disable=not enabled,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def run_pytest(
    plan: StressPlan, command: list[str], *, cwd: Path, progress: bool, resume: bool = False
) -> PytestRun:
    """Start pytest, follow its results, and always leave no process of it behind.

    ``resume``: append to the results of an earlier pytest instead of starting afresh.
    """
    plan.out.mkdir(parents=True, exist_ok=True)
    if not resume:
        plan.results_path.unlink(missing_ok=True)
    tail = ResultTail(plan.results_path)
    if resume:
        tail.read_new()  # what the earlier pytest wrote is already counted
        tail.records.clear()
    bar = _progress_bar(progress)
    interrupted = False
    started = time.monotonic()
    with open(plan.log_path, "ab" if resume else "wb") as log, sigterm_as_interrupt():
        process = subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while process.poll() is None:
                _advance(bar, tail.read_new())
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            try:
                stop_process_tree(process, interrupt_first=interrupted)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, kill now
                interrupted = True
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=TERMINATE_GRACE_SECONDS)
            wall = time.monotonic() - started
            _advance(bar, tail.read_new())
            tail.close()
            bar.close()
    return PytestRun(command, tail.records, process.returncode, wall, interrupted)


def _advance(bar: Any, records: list[dict[str, Any]]) -> None:
    for record in records:
        if record.get("event") == "collected":
            bar.total = record["count"]
            bar.refresh()
        elif record.get("event") == "report" and record.get("when") in ("teardown", "???"):
            bar.update(1)


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(f"  | {line}" for line in lines[-_LOG_TAIL_LINES:])


def run(args: argparse.Namespace) -> int:
    cwd = Path.cwd()
    plan = StressPlan(
        paths=list(args.paths),
        count=args.count,
        workers=args.workers,
        out=args.out,
        seed=args.seed,
        timeout=args.timeout,
        pytest_args=list(args.pytest_args),
    )
    plan.shuffle = not getattr(args, "no_shuffle", False)
    plan.real_time = getattr(args, "real_time", False)
    plan.explore = getattr(args, "explore", None)
    plan.schedules = getattr(args, "schedules", 1)
    if plan.schedules > 1 and plan.explore is None:
        raise UsageError("--schedules needs --explore STRATEGY (e.g. --explore pct:d=2)")
    if plan.explore is not None and not plan.shuffle:
        raise UsageError("--explore picks the loop itself; drop --no-shuffle")
    check_paths(plan.paths, cwd)
    wants_loop = plan.shuffle or plan.explore is not None
    offered = (wants_loop or plan.seed is not None) and offers_shuffle_seed(plan.paths, cwd)
    if plan.explore is not None and not offered:
        raise UsageError(
            "--explore needs gateproof's pytest plugin in the tree's pytest "
            "(it is loaded when gateproof is installed in the interpreter that runs pytest)"
        )
    if offered and plan.shuffle:
        from gateproof.testing.shuffle import new_seed

        plan.shuffle_seed = plan.seed if plan.seed is not None else new_seed()
    command = pytest_command(plan, shuffle_seed=offered)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    progress = not args.no_progress
    outcome = run_pytest(plan, command, cwd=cwd, progress=progress)
    restarts = _resume_after_crashes(plan, outcome, cwd=cwd, progress=progress, offered=offered)

    finished = any(r.get("event") == "finish" for r in outcome.records)
    complete = (
        finished and not outcome.interrupted and outcome.exit_code in (_PYTEST_OK, _PYTEST_FAILED)
    )
    from reports.flakiness import build_report, write_report

    shuffled_with = plan.shuffle_seed if offered and plan.shuffle else None
    report = build_report(
        outcome.records,
        count=plan.count,
        complete=complete,
        seed=plan.seed,
        replay=lambda nodeid: replay_command(plan, nodeid, shuffled_with),
        lost_because=None if complete else _why_lost(outcome, plan),
        restarts=restarts,
        command=shlex.join(command),
        pytest_exit_code=outcome.exit_code,
        wall_seconds=round(outcome.wall_seconds, 3),
        workers=plan.workers,
        paths=plan.paths,
        schedules=plan.schedules if plan.explore is not None else None,
        started_at=started_at,
        gateproof_version=__version__,
    )
    json_path, md_path = write_report(report, plan.out)
    print(report["verdict"])
    for line in schedule_lines(report):
        print(line)
    print(f"report: {md_path} and {json_path.name}; pytest output: {plan.log_path}")
    return _exit_status(report, outcome, plan, finished=finished)


def schedule_lines(report: dict[str, Any]) -> list[str]:
    """What the clock and the exploration did, beside the verdict's flake bound."""
    lines = []
    clocks = report.get("virtual_time") or {}
    if clocks.get("tests"):
        lines.append(
            f"virtual time: {len(clocks['tests'])} tests, {clocks['virtual_seconds']:.1f} s of "
            f"timer waits skipped; {len(clocks['real_time_tests'])} tests on the real clock"
        )
    explored = report.get("exploration")
    if explored:
        line = (
            f"schedules: {explored['distinct_schedules']} distinct in {explored['runs']} runs "
            f"({explored['strategy']})"
        )
        if "pct_bound" in explored:
            line += (
                f"; PCT: a bug of depth <= {explored['depth']} in any test is met with "
                f"probability >= {100 * explored['pct_bound']:.3g}%"
            )
        lines.append(line)
    return lines


def _crashed(outcome: PytestRun) -> bool:
    """pytest died part way (not a usage error, not Ctrl-C, not a clean finish)."""
    if outcome.interrupted or outcome.exit_code in (_PYTEST_USAGE, _PYTEST_NO_TESTS):
        return False
    finished = any(r.get("event") == "finish" for r in outcome.records)
    return not finished or outcome.exit_code not in (_PYTEST_OK, _PYTEST_FAILED, 2)


def _why_lost(outcome: PytestRun, plan: StressPlan) -> str:
    """One line on why runs are missing: the crash pytest logged, a signal, or Ctrl-C."""
    if outcome.interrupted:
        return "interrupted (Ctrl-C or SIGTERM)"
    try:
        log = plan.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        log = []
    internal = [line for line in log if line.startswith("INTERNALERROR>") and "Error" in line]
    if internal:
        return f"pytest crashed: {internal[-1].removeprefix('INTERNALERROR>').strip()}"
    code = outcome.exit_code
    if code is not None and code < 0:
        return f"pytest was killed by signal {-code}"
    if code in _PYTEST_EXITS:
        return _PYTEST_EXITS[code]
    return f"pytest ended (exit {code}) without finishing its session"


def _remaining(records: list[dict[str, Any]]) -> list[str]:
    """Collected test ids (repetitions included) with no finished run yet."""
    collected = next((r for r in records if r.get("event") == "collected" and "ids" in r), None)
    if collected is None:
        return []
    done = {
        r["nodeid"]
        for r in records
        if r.get("event") == "report" and r.get("when") in ("teardown", "???")
    }
    return [nodeid for nodeid in collected["ids"] if nodeid not in done]


def _resume_after_crashes(
    plan: StressPlan, outcome: PytestRun, *, cwd: Path, progress: bool, offered: bool
) -> list[dict[str, Any]]:
    """Start pytest again on the runs a crash cut off; ``outcome`` gathers every attempt.

    Stops when an attempt finished no run (a crash that comes back at once) or
    after :data:`MAX_RESTARTS`. Returns one entry per restart for the report.
    """
    restarts: list[dict[str, Any]] = []
    progress_before = 0  # a crash before any run finished would only come back
    while _crashed(outcome) and len(restarts) < MAX_RESTARTS:
        remaining = _remaining(outcome.records)
        finished = sum(
            1 for r in outcome.records if r.get("event") == "report" and r.get("when") == "teardown"
        )
        if not remaining or finished == progress_before:
            break
        progress_before = finished
        restarts.append(
            {"after_runs": finished, "because": _why_lost(outcome, plan), "left": len(remaining)}
        )
        ids_file = plan.out / "remaining-runs.txt"
        ids_file.write_text("\n".join(remaining) + "\n", encoding="utf-8")
        resumed = replace(plan, paths=[f"@{ids_file}"])
        again = run_pytest(
            resumed,
            pytest_command(resumed, shuffle_seed=offered),
            cwd=cwd,
            progress=progress,
            resume=True,
        )
        outcome.records.extend(again.records)
        outcome.exit_code = again.exit_code
        outcome.interrupted = again.interrupted
        outcome.wall_seconds += again.wall_seconds
    return restarts


def _exit_status(
    report: dict[str, Any], outcome: PytestRun, plan: StressPlan, *, finished: bool
) -> int:
    """Map what pytest did onto gateproof's exit statuses, with a next step for each problem.

    ``finished``: pytest reported the end of its session (``run`` has looked already).
    """
    if outcome.interrupted:
        raise KeyboardInterrupt
    code = outcome.exit_code
    where = f"see {plan.log_path}"
    if report["collection_errors"]:
        names = ", ".join(e["nodeid"] or "<session>" for e in report["collection_errors"][:5])
        raise UsageError(
            f"pytest could not collect {len(report['collection_errors'])} item(s): {names}; "
            f"fix them or leave them out of the selection ({where}, the report lists the errors)"
        )
    if code == _PYTEST_NO_TESTS:
        raise UsageError(
            f"no tests collected from {' '.join(plan.paths) or 'the default test paths'}; "
            f"check the paths and any -k/-m selection after --"
        )
    if code == _PYTEST_USAGE:
        raise UsageError(
            f"pytest refused to start (exit 4): a bad option after --, or a conftest.py "
            f"that fails to import; pytest said:\n{_log_tail(plan.log_path)}"
        )
    if code is None or code < 0 or code not in (_PYTEST_OK, _PYTEST_FAILED):
        how = _PYTEST_EXITS.get(code, f"exit {code}")
        if code is not None and code < 0:
            how = f"killed by signal {-code}"
        raise EnvironmentProblem(
            f"pytest stopped early ({how}); the partial report is in {plan.out}; "
            f"pytest's last words ({where}):\n{_log_tail(plan.log_path)}"
        )
    if not finished:
        raise EnvironmentProblem(
            f"pytest ended (exit {code}) without finishing its session: a test or plugin "
            f"exited the interpreter; the partial report is in {plan.out} ({where})"
        )
    totals = report["totals"]
    if totals["failed"] + totals["errors"]:
        return EXIT_FAILED
    if code == _PYTEST_FAILED:
        raise EnvironmentProblem(
            f"pytest reported a failure that no test result explains; {where}:\n"
            + _log_tail(plan.log_path)
        )
    if not report["complete"]:
        raise EnvironmentProblem(
            f"pytest finished after {totals['runs']} of {report['expected_runs']} expected "
            f"runs without a failure; {where}"
        )
    if report["upper_bound_95"] is None:
        raise UsageError(
            "every run was skipped, so nothing was measured; select tests that run here"
        )
    return EXIT_OK
