"""The shuffled event loop: seeded, replayable, and switched on by a pytest option."""

from __future__ import annotations

import asyncio
import re

import pytest

from gateproof.testing.shuffle import ShuffledEventLoop, loop_factory, schedule_seed

pytest_plugins = ["pytester"]


def trace_schedule(make_loop) -> list[str]:
    """Which task ran each step, for 6 tasks of 4 steps each."""
    trace: list[str] = []

    async def worker(name: str) -> None:
        for step in range(4):
            trace.append(f"{name}{step}")
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(worker(name) for name in "abcdef"))

    with asyncio.Runner(loop_factory=make_loop) as runner:
        runner.run(main())
    return trace


def test_the_default_loop_runs_ready_tasks_in_scheduling_order():
    trace = trace_schedule(asyncio.new_event_loop)

    assert trace[:6] == ["a0", "b0", "c0", "d0", "e0", "f0"]


def test_the_same_seed_replays_the_same_schedule():
    assert trace_schedule(loop_factory(7)) == trace_schedule(loop_factory(7))


def test_different_seeds_give_different_schedules():
    traces = {tuple(trace_schedule(loop_factory(seed))) for seed in range(6)}

    assert len(traces) >= 5
    assert tuple(trace_schedule(asyncio.new_event_loop)) not in traces


def test_a_shuffled_schedule_still_runs_every_step_of_every_task_in_task_order():
    trace = trace_schedule(loop_factory(3))

    assert sorted(trace) == sorted(f"{name}{step}" for name in "abcdef" for step in range(4))
    for name in "abcdef":
        assert [entry for entry in trace if entry[0] == name] == [f"{name}{s}" for s in range(4)]


def test_each_test_id_gets_its_own_schedule_seed():
    assert schedule_seed(5, "t.py::test_a[1-3]") != schedule_seed(5, "t.py::test_a[2-3]")
    assert schedule_seed(5, "t.py::test_a") == schedule_seed(5, "t.py::test_a")


# -- the pytest option ---------------------------------------------------------

PROBE = """
import asyncio

async def test_probe():
    loop = asyncio.get_running_loop()
    print("LOOP", type(loop).__name__, getattr(loop, "seed", None))
"""

ALWAYS_FAILS = """
import asyncio

async def test_fails():
    loop = asyncio.get_running_loop()
    assert False, f"LOOP-SEED {loop.seed}"
"""


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    return pytester


def test_without_the_option_pytest_asyncio_keeps_its_default_loop(tree):
    tree.makepyfile(test_probe=PROBE)

    result = tree.runpytest("-s", "--shuffle-seed", "3")  # a seed alone does not switch

    result.assert_outcomes(passed=1)
    assert "LOOP ShuffledEventLoop" not in result.stdout.str()
    assert "shuffle-loop" not in result.stdout.str()


def test_the_option_switches_every_asyncio_test_to_the_shuffled_loop(tree):
    tree.makepyfile(test_probe=PROBE)

    result = tree.runpytest("-s", "--shuffle-loop", "--shuffle-seed", "41")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "shuffle-loop: on, seed 41 (replay with --shuffle-loop --shuffle-seed 41); "
            "virtual time",
            "*LOOP ShuffledEventLoop 41:test_probe.py::test_probe*",
        ]
    )


def test_a_seed_is_drawn_and_printed_when_none_is_given(tree):
    tree.makepyfile(test_probe=PROBE)

    first = tree.runpytest("-s", "--shuffle-loop").stdout.str()
    second = tree.runpytest("-s", "--shuffle-loop").stdout.str()

    seeds = [re.search(r"shuffle-loop: on, seed (\d+)", out).group(1) for out in (first, second)]
    assert f"LOOP ShuffledEventLoop {seeds[0]}:" in first
    assert seeds[0] != seeds[1]


def test_a_failing_test_reports_how_to_replay_it(tree):
    tree.makepyfile(test_fails=ALWAYS_FAILS)

    result = tree.runpytest("--shuffle-loop", "--shuffle-seed", "9")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*shuffle-loop*",
            "*replay: pytest 'test_fails.py::test_fails' --shuffle-loop --shuffle-seed 9*",
            "shuffle-loop: 1 failed report(s) under seed 9; "
            "replay with --shuffle-loop --shuffle-seed 9",
        ]
    )


def test_xdist_workers_use_the_seed_the_controller_drew_and_printed(tree):
    tree.makepyfile(test_fails=ALWAYS_FAILS)

    result = tree.runpytest_subprocess(
        "-n", "1", "--shuffle-loop", "-p", "no:schemathesis", "-p", "no:locust"
    )

    output = result.stdout.str()
    printed = re.search(r"shuffle-loop: on, seed (\d+)", output).group(1)
    assert f"LOOP-SEED {printed}:test_fails.py::test_fails" in output


def test_replaying_a_seed_replays_the_schedule_of_the_test(tree):
    tree.makepyfile(
        test_trace="""
import asyncio, os

async def test_trace():
    trace = []

    async def worker(name):
        for step in range(3):
            trace.append(f"{name}{step}")
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(name) for name in "abcde"))
    with open(os.environ["TRACE_FILE"], "a") as out:
        out.write(" ".join(trace) + "\\n")
"""
    )
    trace_file = tree.path / "traces.txt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACE_FILE", str(trace_file))
        for seed in ("11", "11", "12"):
            tree.runpytest("--shuffle-loop", "--shuffle-seed", seed).assert_outcomes(passed=1)

    first, replay, other = trace_file.read_text().splitlines()
    assert first == replay
    assert first != other


def test_shuffled_event_loop_is_a_selector_loop():
    loop = ShuffledEventLoop(1)
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop.seed == 1
    finally:
        loop.close()


# -- what shuffling buys: the benchmark ------------------------------------------


def test_bench_shuffle_measures_every_loop_and_no_correct_pool_fails_after(capsys):
    from gateproof.cli import main

    status = main(["bench", "shuffle", "--runs", "2", "--foreign-runs", "0", "--suite-runs", "0"])
    output = capsys.readouterr().out

    assert status == 0, output
    for pool in ("reference pool", "Condition pool"):
        assert re.search(
            rf"{pool}: before \d+ of \d+, after 0 of \d+, pct 0 of \d+, pct3 0 of \d+, "
            rf"delay 0 of \d+, handoff 0 of \d+",
            output,
        ), pool
    for scenario in ("acquire race", "idle eviction", "fifo order", "release after eviction"):
        assert re.search(rf"^  {scenario} +(\d+% +){{6}}\d+%$", output, re.M), scenario
    assert re.search(r"wall ms per run +(\d+\.\d+ +){6}\d+\.\d+$", output, re.M)
    assert "evicted worker handed out again" in output


def test_the_suite_measure_counts_single_conformance_runs_that_caught_each_legacy_race(capsys):
    from gateproof.bench.shuffle import CANDIDATE, RACE_TESTS, _suite_detection

    _suite_detection(2, 5, CANDIDATE, loops=["after"])
    output = capsys.readouterr().out

    row = re.search(r"^  after +(.*)$", output, re.M)
    assert row is not None, output
    assert re.findall(r"(\d+)/2 \(", row.group(1)) == ["2"] * len(RACE_TESTS), row.group(0)


def test_the_suite_wall_time_is_compared_with_the_real_clock_in_one_run(capsys):
    from gateproof.bench.shuffle import _suite_wall_time

    _suite_wall_time(2, 5)
    output = capsys.readouterr().out

    found = re.search(
        r"the suite x2 on the reference pool.*virtual time\) ([\d.]+) s;.*real clock "
        r"\(the default before virtual time\) ([\d.]+) s: ([\d.]+)x \(target <= 1.5x\)",
        output,
    )
    assert found, output
    default, real, ratio = map(float, found.groups())
    # Each printed figure is rounded to 0.01; the ratio must lie within what that rounding allows.
    lowest = (default - 0.005) / (real + 0.005) - 0.005
    highest = (default + 0.005) / (real - 0.005) + 0.005
    assert lowest <= ratio <= highest, (default, real, ratio)


def test_a_race_counts_every_failed_repetition_beyond_the_ones_the_report_lists():
    from gateproof.bench.shuffle import race_caught

    listed = [{"repetition": n} for n in range(1, 21)]  # the report keeps 20 per test
    report = {
        "tests": [
            {"nodeid": "tests/stress/test_pool_release.py::test_releasing_an_evicted_worker_"
             "is_refused_and_keeps_the_pool_within_capacity", "failed": 25, "errors": 0,
             "failed_runs": listed},
            {"nodeid": "tests/stress/test_pool_release.py::test_releasing_an_idle_worker_"
             "after_its_eviction_is_refused", "failed": 3, "errors": 0,
             "failed_runs": [{"repetition": 30}, {"repetition": 31}, {"repetition": 2}]},
            {"nodeid": "tests/stress/test_pool_fifo.py::test_a_caller_arriving_right_after_a_"
             "release_queues_behind_the_waiter", "failed": 0, "errors": 2,
             "failed_runs": [{"repetition": 4}, {"repetition": 9}]},
        ]
    }  # fmt: skip

    assert race_caught(report, "release after eviction") == 25
    assert race_caught(report, "fifo order") == 2
    assert race_caught(report, "acquire race") == 0


def test_bench_shuffle_refuses_a_bad_pool_impl(capsys):
    from gateproof.cli import EXIT_USAGE, main

    assert main(["bench", "shuffle", "--pool-impl", "nowhere"]) == EXIT_USAGE
    assert "module:factory" in capsys.readouterr().err


# -- what the shuffle may and may not reorder ------------------------------------


def wake_order(make_loop) -> list[str]:
    """Which of five waiters runs first after one notify_all, and a stranger's step."""
    order: list[str] = []

    async def main() -> None:
        condition = asyncio.Condition()

        async def waiter(name: str) -> None:
            async with condition:
                await condition.wait()
                order.append(name)

        async def stranger() -> None:
            for _ in range(3):  # its own steps, each made runnable by itself
                await asyncio.sleep(0)
            order.append("stranger")

        tasks = [asyncio.create_task(waiter(name)) for name in "abcde"]
        tasks.append(asyncio.create_task(stranger()))
        for _ in range(3):
            await asyncio.sleep(0)
        async with condition:
            condition.notify_all()
        await asyncio.gather(*tasks)

    with asyncio.Runner(loop_factory=make_loop) as runner:
        runner.run(main())
    return order


def test_waiters_woken_by_one_notify_all_keep_their_order_under_shuffling():
    for seed in range(30):
        woken = [name for name in wake_order(loop_factory(seed)) if name != "stranger"]
        assert woken == list("abcde"), f"seed {seed}: {woken}"


def test_shuffling_the_whole_queue_breaks_that_order_which_is_why_it_is_not_the_default():
    orders = {
        tuple(n for n in wake_order(loop_factory(seed, keep_batches=False)) if n != "stranger")
        for seed in range(30)
    }
    assert any(order != tuple("abcde") for order in orders)


def test_independent_tasks_still_interleave_differently_under_shuffling():
    positions = {wake_order(loop_factory(seed)).index("stranger") for seed in range(30)}
    assert len(positions) > 1
