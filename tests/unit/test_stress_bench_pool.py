"""`gateproof bench pool`: both pools do the same work, and the command prints every figure."""

import asyncio
import itertools
import re
import time
import types

import pytest

from gateproof.bench import pool as bench_pool
from gateproof.bench.pool import (
    CONCURRENCY,
    SemaphorePool,
    measure_baseline,
    measure_reference,
    pairs_per_second,
)
from gateproof.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main


async def test_the_baseline_never_hands_out_more_workers_than_its_capacity():
    pool = SemaphorePool(3)
    holders = set()
    most = 0

    async def user():
        nonlocal most
        for _ in range(20):
            worker = await pool.acquire()
            assert worker not in holders  # a worker is held by one task at a time
            holders.add(worker)
            most = max(most, len(holders))
            await asyncio.sleep(0)
            holders.discard(worker)
            pool.release(worker)

    await asyncio.gather(*(user() for _ in range(10)))
    assert most == 3


@pytest.fixture
def one_second_per_run(monkeypatch):
    """The benchmark's perf_counter moves one second per reading: a run's rate is its pair count.

    So a rate says how many pairs the run completed, whatever the machine's speed.
    """
    readings = itertools.count()
    clock = types.SimpleNamespace(
        perf_counter=lambda: float(next(readings)), monotonic=time.monotonic
    )
    monkeypatch.setattr(bench_pool, "time", clock)


async def test_every_pair_is_one_acquire_and_one_release(one_second_per_run):
    pool = SemaphorePool(2)
    calls = {"acquire": 0, "release": 0}

    async def acquire():
        calls["acquire"] += 1
        return await pool.acquire()

    def release(worker):
        calls["release"] += 1
        pool.release(worker)

    rate = await pairs_per_second(acquire, release, tasks=10, pairs=500)
    assert calls == {"acquire": 500, "release": 500}
    assert rate == 500.0  # pairs over the run's time: one second on this clock


@pytest.mark.parametrize("tasks", CONCURRENCY)
def test_both_pools_complete_every_pair_at_every_concurrency(tasks, one_second_per_run):
    done = (200 // tasks) * tasks  # the pairs shared out evenly between the tasks
    assert measure_reference(tasks, 200, 10) == done
    assert measure_baseline(tasks, 200, 10) == done


def test_the_command_prints_both_figures_and_the_ratio_for_each_concurrency(capsys):
    status = main(["bench", "pool", "--pairs", "300", "--repeat", "1"])
    out = capsys.readouterr().out
    rows = {
        int(match[1]): match
        for match in re.finditer(
            r"^\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)x(.*)$", out, flags=re.MULTILINE
        )
    }
    assert sorted(rows) == list(CONCURRENCY)
    verdict = rows[100][5]
    assert re.fullmatch(r"\s+target <= 1.5x: (PASS|FAIL)", verdict)
    assert status == (EXIT_OK if verdict.endswith("PASS") else EXIT_FAILED)


def test_nonsense_sizes_are_refused(capsys):
    assert main(["bench", "pool", "--pairs", "5"]) == EXIT_USAGE
    assert "--pairs must be at least 100" in capsys.readouterr().err


def test_timing_the_stress_suite_needs_the_suite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["bench", "pool", "--pairs", "100", "--repeat", "1", "--stress"]
    assert main([*argv, "--stress-path", "no/such/suite"]) == EXIT_USAGE
    assert "'no/such/suite' does not exist" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_stress_line_reports_the_wall_time_and_the_verdict(tmp_path, monkeypatch, capsys):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_quick.py").write_text("def test_quick():\n    assert True\n")
    monkeypatch.chdir(tmp_path)
    argv = ["bench", "pool", "--pairs", "100", "--repeat", "1", "--stress"]
    main([*argv, "--stress-path", "suite", "--stress-count", "2"])
    out = capsys.readouterr().out
    match = re.search(
        r"^stress suite --count 2: ([\d.]+) s wall \(target < 60 s: (PASS|FAIL)\)$",
        out,
        flags=re.MULTILINE,
    )
    assert match, out
    assert float(match[1]) > 0
    assert "  PASSED: every test passed 2 consecutive runs" in out
    assert re.search(
        r"shuffled loop \(the default\) costs [\d.]+x the wall time of --no-shuffle", out
    )


def test_another_pool_is_measured_through_the_adapter_contract(capsys):
    spec = "reference.gateway.services.pool:ContainerPool"
    main(["bench", "pool", "--pairs", "200", "--repeat", "1", "--pool-impl", spec])
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["tasks", spec, "semaphore+deque", "cost", "ratio"]
    rows = re.findall(r"^\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)x", out, flags=re.MULTILINE)
    assert [int(row[0]) for row in rows] == list(CONCURRENCY)
    for _, named, baseline, _ in rows:  # each a measured rate of the named pool and baseline
        assert int(named.replace(",", "")) > 0 and int(baseline.replace(",", "")) > 0


def test_a_pool_that_cannot_be_imported_is_a_usage_error(capsys):
    argv = ["bench", "pool", "--pairs", "200", "--pool-impl", "no_such_module:Pool"]
    assert main(argv) == EXIT_USAGE
    assert "cannot import 'no_such_module'" in capsys.readouterr().err
