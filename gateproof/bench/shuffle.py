"""`gateproof bench shuffle`: how much each schedule strategy helps repeated runs catch races.

A deterministic asyncio test runs the same schedule every time on the default
loop, so repeating it 100 times explores one interleaving, 100 times. This
benchmark runs race-sensitive scenarios against the legacy pool (each is a
small program a stress test would contain, over a grid of pool sizes and
client counts) N times on each loop: the default loop (*plain*), the shuffled
loop as it was (the whole ready queue shuffled: *before*), the shuffled loop
as it is (only independent batches reordered: *after*), and the controlled
loop on virtual time with PCT at depth 2 (*pct*) and 3 (*pct3*), with
random delays (*delay*) and with delays at hand-offs only (*handoff*); seeds
``seed .. seed+N-1``. It prints, per
configuration and per scenario, how many runs caught a defect, the detection
rate per run (also over the configurations where the defect can show at all,
and per run of the whole grid), and the wall time per run.

The controls are correct pools that must never fail: the reference pool, and a
pool on ``asyncio.Condition`` that is FIFO only because ``notify_all`` wakes
its waiters in order. The *before* loop reorders those wake-ups and fails it
(false positives); every other shuffling loop must fail neither control, or
the command exits 1.

Then the timing race of ``tests/foreign/timed_pool`` (a release landing
between a waiter's timeout and its clean-up, a race of depth 2) is run as its
own test ``--foreign-runs`` times under each loop, through pytest. Last, the
conformance suite itself (``tests/stress``) runs ``--suite-runs`` times against
the pool under each loop through ``gateproof stress``, and the benchmark counts
the single runs in which the test that stages each race failed: the measure
a user of the suite meets.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any

from gateproof.testing.pool_adapter import DEFAULT_POOL_IMPL

if TYPE_CHECKING:  # asyncio and the harness load when a run starts, not with the CLI
    from gateproof.testing.pool_harness import FakeWorker, PoolHarness

CANDIDATE = "reference.legacy.pool:LegacyPool"
CONDITION_POOL = "gateproof.bench._condition_pool:ConditionPool"
# default loop; whole queue shuffled; batches shuffled; then the controlled loop's strategies
LOOPS = ("plain", "before", "after", "pct", "pct3", "delay", "handoff")
STRATEGY_OF = {"pct": "pct:d=2", "pct3": "pct:d=3", "delay": "random-delay", "handoff": "handoff"}
CHECKED = ("after", "pct", "pct3", "delay", "handoff")  # loops that must never fail a correct pool
REALISTIC = ("plain", *CHECKED)  # loops whose schedules a real loop can produce
RUN_TIMEOUT = 0.5  # seconds; a run still going then has lost a wake-up
Program = Callable[..., Awaitable[None]]


# -- the scenarios -------------------------------------------------------------


async def calling_again(harness: PoolHarness, clients: int, calls: int) -> None:
    """Clients that call again right after a release (the acquire race of Phase 0.1)."""
    import asyncio

    async def client() -> None:
        for _ in range(calls):
            worker = await harness.acquire()
            await asyncio.sleep(0)  # the call
            await harness.release(worker)
            await asyncio.sleep(0)  # think time

    await asyncio.gather(*(client() for _ in range(clients)))


async def health_checked(
    harness: PoolHarness, clients: int, calls: int, every: int, careful: bool
) -> None:
    """Clients under load while a health checker evicts the oldest worker now and then.

    A careful client evicts a worker it finds dead instead of releasing it; a
    careless one releases it anyway (the pool must refuse that).
    """
    import asyncio

    dead: set[FakeWorker] = set()

    async def client() -> None:
        for _ in range(calls):
            worker = await harness.acquire()
            await asyncio.sleep(0)
            if careful and worker in dead:
                await harness.evict(worker)
            else:
                try:
                    await harness.release(worker)
                except ValueError:
                    pass  # refused: the checker evicted it meanwhile, as it should be
            await asyncio.sleep(0)

    async def checker() -> None:
        for _ in range(3):
            for _ in range(every):
                await asyncio.sleep(0)
            alive = harness.alive()
            if alive:
                dead.add(alive[0])
                await harness.evict(alive[0])

    await asyncio.gather(checker(), *(client() for _ in range(clients)))


async def waiting_in_line(harness: PoolHarness, waiters: int, newcomers: int) -> None:
    """Callers queue behind a checked-out worker; newcomers arrive as it is released.

    Each must be served in the order it called acquire; a pool that lets a
    newcomer or a later waiter take the released worker first breaks FIFO.
    """
    import asyncio

    from gateproof.testing.pool_harness import ContractViolation

    arrived: list[int] = []
    served: list[int] = []

    async def caller(number: int) -> None:
        arrived.append(number)
        worker = await harness.acquire()
        served.append(number)
        await asyncio.sleep(0)
        await harness.release(worker)

    async def newcomer(number: int, ticks: int) -> None:
        for _ in range(ticks):  # busy elsewhere: arrives about when the worker is released
            await asyncio.sleep(0)
        await caller(number)

    held = await harness.acquire()
    tasks = [asyncio.create_task(caller(number)) for number in range(waiters)]
    tasks += [asyncio.create_task(newcomer(waiters + n, 4 + n)) for n in range(newcomers)]
    for _ in range(4):
        await asyncio.sleep(0)
    await harness.release(held)
    await asyncio.gather(*tasks)
    if served != arrived:
        raise ContractViolation("FIFO broken: callers were not served in arrival order")


@dataclass(frozen=True)
class Scenario:
    name: str
    defect: str
    program: Program
    grid: list[dict[str, Any]]


def _grid(**axes: Any) -> list[dict[str, Any]]:
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in product(*axes.values())]


SCENARIOS = [
    Scenario(
        "acquire race",
        "a caller arriving after a release takes the head waiter's worker",
        calling_again,
        _grid(max_capacity=[1, 2, 3], clients=[2, 3, 4, 6], calls=[3]),
    ),
    Scenario(
        "idle eviction",
        "an evicted idle worker is handed out again",
        health_checked,
        _grid(max_capacity=[2, 3], clients=[3, 5], calls=[4], every=[1, 2, 3, 5], careful=[True]),
    ),
    Scenario(
        "fifo order",
        "a newcomer or a later waiter takes the worker released for the head waiter",
        waiting_in_line,
        _grid(max_capacity=[1], waiters=[2, 3, 4, 6], newcomers=[0, 1, 2]),
    ),
    Scenario(
        "release after eviction",
        "a careless release of an evicted worker is taken back and the worker handed out again",
        health_checked,
        _grid(max_capacity=[2, 3], clients=[3, 5], calls=[4], every=[1, 2, 3, 5], careful=[False]),
    ),
]


# -- running ---------------------------------------------------------------------


def run_once(
    factory: Any, program: Program, params: dict[str, Any], loop_factory: Callable[[], Any]
) -> str | None:
    """One run on a fresh pool and loop; the failure's signature, or None if it passed."""
    import asyncio

    from gateproof.testing.pool_harness import ContractViolation, PoolHarness
    from reference.gateway.models.scaling import ScalingConfig  # pydantic: not at CLI start-up

    params = dict(params)
    config = {"max_capacity": params.pop("max_capacity"), "acquire_timeout": RUN_TIMEOUT * 2}

    async def main() -> None:
        # a failed run leaves sibling tasks with exceptions nobody reads: not news here
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
        harness = PoolHarness(factory, ScalingConfig(**config))
        try:
            async with asyncio.timeout(RUN_TIMEOUT):
                await program(harness, **params)
        finally:
            await harness.pool.drain()

    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    except ContractViolation as violation:
        return str(violation).split(":")[0].split(" after ")[0]  # the defect, not the step
    except TimeoutError:
        return "hung: a waiter was never woken"
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@dataclass
class Tally:
    """Outcomes of N runs of one configuration on one kind of loop."""

    failures: list[int] = field(default_factory=list)  # 1-based run numbers that failed
    signatures: Counter[str] = field(default_factory=Counter)

    def add(self, run: int, signature: str | None) -> None:
        if signature is not None:
            self.failures.append(run)
            self.signatures[signature] += 1

    @property
    def first(self) -> int | None:
        return self.failures[0] if self.failures else None


def loops(
    kind: str, seed: int, runs: int, k: int | None = None
) -> Iterator[tuple[int, Callable[[], Any]]]:
    """Run numbers with their loop factories, one of :data:`LOOPS`.

    ``k``: the PCT step window (default: the strategy's own).
    """
    import asyncio

    from gateproof.testing.controlled_loop import controlled_loop_factory
    from gateproof.testing.shuffle import loop_factory

    spec = STRATEGY_OF.get(kind)
    if spec is not None and spec.startswith("pct") and k is not None:
        spec += f",k={k}"
    for run in range(1, runs + 1):
        if kind == "plain":
            yield run, asyncio.new_event_loop
        elif spec is not None:
            yield run, controlled_loop_factory(spec, seed + run - 1)
        else:
            yield run, loop_factory(seed + run - 1, keep_batches=kind == "after")


def measure(
    factory: Any, scenario: Scenario, params: dict[str, Any], runs: int, seed: int, k: int | None
) -> tuple[dict[str, Tally], dict[str, float]]:
    """One configuration on every kind of loop; the tallies and the wall seconds per kind."""
    tallies = {kind: Tally() for kind in LOOPS}
    seconds = dict.fromkeys(LOOPS, 0.0)
    for kind, tally in tallies.items():
        started = time.perf_counter()
        for run, loop in loops(kind, seed, runs, k):
            tally.add(run, run_once(factory, scenario.program, params, loop))
        seconds[kind] = time.perf_counter() - started
    return tallies, seconds


# -- output ------------------------------------------------------------------------


def _label(params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if k not in ("careful", "calls")}
    return " ".join(f"{key}={value}" for key, value in shown.items())


def _rate(failed: int, runs: int) -> str:
    return f"{failed}/{runs} ({100 * failed / runs:.0f}%)"


def run(args: argparse.Namespace) -> int:
    from gateproof.cli import UsageError
    from gateproof.testing.pool_adapter import load_pool_factory

    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    try:
        candidate = load_pool_factory(args.pool_impl)
    except ValueError as error:
        raise UsageError(str(error)) from None
    controls = {  # correct pools: every run must pass
        "reference pool": load_pool_factory(DEFAULT_POOL_IMPL),
        "Condition pool": load_pool_factory(CONDITION_POOL),
    }
    runs, seed, k = args.runs, args.seed, args.k
    started = time.perf_counter()
    print(
        f"gateproof bench shuffle: {args.pool_impl}, {runs} runs per configuration on each "
        f"loop: plain; before (whole queue shuffled); after (independent batches shuffled); "
        f"the controlled loop on virtual time with pct (d=2), pct3 (d=3), delay "
        f"(random-delay) and handoff; seeds {seed}..{seed + runs - 1}"
        + (f"; PCT step window k={k}" if k else "")
    )
    header = "  ".join(f"{kind:>8}" for kind in LOOPS)
    summary: list[tuple[str, int, dict[str, int], dict[str, int], dict[str, int]]] = []
    seconds = dict.fromkeys(LOOPS, 0.0)
    false: dict[str, dict[str, int]] = {name: dict.fromkeys(LOOPS, 0) for name in controls}
    control_runs = 0
    feasibles: dict[str, int] = {}
    for scenario in SCENARIOS:
        print(f"\n{scenario.name}: {scenario.defect}")
        print(f"  {'configuration (failed runs of ' + str(runs) + ')':<36} {header}")
        failed = dict.fromkeys(LOOPS, 0)
        # over configurations where a loop that keeps to real schedules caught it (not "before")
        feasible_failed = dict.fromkeys(LOOPS, 0)
        grid_runs: dict[str, set[int]] = {kind: set() for kind in LOOPS}
        feasible = 0
        signatures: Counter[str] = Counter()
        for params in scenario.grid:
            tallies, took = measure(candidate, scenario, params, runs, seed, k)
            if any(tallies[kind].failures for kind in REALISTIC):
                feasible += 1
                for kind, tally in tallies.items():
                    feasible_failed[kind] += len(tally.failures)
            for kind, tally in tallies.items():
                grid_runs[kind].update(tally.failures)
            print(
                f"  {_label(params):<36} "
                + "  ".join(f"{len(tallies[kind].failures):>8}" for kind in LOOPS)
            )
            for kind, tally in tallies.items():
                failed[kind] += len(tally.failures)
                signatures += tally.signatures
                seconds[kind] += took[kind]
            control_runs += runs
            for name, factory in controls.items():
                for kind in ("before", *CHECKED):
                    for _, loop in loops(kind, seed, runs, k):
                        false[name][kind] += (
                            run_once(factory, scenario.program, params, loop) is not None
                        )
        if signatures:
            seen = signatures.most_common(3)
            print("  failures seen: " + "; ".join(f"{text} ({n})" for text, n in seen))
        grid = {kind: len(runs_caught) for kind, runs_caught in grid_runs.items()}
        summary.append((scenario.name, len(scenario.grid), failed, grid, feasible_failed))
        print(
            f"  the defect can show in {feasible} of {len(scenario.grid)} configurations "
            f"(a loop other than 'before' caught it)"
        )
        feasibles[scenario.name] = feasible

    total_runs = sum(configs for _, configs, *_ in summary) * runs
    print(
        "\nsummary (detection rate per run: the chance that one run of a configuration catches "
        "the defect; over the configurations where a realistic loop ever caught it; and per run "
        "of the whole grid, as one run of a suite holding every configuration)"
    )
    print(f"  {'scenario':<24} {header}")
    for name, configs, failed, grid, feasible_failed in summary:
        print(
            f"  {name:<24} "
            + "  ".join(f"{failed[kind] / (configs * runs):>8.0%}" for kind in LOOPS)
        )
        if feasibles[name]:
            print(
                f"  {'  where it can show':<24} "
                + "  ".join(
                    f"{feasible_failed[kind] / (feasibles[name] * runs):>8.0%}" for kind in LOOPS
                )
            )
        print(f"  {'  per grid run':<24} " + "  ".join(f"{grid[k] / runs:>8.0%}" for k in LOOPS))
    print(
        f"  {'wall ms per run':<24} "
        + "  ".join(f"{1000 * seconds[kind] / total_runs:>8.2f}" for kind in LOOPS)
    )
    print("\ncontrols (false failures: correct pools failed)")
    for name, counts in false.items():
        print(
            f"  {name}: "
            + ", ".join(f"{kind} {counts[kind]} of {control_runs}" for kind in ("before", *CHECKED))
        )
    _foreign_race(args.foreign_runs, seed)
    _suite_detection(args.suite_runs, seed, args.pool_impl)
    if args.suite_runs > 0:
        _suite_wall_time(args.suite_runs, seed)
    print(f"wall time {time.perf_counter() - started:.1f}s")
    return 0 if all(counts[kind] == 0 for counts in false.values() for kind in CHECKED) else 1


FOREIGN_RACE = "tests/foreign/timed_pool/tests/test_pool_timeouts.py"
FOREIGN_LOOPS = {
    "plain": ["--explore", "plain"],
    "after": ["--shuffle-loop"],
    "pct": ["--explore", "pct:d=2"],
    "pct3": ["--explore", "pct:d=3"],
    "delay": ["--explore", "random-delay"],
    "handoff": ["--explore", "handoff"],
}


def _foreign_race(runs: int, seed: int) -> None:
    """coldpool's timeout race (depth 2), run as its own test under each loop, ``runs`` times."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    if runs < 1:
        return
    if not Path(FOREIGN_RACE).exists():
        print(f"\nforeign timing race: {FOREIGN_RACE} not found (run from the repository root)")
        return
    print(
        f"\nforeign timing race ({FOREIGN_RACE}: a release landing between a waiter's "
        f"timeout and its clean-up), {runs} runs of the test per loop, seed {seed}"
    )
    for kind, options in FOREIGN_LOOPS.items():
        command = [
            sys.executable,
            "-m",
            "pytest",
            FOREIGN_RACE,
            f"--count={runs}",
            "-q",
            "--tb=no",
            "-p",
            "no:cacheprovider",
            # plugins the run does not use; schemathesis imports modules at session end,
            # which Python 3.11.7's ast can crash on after many failed runs
            "-p",
            "no:schemathesis",
            "-p",
            "no:locust",
            *options,
            f"--shuffle-seed={seed}",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        took = time.perf_counter() - started
        found = re.search(r"(\d+) failed", done.stdout)
        if found is None and not re.search(r"\d+ passed", done.stdout):
            print(f"  {kind:<8} pytest did not finish (exit {done.returncode})")
            continue
        failed = int(found.group(1)) if found else 0
        print(
            f"  {kind:<8} caught in {_rate(failed, runs):>14} of single runs; "
            f"{1000 * took / runs:.1f} ms per run (pytest start-up included)"
        )


SUITE = "tests/stress"
# the conformance tests that stage each legacy race (tests/stress/, node ids without the path)
RACE_TESTS = {
    "acquire race": [
        "test_pool_concurrency.py::test_clients_calling_again_after_a_release_never_starve_the_waiters",
    ],
    "idle eviction": [
        "test_pool_eviction.py::test_an_evicted_idle_worker_is_never_handed_out_again"
    ],
    "fifo order": [
        "test_pool_fifo.py::test_a_caller_arriving_right_after_a_release_queues_behind_the_waiter",
    ],
    "release after eviction": [
        "test_pool_release.py::test_releasing_an_evicted_worker_is_refused_and_keeps_the_pool_within_capacity",
        "test_pool_release.py::test_releasing_an_idle_worker_after_its_eviction_is_refused",
    ],
}
SUITE_LOOPS = {**FOREIGN_LOOPS, "after": []}  # "after" is gateproof stress's default loop


def race_caught(report: dict[str, Any], race: str) -> int:
    """In how many repetitions of a stress report a test staging ``race`` failed.

    Exact for one test; for several, the larger of any one test's count and
    the union of the repetitions the report lists (it keeps the first 20 per test).
    """
    wanted = {f"{SUITE}/{nodeid}" for nodeid in RACE_TESTS[race]}
    listed: set[int] = set()
    most = 0
    for test in report["tests"]:
        if test["nodeid"] in wanted:
            listed.update(run["repetition"] for run in test.get("failed_runs", []))
            most = max(most, test["failed"] + test["errors"])
    return max(most, len(listed))


def _suite_detection(runs: int, seed: int, pool_impl: str, loops: list[str] | None = None) -> None:
    """Single runs of the conformance suite itself against the pool, under each loop."""
    from pathlib import Path

    if runs < 1:
        return
    if not Path(SUITE).is_dir():
        print(f"\nconformance suite: {SUITE} not found (run from the repository root)")
        return
    print(
        f"\nconformance suite ({SUITE}, {runs} single runs per loop via gateproof stress, "
        f"seed {seed}): runs in which each race's test failed"
    )
    print(f"  {'loop':<8} " + "  ".join(f"{race:>22}" for race in RACE_TESTS) + "  s per run")
    for kind in loops or list(SUITE_LOOPS):
        report, took = _stress(runs, seed, pool_impl, SUITE_LOOPS[kind])
        if report is None:
            print(f"  {kind:<8} gateproof stress wrote no report")
            continue
        print(
            f"  {kind:<8} "
            + "  ".join(f"{_rate(race_caught(report, r), runs):>22}" for r in RACE_TESTS)
            + f"  {took / runs:.2f}"
        )


def _stress(
    runs: int, seed: int, pool_impl: str, options: list[str]
) -> tuple[dict[str, Any] | None, float]:
    """One ``gateproof stress`` of the suite: its report (None if it wrote none) and wall time."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="gateproof-suite-") as out:
        command = [
            sys.executable, "-m", "gateproof", "stress", SUITE, f"--count={runs}",
            f"--seed={seed}", "--out", out, "--no-progress", *options,
            "--", f"--pool-impl={pool_impl}",
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        took = time.perf_counter() - started
        report_file = Path(out) / "flakiness.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else None
    return report, took


def _suite_wall_time(runs: int, seed: int) -> None:
    """The suite on the reference pool: the default loop, then the shuffled one on a real clock."""
    took = {}
    for kind, options in (("default", []), ("real clock", ["--real-time"])):
        report, took[kind] = _stress(runs, seed, DEFAULT_POOL_IMPL, options)
        if report is None or report["totals"]["failed"] or report["totals"]["errors"]:
            print(f"  the suite on the reference pool did not pass under the {kind} loop")
            return
    print(
        f"\nthe suite x{runs} on the reference pool, wall time (pytest start-up included): "
        f"default loop (shuffled, virtual time) {took['default']:.2f} s; the shuffled loop on "
        f"the real clock (the default before virtual time) {took['real clock']:.2f} s: "
        f"{took['default'] / took['real clock']:.2f}x (target <= 1.5x)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shuffle",
        help="detection rate per run of the legacy pool's races: plain vs shuffled loops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--runs", type=int, default=50, help="runs per configuration and loop (default 50)"
    )
    parser.add_argument("--seed", type=int, default=0, help="first shuffle seed (default 0)")
    parser.add_argument(
        "--foreign-runs",
        type=int,
        default=200,
        metavar="N",
        help="runs of the foreign pool's timing race per loop (default 200; 0 skips it)",
    )
    parser.add_argument(
        "--suite-runs",
        type=int,
        default=20,
        metavar="N",
        help="single runs of the conformance suite per loop (default 20; 0 skips it)",
    )
    parser.add_argument(
        "--k",
        type=int,
        default=None,
        metavar="STEPS",
        help="PCT's step window (default: the strategy's own, 60)",
    )
    parser.add_argument(
        "--pool-impl",
        default=CANDIDATE,
        metavar="MODULE:FACTORY",
        help=f"pool to hunt defects in (default {CANDIDATE})",
    )
    parser.set_defaults(func=run)
