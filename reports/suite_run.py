"""Run a tree's own test suite under coverage, in a subprocess, as its user runs it.

The suite runs with the tree's interpreter (``python``) as ``python -m
pytest`` from the directory the audit chose (where the user is, see
:func:`reports.audit.plan_for`), with the user's environment, so its conftest
files, its import layout and its dependencies apply and its top-level package
names never meet ours. Only ``--continue-on-collection-errors`` differs from a
plain run: pytest alone stops at a module that does not collect, and the audit
still wants the coverage of the tests that do. pytest-cov measures line and branch
coverage with one context per test (``--cov-context=test``) and combines the
data of pytest-xdist workers; on request, coverage.py's own ``patch =
subprocess`` also measures the processes the tests start. pytest's JUnit XML says which tests
failed or errored, and which modules did not collect.

Every outcome is a :class:`SuiteRun`, never an exception: a suite that does
not collect, an interpreter without pytest, a run past its time limit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.paths import shown

DEFAULT_TIMEOUT_SECONDS = 900.0
PROGRESS_EVERY_SECONDS = 10.0
_PROGRESS = re.compile(r"\[\s*(\d+)%\]")
_LOG_TAIL_LINES = 30

# pytest's exit codes, by meaning.
PYTEST_EXIT_MEANING = {
    0: "every test passed",
    1: "some tests failed",
    2: "interrupted, or errors while collecting",
    3: "internal error in pytest or a plugin",
    4: "pytest refused to start: a bad option, or a conftest.py that does not import",
    5: "no tests collected",
}


@dataclass
class TestOutcome:
    """One test that did not pass, or one module that did not collect."""

    nodeid: str
    outcome: str  # "failed", "error" or "collection error"
    message: str
    missing: str | None = None  # a collection error's ModuleNotFoundError: the module it names
    where: str | None = None  # and the import that failed, ``path:line: source``


@dataclass
class SuiteRun:
    """What the tree's suite did: its exit code, the tests counted, the coverage files."""

    command: list[str]
    cwd: str
    exit_code: int | None
    wall_seconds: float
    tests: int = 0
    passed: int = 0
    skipped: int = 0
    problems: list[TestOutcome] = field(default_factory=list)
    test_ids: list[str] = field(default_factory=list)
    skipped_ids: list[str] = field(default_factory=list)
    failed_ids: list[str] = field(default_factory=list)
    coverage_json: Path | None = None
    note: str = ""
    log_tail: str = ""

    @property
    def meaning(self) -> str:
        if self.exit_code is None:
            return self.note or "did not run"
        return PYTEST_EXIT_MEANING.get(self.exit_code, f"pytest exit {self.exit_code}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "cwd": shown(self.cwd),
            "exit_code": self.exit_code,
            "meaning": self.meaning,
            "wall_seconds": round(self.wall_seconds, 2),
            "tests": self.tests,
            "passed": self.passed,
            "skipped": self.skipped,
            "failed": sum(p.outcome == "failed" for p in self.problems),
            "errors": sum(p.outcome == "error" for p in self.problems),
            "collection_errors": sum(p.outcome == "collection error" for p in self.problems),
            "problems": [vars(p) for p in self.problems],
            "test_ids": self.test_ids,
            "skipped_ids": self.skipped_ids,
            "note": self.note,
            "log_tail": self.log_tail,
        }


def coverage_rc(out: Path, *, subprocesses: bool = False) -> Path:
    """The coverage configuration for the run: branch data, one data file in ``out``.

    ``subprocesses`` also measures the Python processes the tests start
    (coverage.py's ``patch = subprocess``). It is off by default: it starts
    coverage in every child, which took the reference gateway's unit tests
    from 1.1x to 1.5x their time, since those tests start many workers whose
    code lies outside the audited tree. pytest-xdist workers are measured
    either way (pytest-cov starts coverage in each and combines their data).
    """
    rc = out / "coveragerc"
    rc.write_text(
        "[run]\n"
        f"data_file = {(out / '.coverage').resolve()}\n"
        "branch = True\n"
        + ("patch = subprocess\n" if subprocesses else "")
        + "omit =\n    */test_*.py\n    */*_test.py\n    */conftest.py\n"
    )
    return rc


def pytest_command(
    python: str, root: Path, source: Path, tests: Sequence[str], out: Path, rc: Path, workers: str
) -> list[str]:
    """The audited suite's pytest command line (its own options from its config still apply)."""
    command = [
        python,
        "-m",
        "pytest",
        *tests,
        f"--cov={shown(source, root)}",
        "--cov-branch",
        "--cov-context=test",
        "--cov-report=",
        "--continue-on-collection-errors",
        f"--cov-config={shown(rc, root)}",
        f"--junitxml={shown(out / 'junit.xml', root)}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if workers != "0":
        command += ["-n", workers]
    return command


def missing_tools(python: str, cwd: Path) -> str | None:
    """Why ``python`` cannot run the audited suite, or None when it has what it needs."""
    probe = "import pytest, pytest_cov, coverage"
    try:
        done = subprocess.run(
            [python, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        return f"interpreter {python!r} not found; give --python the path of the tree's python"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"interpreter {python!r} could not start: {error}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"{python} cannot import pytest, pytest-cov and coverage ({last}); "
            f"install them into that environment: {python} -m pip install pytest pytest-cov"
        )
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End pytest and every process it started (it runs in its own process group)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def suite_env() -> dict[str, str]:
    """The user's environment (``PYTHONPATH`` included), less coverage's own variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}


def run_suite(
    *,
    root: Path,
    rootdir: Path | None = None,
    source: Path,
    tests: Sequence[str],
    out: Path,
    python: str | None = None,
    workers: str = "0",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    progress: Callable[[str], None] | None = None,
    subprocesses: bool = False,
) -> SuiteRun:
    """Run the suite once with coverage; the result says what happened, whatever happened.

    ``progress`` is called every few seconds with how far pytest has got.
    ``rootdir`` is pytest's (where its node ids start); ids are reported
    relative to ``root``, as pytest's own summary shows them there.
    """
    python = python or sys.executable
    out.mkdir(parents=True, exist_ok=True)
    for stale in [out / "junit.xml", out / "coverage.json", *out.glob(".coverage*")]:
        stale.unlink(missing_ok=True)
    rc = coverage_rc(out, subprocesses=subprocesses)
    command = pytest_command(python, root, source, tests, out, rc, workers)
    result = SuiteRun(command=command, cwd=str(root), exit_code=None, wall_seconds=0.0)
    problem = missing_tools(python, root)
    if problem:
        result.note = problem
        return result
    env = suite_env()
    log_path = out / "pytest.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            result.exit_code = _wait(process, started + timeout, log_path, progress)
        except subprocess.TimeoutExpired:
            result.note = f"the suite ran past {timeout:g} s and was stopped"
        finally:
            _stop(process)
    result.wall_seconds = time.monotonic() - started
    result.log_tail = _tail(log_path)
    _read_junit(out / "junit.xml", result, root, rootdir or root)
    result.coverage_json = coverage_json(out, rc, root)
    return result


def _percent_done(log_path: Path) -> str:
    """pytest's own progress (``[ 42%]``) from the end of its output, or "" before it has any."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    found = _PROGRESS.findall(text)
    return f"{found[-1]}%" if found else ""


def _wait(
    process: subprocess.Popen[bytes],
    deadline: float,
    log_path: Path,
    progress: Callable[[str], None] | None,
) -> int:
    """Wait for pytest until ``deadline``, reporting its progress now and then."""
    started = last = time.monotonic()
    while True:
        try:
            return process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now >= deadline:
                raise
            if progress is not None and now - last >= PROGRESS_EVERY_SECONDS:
                last = now
                done = _percent_done(log_path) or "collecting"
                progress(f"the suite: {done} after {now - started:.0f} s")


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_LOG_TAIL_LINES:])


def _nodeid(case: ElementTree.Element) -> str:
    """A JUnit testcase back to a pytest-like node id (``pkg.test_mod`` -> ``pkg/test_mod.py``)."""
    classname, name = case.get("classname", ""), case.get("name", "")
    if not classname:  # a module that did not collect: its dotted name is the test name
        return name.replace(".", "/") + ".py"
    parts = classname.split(".")
    for split in range(len(parts), 0, -1):
        if parts[split - 1][:1].islower() or split == 1:
            module = "/".join(parts[:split]) + ".py"
            return "::".join([module, *parts[split:], name])
    return f"{classname}::{name}"


def relocate(nodeid: str, rootdir: Path, root: Path) -> str:
    """A pytest node id (relative to its rootdir) made relative to ``root``, where it ran."""
    if rootdir == root or not nodeid:
        return nodeid
    file, sep, rest = nodeid.partition("::")
    absolute = (rootdir / file).resolve()
    base = root.resolve()
    if not absolute.is_relative_to(base):
        return nodeid
    return absolute.relative_to(base).as_posix() + sep + rest


_FRAME = re.compile(r"^(\S.*?):(\d+): in \S+")
_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def import_site(text: str, root: Path) -> tuple[str | None, str | None]:
    """From a collection error's traceback: the missing module, and the tree's failing import.

    pytest writes an ImportError while collecting in its short style
    (``pkg/main.py:4: in <module>`` then the source line); the deepest frame
    in the tree's own files (not in site-packages) is where the import failed.
    """
    lines = text.splitlines()
    missing = next((m.group(1) for line in lines if (m := _MISSING.search(line))), None)
    where = None
    base = root.resolve()
    for index, line in enumerate(lines[:-1]):
        frame = _FRAME.match(line)
        if not frame or "site-packages" in line or "dist-packages" in line:
            continue
        path = (root / frame.group(1)).resolve()
        if path.is_relative_to(base) and path.is_file():
            relative = path.relative_to(base).as_posix()
            where = f"{relative}:{frame.group(2)}: {lines[index + 1].strip()}"
    return missing, where


def _read_junit(path: Path, result: SuiteRun, root: Path, rootdir: Path) -> None:
    try:
        tree = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return
    for case in tree.iter("testcase"):
        nodeid = relocate(_nodeid(case), rootdir, root)
        failure, error = case.find("failure"), case.find("error")
        skipped = case.find("skipped")
        if failure is not None or error is not None:
            element = failure if failure is not None else error
            message = (element.get("message") or element.text or "").strip().splitlines()
            text = message[0] if message else ""
            if error is not None and "collection failure" in (error.get("message") or ""):
                detail = (error.text or "").strip().splitlines()
                text = next((line for line in reversed(detail) if line.startswith("E ")), text)
                missing, where = import_site(error.text or "", root)
                result.problems.append(
                    TestOutcome(nodeid, "collection error", text[:300], missing, where)
                )
                continue
            kind = "failed" if failure is not None else "error"
            result.problems.append(TestOutcome(nodeid, kind, text[:300]))
            result.failed_ids.append(nodeid)
        elif skipped is not None:
            result.skipped += 1
            result.skipped_ids.append(nodeid)
        else:
            result.passed += 1
        result.tests += 1
        result.test_ids.append(nodeid)


def coverage_json(out: Path, rc: Path, root: Path) -> Path | None:
    """coverage.py's JSON report (per file, per function, contexts per line), or None."""
    data = out / ".coverage"
    if not data.exists() and not list(out.glob(".coverage.*")):
        return None
    base = [sys.executable, "-m", "coverage"]
    options = [f"--rcfile={rc.resolve()}", f"--data-file={data.resolve()}"]
    if list(out.glob(".coverage.*")):  # a worker's data left uncombined by a crash
        subprocess.run([*base, "combine", "--append", *options], cwd=root, capture_output=True)
    target = (out / "coverage.json").resolve()
    subprocess.run(
        [*base, "json", *options, "--show-contexts", "-o", str(target), "-q"],
        cwd=root,
        capture_output=True,
        timeout=300,
    )
    return target if target.exists() else None
