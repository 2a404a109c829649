"""`gateproof bench pool`: what the reference pool's guarantees cost over a bare semaphore.

The reference :class:`ContainerPool` buys strict FIFO hand-off, eviction,
timeouts that cover cold starts and a ledger of every worker. The cheapest
pool that still bounds concurrency is an ``asyncio.Semaphore`` guarding a
``deque`` of workers; it is the baseline. Both run the same loop in one
process, with plain objects as workers and the same capacity, so that at 100
tasks on 10 workers most acquires wait: that is where the pool's bookkeeping
shows. Each figure is the median of several runs, reference and baseline
alternating so that load from elsewhere on the machine hits both alike.

``--stress`` also times ``gateproof stress tests/stress --count 100``, the
Phase 0 gate, against its wall-time target (shuffled, the default), and beside
it the same run with ``--no-shuffle``, to show what shuffling costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK, UsageError

CONCURRENCY = (1, 10, 100)
CAPACITY = 10
TARGET_RATIO = 1.5  # the reference pool may cost at most 1.5x the baseline at 100 tasks
STRESS_TARGET_SECONDS = 60.0
STRESS_TIMEOUT_SECONDS = 1800.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pool",
        help="reference ContainerPool vs asyncio.Semaphore + deque: acquire+release pairs/s",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pairs", type=int, default=20_000, help="acquire+release pairs per run (default: 20000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per figure; the median is shown (default: 5)"
    )
    parser.add_argument(
        "--capacity", type=int, default=CAPACITY, help=f"max_capacity (default: {CAPACITY})"
    )
    parser.add_argument(
        "--pool-impl",
        default=None,
        metavar="MODULE:FACTORY",
        help="measure another pool built by the conformance suite's adapter contract "
        "(default: the reference ContainerPool); see docs/pool-adapter.md",
    )
    parser.add_argument(
        "--stress",
        action="store_true",
        help="also time `gateproof stress STRESS_PATH --count 100` (target: under 60 s)",
    )
    parser.add_argument(
        "--stress-path", default="tests/stress", help="suite for --stress (default: tests/stress)"
    )
    parser.add_argument(
        "--stress-count", type=int, default=100, help="--count for --stress (default: 100)"
    )
    parser.set_defaults(func=run)


class SemaphorePool:
    """The baseline: a semaphore bounds the holders, a deque holds the free workers."""

    def __init__(self, capacity: int) -> None:
        import asyncio

        self._slots = asyncio.Semaphore(capacity)
        self._free: deque[object] = deque(object() for _ in range(capacity))

    async def acquire(self) -> object:
        await self._slots.acquire()
        return self._free.pop()

    def release(self, worker: object) -> None:
        self._free.append(worker)
        self._slots.release()


async def pairs_per_second(
    acquire: Callable[[], Awaitable[object]],
    release: Callable[[object], None],
    tasks: int,
    pairs: int,
) -> float:
    """Acquire+release pairs per second with ``tasks`` tasks sharing ``pairs`` between them.

    Each task yields once while it holds a worker, as a real invocation would,
    so that the other tasks queue for it.
    """
    import asyncio

    per_task = max(1, pairs // tasks)

    async def user() -> None:
        for _ in range(per_task):
            worker = await acquire()
            await asyncio.sleep(0)
            release(worker)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(tasks)))
    return per_task * tasks / (time.perf_counter() - started)


def measure_reference(tasks: int, pairs: int, capacity: int, pool_impl: str | None = None) -> float:
    """One run against the reference pool (or ``pool_impl``), warmed to capacity first."""
    import asyncio

    from gateproof.testing.pool_adapter import DEFAULT_POOL_IMPL, load_pool_factory
    from reference.gateway.models.scaling import ScalingConfig

    factory = load_pool_factory(pool_impl or DEFAULT_POOL_IMPL)

    async def provision() -> object:
        return object()

    async def bench() -> float:
        config = ScalingConfig(max_capacity=capacity, min_capacity=capacity, acquire_timeout=600.0)
        pool = factory("bench", config, provision, clock=time.monotonic)
        if hasattr(pool, "start"):
            await pool.start()
        rate = await pairs_per_second(pool.acquire, pool.release, tasks, pairs)
        await pool.drain()
        return rate

    return asyncio.run(bench())


def measure_baseline(tasks: int, pairs: int, capacity: int) -> float:
    """One run against the semaphore + deque baseline."""
    import asyncio

    async def bench() -> float:
        pool = SemaphorePool(capacity)
        return await pairs_per_second(pool.acquire, pool.release, tasks, pairs)

    return asyncio.run(bench())


def compare(
    tasks: int, pairs: int, capacity: int, repeat: int, pool_impl: str | None = None
) -> tuple[float, float]:
    """Median pairs/s of the reference pool and of the baseline, runs interleaved."""
    reference, baseline = [], []
    for _ in range(repeat):
        reference.append(measure_reference(tasks, pairs, capacity, pool_impl))
        baseline.append(measure_baseline(tasks, pairs, capacity))
    return statistics.median(reference), statistics.median(baseline)


def time_stress(path: str, count: int, *options: str) -> tuple[float, str]:
    """Wall time of one `gateproof stress` run (with ``options``) and its verdict."""
    if not Path(path).exists():
        raise UsageError(
            f"{path!r} does not exist; run from the repository root or pass --stress-path"
        )
    with tempfile.TemporaryDirectory(prefix="gateproof-bench-") as out:
        command = [sys.executable, "-m", "gateproof", "stress", path]
        command += ["--count", str(count), "--out", out, "--no-progress", *options]
        started = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, timeout=STRESS_TIMEOUT_SECONDS, check=False
        )
        wall = time.perf_counter() - started
        report = Path(out) / "flakiness.json"
        verdict = json.loads(report.read_text())["verdict"] if report.exists() else "no report"
    return wall, verdict


def run(args: argparse.Namespace) -> int:
    if args.pairs < 100 or args.repeat < 1 or args.capacity < 1:
        raise UsageError("--pairs must be at least 100, --repeat and --capacity at least 1")
    if args.pool_impl is not None:
        from gateproof.testing.pool_adapter import load_pool_factory

        try:
            load_pool_factory(args.pool_impl)
        except ValueError as error:
            raise UsageError(str(error)) from None
    candidate = args.pool_impl or "reference pool"
    width = max(15, len(candidate))
    print(
        f"pool: acquire+release pairs per second, median of {args.repeat} runs of "
        f"{args.pairs} pairs, max_capacity {args.capacity}, workers are plain objects"
    )
    print(f"{'tasks':>6}  {candidate:>{width}}  {'semaphore+deque':>15}  {'cost ratio':>10}")
    ok = True
    for tasks in CONCURRENCY:
        reference, baseline = compare(tasks, args.pairs, args.capacity, args.repeat, args.pool_impl)
        ratio = baseline / reference
        line = f"{tasks:>6}  {reference:>{width},.0f}  {baseline:>15,.0f}  {ratio:>9.2f}x"
        if tasks == max(CONCURRENCY):
            passed = ratio <= TARGET_RATIO
            ok &= passed
            line += f"  target <= {TARGET_RATIO}x: {'PASS' if passed else 'FAIL'}"
        print(line, flush=True)
    if args.stress:
        wall, verdict = time_stress(args.stress_path, args.stress_count)
        passed = wall < STRESS_TARGET_SECONDS
        ok &= passed
        print(
            f"stress {args.stress_path} --count {args.stress_count}: {wall:.1f} s wall "
            f"(target < {STRESS_TARGET_SECONDS:g} s: {'PASS' if passed else 'FAIL'})"
        )
        print(f"  {verdict}")
        plain, _ = time_stress(args.stress_path, args.stress_count, "--no-shuffle")
        print(
            f"  the shuffled loop (the default) costs {wall / plain:.2f}x the wall time of "
            f"--no-shuffle ({plain:.1f} s)"
        )
    return EXIT_OK if ok else EXIT_FAILED
