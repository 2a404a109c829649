"""`gateproof bench shuffle`: how much schedule shuffling helps repeated runs catch races.

A deterministic asyncio test runs the same schedule every time on the default
loop, so repeating it 100 times explores one interleaving, 100 times. This
benchmark runs race-sensitive scenarios against the legacy pool (each is a
small program a stress test would contain, over a grid of pool sizes and
client counts) N times on each of three loops: the default loop, the
shuffled loop as it was (the whole ready queue shuffled: *before*), and the
shuffled loop as it is (only independent batches reordered: *after*; seeds
``seed .. seed+N-1`` for both). It prints, per configuration and per
scenario, how many runs caught a defect and the detection rate per run.

The controls are correct pools that must never fail: the reference pool, and a
pool on ``asyncio.Condition`` that is FIFO only because ``notify_all`` wakes
its waiters in order. The *before* loop reorders those wake-ups and fails it
(false positives); the *after* loop must fail neither control, or the command
exits 1.
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
LOOPS = ("plain", "before", "after")  # default loop; whole queue shuffled; batches shuffled
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


def loops(kind: str, seed: int, runs: int) -> Iterator[tuple[int, Callable[[], Any]]]:
    """Run numbers with their loop factories: ``plain``, ``before`` or ``after``."""
    import asyncio

    from gateproof.testing.shuffle import loop_factory

    for run in range(1, runs + 1):
        if kind == "plain":
            yield run, asyncio.new_event_loop
        else:
            yield run, loop_factory(seed + run - 1, keep_batches=kind == "after")


def measure(
    factory: Any, scenario: Scenario, params: dict[str, Any], runs: int, seed: int
) -> dict[str, Tally]:
    """One configuration on every kind of loop."""
    tallies = {kind: Tally() for kind in LOOPS}
    for kind, tally in tallies.items():
        for run, loop in loops(kind, seed, runs):
            tally.add(run, run_once(factory, scenario.program, params, loop))
    return tallies


# -- output ------------------------------------------------------------------------


def _label(params: dict[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if k not in ("careful", "calls")}
    return " ".join(f"{key}={value}" for key, value in shown.items())


def _first(tally: Tally) -> str:
    return str(tally.first) if tally.first is not None else "-"


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
    runs, seed = args.runs, args.seed
    started = time.perf_counter()
    print(
        f"gateproof bench shuffle: {args.pool_impl}, {runs} runs per configuration on each "
        f"loop: plain, before (whole queue shuffled), after (independent batches shuffled); "
        f"shuffle seeds {seed}..{seed + runs - 1}"
    )
    summary: list[tuple[str, int, dict[str, int], dict[str, int]]] = []
    false: dict[str, dict[str, int]] = {name: dict.fromkeys(LOOPS, 0) for name in controls}
    control_runs = 0
    for scenario in SCENARIOS:
        print(f"\n{scenario.name}: {scenario.defect}")
        print(
            f"  {'configuration':<36} {'plain failed':>14} {'before failed':>14} "
            f"{'after failed':>14}  first failing run (plain / before / after)"
        )
        caught = dict.fromkeys(LOOPS, 0)
        failed = dict.fromkeys(LOOPS, 0)
        signatures: Counter[str] = Counter()
        for params in scenario.grid:
            tallies = measure(candidate, scenario, params, runs, seed)
            print(
                f"  {_label(params):<36} "
                + " ".join(f"{_rate(len(tallies[k].failures), runs):>14}" for k in LOOPS)
                + "  "
                + " / ".join(_first(tallies[k]) for k in LOOPS)
            )
            for kind, tally in tallies.items():
                caught[kind] += bool(tally.failures)
                failed[kind] += len(tally.failures)
                signatures += tally.signatures
            control_runs += runs
            for name, factory in controls.items():
                for kind in ("before", "after"):
                    for _, loop in loops(kind, seed, runs):
                        false[name][kind] += (
                            run_once(factory, scenario.program, params, loop) is not None
                        )
        configs = len(scenario.grid)
        print(
            "  caught in " + ", ".join(f"{caught[k]}/{configs} configurations {k}" for k in LOOPS)
        )
        if signatures:
            seen = signatures.most_common(3)
            print("  failures seen: " + "; ".join(f"{text} ({n})" for text, n in seen))
        summary.append((scenario.name, configs, caught, failed))

    print("\nsummary (detection rate per run: the chance that one run catches the defect)")
    print(
        f"  {'scenario':<24} {'plain':>8} {'before':>8} {'after':>8} "
        f"{'after/plain':>12} {'after/before':>13}"
    )
    for name, configs, _, failed in summary:
        rate = {kind: failed[kind] / (configs * runs) for kind in LOOPS}
        print(
            f"  {name:<24} "
            + " ".join(f"{rate[k]:>8.0%}" for k in LOOPS)
            + f" {_ratio(rate['after'], rate['plain']):>12} "
            + f"{_ratio(rate['after'], rate['before']):>13}"
        )
    print("\ncontrols (false positives: correct pools failed)")
    for name, counts in false.items():
        print(
            f"  {name}: before failed {counts['before']} of {control_runs} runs, "
            f"after failed {counts['after']} of {control_runs}"
        )
    print(f"wall time {time.perf_counter() - started:.1f}s")
    return 0 if all(counts["after"] == 0 for counts in false.values()) else 1


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator else "inf"


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
        "--pool-impl",
        default=CANDIDATE,
        metavar="MODULE:FACTORY",
        help=f"pool to hunt defects in (default {CANDIDATE})",
    )
    parser.set_defaults(func=run)
