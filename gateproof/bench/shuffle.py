"""`gateproof bench shuffle`: how much schedule shuffling helps repeated runs catch races.

A deterministic asyncio test runs the same schedule every time on the default
loop, so repeating it 100 times explores one interleaving, 100 times. This
benchmark runs race-sensitive scenarios against the legacy pool (each is a
small program a stress test would contain, over a grid of pool sizes and
client counts) N times on the default loop and N times on a
:class:`~gateproof.testing.shuffle.ShuffledEventLoop` (seeds ``seed .. seed+N-1``),
and prints, per configuration and per scenario, how many runs caught a defect,
the first run that did, and the ratio. The same shuffled runs against the
reference pool are the control: they must all pass.
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
            harness.release(worker)
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
                harness.evict(worker)
            else:
                try:
                    harness.release(worker)
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
                harness.evict(alive[0])

    await asyncio.gather(checker(), *(client() for _ in range(clients)))


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


def shuffled_loops(seed: int, runs: int) -> Iterator[tuple[int, Callable[[], Any]]]:
    from gateproof.testing.shuffle import loop_factory

    for run in range(1, runs + 1):
        yield run, loop_factory(seed + run - 1)


def measure(
    factory: Any, scenario: Scenario, params: dict[str, Any], runs: int, seed: int
) -> tuple[Tally, Tally]:
    import asyncio

    plain, shuffled = Tally(), Tally()
    for run in range(1, runs + 1):
        plain.add(run, run_once(factory, scenario.program, params, asyncio.new_event_loop))
    for run, loop in shuffled_loops(seed, runs):
        shuffled.add(run, run_once(factory, scenario.program, params, loop))
    return plain, shuffled


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
    control = load_pool_factory(DEFAULT_POOL_IMPL)  # the reference pool: every run must pass
    runs, seed = args.runs, args.seed
    started = time.perf_counter()
    print(
        f"gateproof bench shuffle: {args.pool_impl}, {runs} plain and {runs} shuffled runs "
        f"per configuration (shuffle seeds {seed}..{seed + runs - 1})"
    )
    summary: list[tuple[str, int, int, int, int, int]] = []
    control_runs = control_failures = 0
    for scenario in SCENARIOS:
        print(f"\n{scenario.name}: {scenario.defect}")
        print(
            f"  {'configuration':<40} {'plain failed':>16} {'shuffled failed':>16}  "
            f"first failing run (plain / shuffled)"
        )
        results: list[tuple[Tally, Tally]] = []  # (plain, shuffled) per configuration
        for params in scenario.grid:
            plain, shuffled = measure(candidate, scenario, params, runs, seed)
            results.append((plain, shuffled))
            print(
                f"  {_label(params):<40} {_rate(len(plain.failures), runs):>16} "
                f"{_rate(len(shuffled.failures), runs):>16}  "
                f"{_first(plain)} / {_first(shuffled)}"
            )
            for _, loop in shuffled_loops(seed, runs):
                control_runs += 1
                control_failures += run_once(control, scenario.program, params, loop) is not None
        plain_total = sum(len(plain.failures) for plain, _ in results)
        shuffled_total = sum(len(shuffled.failures) for _, shuffled in results)
        plain_caught = sum(bool(plain.failures) for plain, _ in results)
        shuffled_caught = sum(bool(shuffled.failures) for _, shuffled in results)
        # shuffled first failures where plain never failed
        missed_by_plain = [shuffled.first for plain, shuffled in results if not plain.failures]
        signatures: Counter[str] = Counter()
        for plain, shuffled in results:
            signatures += plain.signatures + shuffled.signatures
        configs = len(scenario.grid)
        print(
            f"  caught in {plain_caught}/{configs} configurations by plain runs, "
            f"{shuffled_caught}/{configs} by shuffled runs"
        )
        if signatures:
            seen = signatures.most_common(3)
            print("  failures seen: " + "; ".join(f"{text} ({n})" for text, n in seen))
        caught = sorted(first for first in missed_by_plain if first is not None)
        if missed_by_plain:
            print(
                f"  where every plain run passed ({len(missed_by_plain)} configurations), "
                f"shuffled runs caught the defect in {len(caught)}"
                + (f", first failure by run {caught[-1]}" if caught else "")
            )
        summary.append(
            (scenario.name, configs, plain_caught, shuffled_caught, plain_total, shuffled_total)
        )

    print("\nsummary (per run: the chance that one run catches the defect)")
    print(
        f"  {'scenario':<24} {'configs caught plain/shuffled':>30} "
        f"{'plain per run':>14} {'shuffled per run':>17} {'ratio':>7}"
    )
    for name, configs, p_caught, s_caught, p_total, s_total in summary:
        p_rate = p_total / (configs * runs)
        s_rate = s_total / (configs * runs)
        ratio = f"{s_rate / p_rate:.1f}x" if p_rate else "inf"
        print(
            f"  {name:<24} {f'{p_caught}/{configs} vs {s_caught}/{configs}':>30} "
            f"{p_rate:>13.0%} {s_rate:>17.0%} {ratio:>7}"
        )
    print(
        f"\ncontrol: the reference pool failed {control_failures} of {control_runs} "
        f"shuffled runs of the same configurations"
    )
    print(f"wall time {time.perf_counter() - started:.1f}s")
    return 0 if control_failures == 0 else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shuffle",
        help="how many runs plain vs shuffled scheduling need to catch the legacy pool's races",
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
