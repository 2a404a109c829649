"""`gateproof bench mutation`: how many deliberate defects the suites catch (mutation score).

mutmut changes one thing at a time in a module (a comparison flipped, a
constant changed, a call dropped: a *mutant*) and runs the tests that cover
it; a mutant the tests fail on is *killed*, one they pass on *survived*. The
score is killed / (mutants - equivalent ones), per target:

* ``pool``: ``reference/gateway/services/pool.py`` under the pool conformance
  suite (``tests/stress``, run once);
* ``breaker``: ``reference/gateway/core/breaker.py`` under the breaker
  conformance suite (``tests/breaker``).

That is the number users of a conformance suite want: how many defects the
suite they run against their own pool or breaker catches. Mutants in code the
adapter contract cannot reach (the gateway's registry of pools, the breaker's
snapshot) are counted apart, with the reason, from
:mod:`gateproof.bench._mutation_scope`; the headline score is over the rest,
and the whole module's score is printed beside it. ``--with-unit-tests`` adds
the reference's own unit tests to each target: how well the module is
specified by all its tests.

Every campaign runs in a temporary copy of the files it needs (the source
tree is never touched), with one worker at low priority; the temporary copy
is removed afterwards. Survivors are printed as ``file:line`` with the
mutation; mutants known to be equivalent (no test can tell them apart from
the original) are listed with the reason, from
:mod:`gateproof.bench._mutation_equivalents`. Exit 1 when a target scores
below ``--min-score``. See ``docs/mutation.md``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path("reports/out/mutation/mutation.json")
DEFAULT_MIN_SCORE = 90.0  # percent of non-equivalent mutants killed
DEFAULT_TEST_TIMEOUT = 30.0  # seconds per test (pytest-timeout): a mutant that hangs is killed
CAMPAIGN_TIMEOUT = 3600.0  # seconds: one target's whole campaign
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
NOT_RUN = {"not checked", "check was interrupted by user", "skipped"}


@dataclass(frozen=True)
class Target:
    """A module to mutate and the tests that must catch its mutants (paths from the root)."""

    name: str
    module: str
    tests: tuple[str, ...]  # the conformance suite: the headline measure
    unit_tests: tuple[str, ...] = ()  # the reference's own tests, added by --with-unit-tests

    def with_unit_tests(self) -> Target:
        """The same target measured under its conformance suite and its unit tests."""
        return Target(self.name, self.module, (*self.tests, *self.unit_tests))


TARGETS = {
    "pool": Target(
        "pool",
        "reference/gateway/services/pool.py",
        ("tests/stress",),
        ("tests/unit/test_pool_manager.py", "tests/unit/test_pool_reference.py"),
    ),
    "breaker": Target(
        "breaker",
        "reference/gateway/core/breaker.py",
        ("tests/breaker",),
        ("tests/unit/test_breaker_transitions.py", "tests/unit/test_breaker_reference.py"),
    ),
}


@dataclass
class Mutant:
    """One mutant and what became of it: where, what it changed, and why it does not count."""

    name: str
    status: str
    function: str = ""
    line: int | None = None
    mutation: str = ""
    equivalent: str | None = None  # the reason, when the mutant is a known equivalent
    outside_contract: str | None = None  # the reason, when no adapter call can reach it

    @property
    def killed(self) -> bool:
        return self.status in KILLED


@dataclass
class TargetResult:
    """One target's campaign: every mutant, the counts and the score."""

    target: str
    module: str
    tests: list[str]
    mutants: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def killed(self) -> int:
        return sum(m.killed for m in self.mutants)

    @property
    def equivalent(self) -> int:
        return sum(not m.killed and m.equivalent is not None for m in self.mutants)

    @property
    def survivors(self) -> list[Mutant]:
        """Non-equivalent mutants not killed, outside the contract or not."""
        return [m for m in self.mutants if not m.killed and m.equivalent is None]

    @property
    def outside(self) -> list[Mutant]:
        """Mutants in code the adapter contract cannot reach, killed or not."""
        return [m for m in self.mutants if m.outside_contract is not None]

    @property
    def in_contract(self) -> list[Mutant]:
        return [m for m in self.mutants if m.outside_contract is None]

    @property
    def score_module(self) -> float:
        """Percent of the whole module's non-equivalent mutants killed (100 when none)."""
        return _score(self.mutants)

    @property
    def score(self) -> float:
        """The headline: percent of the contract's non-equivalent mutants killed."""
        return _score(self.in_contract)

    def to_json(self) -> dict[str, object]:
        contract = self.in_contract
        return {
            "target": self.target,
            "module": self.module,
            "tests": self.tests,
            "mutants": len(self.mutants),
            "killed": self.killed,
            "equivalent": self.equivalent,
            "survived": len(self.survivors),
            "score": round(self.score, 1),
            "score_module": round(self.score_module, 1),
            "contract": {
                "mutants": len(contract),
                "killed": sum(m.killed for m in contract),
                "equivalent": sum(not m.killed and m.equivalent is not None for m in contract),
                "survived": sum(not m.killed and m.equivalent is None for m in contract),
            },
            "outside_contract": {
                "mutants": len(self.outside),
                "killed": sum(m.killed for m in self.outside),
                "survived": sum(not m.killed and m.equivalent is None for m in self.outside),
                "reasons": {m.name: m.outside_contract for m in self.outside},
            },
            "seconds": round(self.seconds, 1),
            "survivors": [asdict(m) for m in self.survivors],
            "equivalents": [asdict(m) for m in self.mutants if not m.killed and m.equivalent],
            "statuses": {m.name: m.status for m in self.mutants},
        }


def _score(mutants: list[Mutant]) -> float:
    """Percent of the non-equivalent mutants killed (100 when there are none)."""
    killed = sum(m.killed for m in mutants)
    counted = len(mutants) - sum(not m.killed and m.equivalent is not None for m in mutants)
    return 100.0 * killed / counted if counted else 100.0


class CampaignError(Exception):
    """mutmut could not finish a campaign; the message says why and what to look at."""


# -- the campaign ----------------------------------------------------------------


def prepare(root: Path, target: Target, workdir: Path, test_timeout: float) -> None:
    """Copy what the campaign needs into ``workdir`` and write mutmut's configuration there.

    The module's top-level package, the tests and ``pyproject.toml`` (for
    pytest's settings) are copied; mutmut's settings go to ``setup.cfg``.
    """
    package = Path(target.module).parts[0]
    shutil.copytree(root / package, workdir / package, ignore=_ignored)
    for test in target.tests:
        source = root / test
        if source.is_dir():
            shutil.copytree(source, workdir / test, ignore=_ignored)
        else:
            (workdir / test).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, workdir / test)
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        shutil.copy2(pyproject, workdir / "pyproject.toml")
    selection = "\n    ".join(target.tests)
    (workdir / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths = {package}\n"
        f"only_mutate = {target.module}\n"
        f"pytest_add_cli_args_test_selection =\n    {selection}\n"
        # stop at the first failure; no cache; a hanging mutant fails its test
        "pytest_add_cli_args =\n    -x\n    -q\n    -p\n    no:cacheprovider\n"
        "    -p\n    no:schemathesis\n    -p\n    no:locust\n"  # plugins these suites never use
        f"    --timeout={test_timeout:g}\n"
        "use_git_change_detection = false\n",
        encoding="utf-8",
    )


def _ignored(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in ("__pycache__", ".pytest_cache", "mutants")}


def run_mutmut(workdir: Path, timeout: float = CAMPAIGN_TIMEOUT) -> None:
    """``mutmut run`` with one worker at low priority, in its own process group."""
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", "1"]
    log = workdir / "mutmut.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: os.nice(10),  # lower priority: the machine is shared
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        try:
            code = process.wait(timeout=timeout)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        finally:
            _end_group(process.pid)
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise CampaignError(f"mutmut run exited {code}; the end of its output:\n{tail}")


def _end_group(pgid: int) -> None:
    """Kill whatever mutmut left running in its process group (forked test runs)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _mutmut(workdir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise CampaignError(f"mutmut {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def read_results(workdir: Path, target: Target) -> list[Mutant]:
    """Every mutant's status, and where and what each one not killed is."""
    mutants = []
    for line in _mutmut(workdir, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            mutants.append(Mutant(name, status))
    if not mutants:
        raise CampaignError(f"mutmut made no mutants of {target.module}")
    unfinished = [m.name for m in mutants if m.status in NOT_RUN]
    if unfinished:
        raise CampaignError(f"{len(unfinished)} mutants were not run, e.g. {unfinished[0]}")
    lines = _definition_lines((workdir / target.module).read_text(encoding="utf-8"))
    for mutant in mutants:  # every one: the contract's scope may depend on the mutated line
        mutant.function = function_of(mutant.name)
        mutant.line, mutant.mutation = locate(
            _mutmut(workdir, "show", mutant.name), lines.get(mutant.function)
        )
    return mutants


def function_of(name: str) -> str:
    """``Class.method`` or ``function`` from a mutmut mutant name."""
    local = name.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    if local.startswith("xǁ"):
        return ".".join(part for part in local[2:].split("ǁ") if part)
    return local.removeprefix("x_")


def _definition_lines(source: str) -> dict[str, int]:
    """The line of each function's ``def``, by ``Class.method`` or ``function``."""
    lines: dict[str, int] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[f"{node.name}.{item.name}"] = item.lineno
    return lines


_HUNK = re.compile(r"^@@ -(\d+)")


def locate(diff: str, def_line: int | None) -> tuple[int | None, str]:
    """The module line a mutant changes and the change (``old -> new``), from ``mutmut show``.

    mutmut's diff numbers lines from the function's ``def``.
    """
    at: int | None = None
    removed: list[str] = []
    added: list[str] = []
    offset = 0
    for line in diff.splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            offset = int(hunk.group(1))
            continue
        if line.startswith(("---", "+++")) or not offset:
            continue
        if line.startswith("-"):
            at = offset if at is None else at
            removed.append(line[1:].strip())
            offset += 1
        elif line.startswith("+"):
            added.append(line[1:].strip())
        else:
            offset += 1
    line_no = def_line + at - 1 if def_line is not None and at is not None else None
    return line_no, f"{' '.join(removed)} -> {' '.join(added)}"


def campaign(
    target: Target, *, root: Path = ROOT, test_timeout: float = DEFAULT_TEST_TIMEOUT
) -> TargetResult:
    """Run one target's mutants in a temporary copy and read back every mutant's fate."""
    from gateproof.bench._mutation_equivalents import reason_for
    from gateproof.bench._mutation_scope import outside_contract

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"gateproof-mutation-{target.name}-") as scratch:
        workdir = Path(scratch)
        prepare(root, target, workdir, test_timeout)
        run_mutmut(workdir)
        mutants = read_results(workdir, target)
    for mutant in mutants:
        mutant.outside_contract = outside_contract(target.module, mutant.function, mutant.mutation)
        if not mutant.killed:
            mutant.equivalent = reason_for(target.module, mutant.function, mutant.mutation)
    return TargetResult(
        target.name, target.module, list(target.tests), mutants, time.perf_counter() - started
    )


# -- the command -------------------------------------------------------------------


def print_result(result: TargetResult) -> None:
    contract, outside = result.in_contract, result.outside
    print(
        f"\n{result.target}: {result.module} under {', '.join(result.tests)}\n"
        f"  {len(result.mutants)} mutants: {result.killed} killed, "
        f"{len(result.survivors)} survived, {result.equivalent} equivalent; "
        f"score {result.score_module:.1f}% of non-equivalent mutants killed "
        f"({result.seconds:.0f}s)"
    )
    if outside:
        print(
            f"  contract subject: {len(contract)} mutants, {sum(m.killed for m in contract)} "
            f"killed; score {result.score:.1f}%\n"
            f"  outside the contract: {len(outside)} mutants, "
            f"{sum(m.killed for m in outside)} killed anyway"
        )
        for reason in dict.fromkeys(m.outside_contract for m in outside):
            count = sum(m.outside_contract == reason for m in outside)
            print(f"    {count} mutants: {reason}")
    for mutant in result.survivors:
        where = "  (outside the contract)" if mutant.outside_contract else ""
        print(
            f"  survived  {result.module}:{mutant.line}  {mutant.mutation}  "
            f"[{mutant.status}]{where}"
        )
    for mutant in result.mutants:
        if not mutant.killed and mutant.equivalent:
            print(f"  equivalent  {result.module}:{mutant.line}  {mutant.mutation}")
            print(f"              {mutant.equivalent}")


def run(args: argparse.Namespace) -> int:
    from gateproof.cli import EnvironmentProblem, UsageError

    root = Path(args.root).resolve()
    if args.module:
        if not args.tests:
            raise UsageError("--module needs --tests: the tests that must catch its mutants")
        if args.with_unit_tests:
            raise UsageError("--with-unit-tests is for the shipped targets; list --tests instead")
        targets = [Target(Path(args.module).stem, args.module, tuple(args.tests))]
    elif args.tests:
        raise UsageError("--tests goes with --module; to run the shipped targets drop both")
    else:
        targets = [TARGETS[name] for name in args.target or TARGETS]
        if args.with_unit_tests:
            targets = [target.with_unit_tests() for target in targets]
    for target in targets:
        for path in (target.module, *target.tests):
            if not (root / path).exists():
                raise UsageError(f"{path} not found under {root}; give --root the project root")
    pyproject = root / "pyproject.toml"
    if pyproject.exists() and "[tool.mutmut]" in pyproject.read_text(encoding="utf-8"):
        raise UsageError(
            f"{pyproject} has a [tool.mutmut] table, which would override the campaign's "
            "settings; remove it (gateproof bench mutation writes mutmut's settings itself)"
        )
    try:
        import mutmut  # noqa: F401
    except ImportError:
        raise EnvironmentProblem(
            "mutmut is not installed; install it with: pip install 'gateproof[mutation]'"
        ) from None
    print(
        f"gateproof bench mutation: {', '.join(t.name for t in targets)}; mutmut, one worker, "
        f"nice 10, {args.test_timeout:g}s per test (the figures of a shared machine vary)"
    )
    results = []
    for target in targets:
        try:
            results.append(campaign(target, root=root, test_timeout=args.test_timeout))
        except (CampaignError, subprocess.TimeoutExpired) as error:
            raise EnvironmentProblem(f"the campaign on {target.module} failed: {error}") from None
        print_result(results[-1])
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"min_score": args.min_score, "targets": [r.to_json() for r in results]}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {out}")
    low = [r.target for r in results if r.score < args.min_score]
    if low:
        print(f"below {args.min_score:g}%: {', '.join(low)}")
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mutation",
        help="mutation score of the pool and breaker suites (mutmut; long: minutes per target)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(TARGETS),
        help="a shipped target (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--with-unit-tests",
        action="store_true",
        help="add the reference's own unit tests to each shipped target's conformance suite",
    )
    parser.add_argument(
        "--module", metavar="FILE", help="mutate this module instead (a path from --root)"
    )
    parser.add_argument(
        "--tests", nargs="+", metavar="PATH", help="with --module: the tests to run"
    )
    parser.add_argument(
        "--root",
        default=str(ROOT),
        metavar="DIR",
        help="project root the paths are relative to (default: this checkout)",
    )
    parser.add_argument(
        "--json",
        default=str(DEFAULT_OUT),
        metavar="FILE",
        help=f"where to write the results (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        metavar="PERCENT",
        help=f"exit 1 when a target scores below this (default {DEFAULT_MIN_SCORE:g})",
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        default=DEFAULT_TEST_TIMEOUT,
        metavar="SECONDS",
        help=f"per-test timeout while mutants run (default {DEFAULT_TEST_TIMEOUT:g})",
    )
    parser.set_defaults(func=run)
