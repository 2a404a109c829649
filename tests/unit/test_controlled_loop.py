"""The controlled loop: what a strategy may reorder, what it may not, and exact replay."""

from __future__ import annotations

import asyncio

import pytest

from gateproof.testing.controlled_loop import ControlledLoop, controlled_loop_factory
from gateproof.testing.schedules import ExploreSpec, parse_explore, pct_bound, runs_for

STRATEGIES = [
    "plain",
    "pct:d=2",
    "pct:d=3,k=30",
    "random-delay",
    "random-delay:p=1,hold=4",
    "handoff",
    "handoff:p=1,hold=4",
]


def trace_schedule(make_loop) -> tuple[list[str], ControlledLoop]:
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
        loop = runner.get_loop()
    return trace, loop


def test_the_plain_strategy_is_asyncios_own_order():
    assert (
        trace_schedule(controlled_loop_factory("plain", 1))[0]
        == trace_schedule(asyncio.new_event_loop)[0]
    )


@pytest.mark.parametrize("spec", STRATEGIES)
def test_the_same_seed_replays_the_same_schedule(spec):
    first, loop = trace_schedule(controlled_loop_factory(spec, 11))
    again, replayed = trace_schedule(controlled_loop_factory(spec, 11))

    assert first == again
    assert loop.fingerprint() == replayed.fingerprint()


@pytest.mark.parametrize("spec", ["pct:d=2", "pct:d=3", "random-delay:p=0.5,hold=6"])
def test_different_seeds_explore_different_schedules(spec):
    loops = [trace_schedule(controlled_loop_factory(spec, seed))[1] for seed in range(20)]

    assert len({loop.fingerprint() for loop in loops}) >= 5


@pytest.mark.parametrize("spec", STRATEGIES)
def test_every_step_of_every_task_runs_in_task_order(spec):
    for seed in range(10):
        trace, _ = trace_schedule(controlled_loop_factory(spec, seed))
        for name in "abcdef":
            steps = [entry for entry in trace if entry[0] == name]
            assert steps == [f"{name}{step}" for step in range(4)]


def wake_order(make_loop) -> list[str]:
    """The order in which five waiters run after one notify_all."""
    order: list[str] = []

    async def main() -> None:
        condition = asyncio.Condition()

        async def waiter(name: str) -> None:
            async with condition:
                await condition.wait()
                order.append(name)

        async def stranger() -> None:
            for _ in range(3):
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


@pytest.mark.parametrize("spec", STRATEGIES)
def test_callbacks_one_callback_scheduled_keep_their_order(spec):
    for seed in range(30):
        woken = [name for name in wake_order(controlled_loop_factory(spec, seed)) if name != "x"]
        assert [n for n in woken if n != "stranger"] == list("abcde"), f"{spec} seed {seed}"


@pytest.mark.parametrize("spec", STRATEGIES)
def test_a_timer_never_fires_before_it_is_due(spec):
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        lateness = []

        async def sleeper(seconds: float) -> None:
            due = loop.time() + seconds
            await asyncio.sleep(seconds)
            lateness.append(loop.time() - due)

        await asyncio.gather(*(sleeper(0.1 * n) for n in range(1, 10)))
        return lateness

    for seed in range(10):
        with asyncio.Runner(loop_factory=controlled_loop_factory(spec, seed)) as runner:
            lateness = runner.run(main())
        assert min(lateness) >= 0, f"{spec} seed {seed}: a timer fired early"


def test_pct_lets_a_later_task_overtake_an_earlier_one_which_the_plain_loop_never_does():
    # the six first steps are one batch (gather's); the second steps are six batches
    firsts = {trace_schedule(controlled_loop_factory("pct:d=2", s))[0][6] for s in range(20)}

    assert len(firsts) > 1
    assert trace_schedule(controlled_loop_factory("plain", 0))[0][6] == "a1"


def steps_before_wake_up(make_loop) -> int:
    """How many steps a busy task takes between a hand-off and the woken waiter running."""
    trace: list[str] = []

    async def main() -> None:
        handed = asyncio.get_running_loop().create_future()

        async def waiter() -> None:
            await handed
            trace.append("woken")

        async def busy() -> None:
            for _ in range(8):
                trace.append("busy")
                await asyncio.sleep(0)

        tasks = [asyncio.create_task(waiter()), asyncio.create_task(busy())]
        await asyncio.sleep(0)
        handed.set_result("worker")
        trace.append("handed")
        await asyncio.gather(*tasks)

    with asyncio.Runner(loop_factory=make_loop) as runner:
        runner.run(main())
    return trace[trace.index("handed") :].index("woken") - 1


def test_handoff_holds_back_a_task_woken_by_a_future_while_other_tasks_run_on():
    plain = steps_before_wake_up(controlled_loop_factory("plain", 0))
    held = [
        steps_before_wake_up(controlled_loop_factory("handoff:p=1,hold=3", seed))
        for seed in range(10)
    ]

    assert plain == 1  # the busy task's step already due, then the waiter
    assert min(held) > plain
    assert max(held) <= plain + 3  # held for at most `hold` iterations
    assert len(set(held)) > 1  # how long is drawn from the seed


def test_handoff_leaves_a_program_without_wake_ups_in_asyncios_order():
    assert (
        trace_schedule(controlled_loop_factory("handoff:p=1,hold=4", 3))[0]
        == trace_schedule(asyncio.new_event_loop)[0]
    )


def test_explore_specs_are_checked_and_spelled_canonically():
    assert parse_explore("pct").text == "pct:d=2,k=60"
    assert parse_explore("pct:d=3").text == "pct:d=3,k=60"
    assert parse_explore("random-delay:p=0.25").text == "random-delay:p=0.25,hold=3"
    assert parse_explore("plain") == ExploreSpec("plain")
    assert parse_explore("handoff").text == "handoff:p=0.5,hold=3"
    for bad, says in [
        ("dfs", "unknown schedule strategy 'dfs'"),
        ("pct:d=0", "d must be a whole number >= 1"),
        ("pct:x=1", "pct takes no parameter 'x=1'"),
        ("random-delay:p=2", "p must be between 0 and 1"),
        ("pct:d=two", "d must be a number"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_explore(bad)


def test_pcts_bound_is_one_over_n_times_k_to_the_d_minus_one():
    assert pct_bound(tasks=4, steps=60, depth=1) == 1 / 4
    assert pct_bound(tasks=4, steps=60, depth=2) == 1 / 240
    assert pct_bound(tasks=4, steps=60, depth=3) == 1 / (4 * 3600)
    assert runs_for(0.5) == 5  # 1 - 0.5**5 >= 0.95


# -- the pytest options ------------------------------------------------------------

pytest_plugins = ["pytester"]

PROBE = """
import asyncio
import pytest

async def test_probe():
    loop = asyncio.get_running_loop()
    print("LOOP", type(loop).__name__, loop.virtual_time, getattr(loop, "seed", None))

@pytest.mark.real_time
async def test_wall_clock():
    print("WALL", asyncio.get_running_loop().virtual_time)

async def test_fails():
    assert False
"""


@pytest.fixture
def tree(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_probe=PROBE)
    return pytester


def test_explore_runs_each_test_under_n_schedules_on_virtual_time(tree):
    result = tree.runpytest("-s", "--explore", "pct:d=2", "--schedules", "3", "--shuffle-seed", "9")

    result.assert_outcomes(passed=6, failed=3)
    output = result.stdout.str()
    for index in range(3):
        assert f"LOOP ControlledLoop True 9:test_probe.py::test_probe[schedule{index}]" in output
    assert "WALL False" in output  # the real_time marker keeps the real clock
    assert (
        "explore pct:d=2,k=60: on, seed 9 (replay with --explore pct:d=2,k=60 "
        "--shuffle-seed 9 --schedules 3); virtual time"
    ) in output
    assert (
        "replay: pytest 'test_probe.py::test_fails[schedule1]' --explore pct:d=2,k=60 "
        "--shuffle-seed 9 --schedules 3"
    ) in output


def test_real_time_keeps_the_real_clock_on_gateproofs_loops(tree):
    result = tree.runpytest("-s", "--explore", "plain", "--real-time")

    result.assert_outcomes(passed=2, failed=1)
    assert "LOOP ControlledLoop False" in result.stdout.str()


def test_a_project_turns_virtual_time_on_for_plain_pytest_runs_in_its_ini(tree):
    tree.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "gateproof_virtual_time = true\n"
    )

    on = tree.runpytest("-s")
    off = tree.runpytest("-s", "--real-time")

    on.assert_outcomes(passed=2, failed=1)
    assert "LOOP ControlledLoop True" in on.stdout.str()
    assert "WALL False" in on.stdout.str()  # the real_time marker still keeps the real clock
    assert "LOOP ControlledLoop" not in off.stdout.str()


def test_without_the_ini_key_plain_pytest_keeps_pytest_asyncios_loop(tree):
    result = tree.runpytest("-s")

    # pytest-asyncio's own loop has no virtual_time attribute for the probe to print
    assert "has no attribute 'virtual_time'" in result.stdout.str()
    assert "LOOP ControlledLoop" not in result.stdout.str()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--explore", "dfs"], "--explore: unknown schedule strategy 'dfs'"),
        (["--schedules", "2"], "--schedules needs --explore STRATEGY"),
        (["--explore", "pct", "--shuffle-loop"], "choose one of --shuffle-loop and --explore"),
    ],
)
def test_bad_options_are_refused_with_what_to_do(tree, argv, says):
    result = tree.runpytest(*argv)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert says in result.stderr.str()
