"""The pytest plugin gateproof registers (entry point ``pytest11``).

Options, all in the "gateproof" group of ``pytest --help``:

``--pool-impl MODULE:FACTORY``
    the pool the conformance suite in ``tests/stress/`` runs against
    (default: the reference pool); see ``docs/pool-adapter.md``.
``--breaker-impl MODULE:FACTORY``
    the circuit breaker the suite in ``tests/breaker/`` runs against (default:
    the reference breaker); see ``docs/breaker-adapter.md``.
``--shuffle-loop [--shuffle-seed N]``
    run every pytest-asyncio test on a :class:`~gateproof.testing.shuffle.ShuffledEventLoop`.
    The run's seed is printed in the header (one is drawn when none is given,
    and shared with pytest-xdist workers); each test's schedule is derived from
    it and the test id, and a failing test's report says how to replay it.

The ``repetition_seed`` fixture gives a test an integer seed of its own under
``--shuffle-loop`` (derived from the run's seed and the test id, so each
repetition differs and a replay of one repetition gets it back), for the
randomness the loop does not cover: ``hypothesis.seed(repetition_seed)``.

``--explore STRATEGY[:d=N] [--schedules N]``
    run every pytest-asyncio test on a :class:`~gateproof.testing.controlled_loop.ControlledLoop`
    whose strategy (``pct``, ``random-delay``, ``plain``) picks the next ready
    callback; ``--schedules N`` runs each test under N schedules (node ids get
    ``[scheduleI]``). Seeds and replay as for ``--shuffle-loop``.
``--real-time``
    keep the real clock on gateproof's loops. By default they run on virtual
    time (:mod:`gateproof.testing.virtual_time`): timer waits are skipped, waits
    on real I/O keep real time. ``@pytest.mark.real_time`` does the same for one
    test (one that measures wall-clock time itself).

After each test on gateproof's loop, the call report carries a user property
``gateproof_loop`` (clock, virtual seconds skipped, real waits, schedule
fingerprint, tasks, steps), which ``gateproof stress``'s report reads.

The loop is plugged in through pytest-asyncio's ``pytest_asyncio_loop_factories``
hook (pytest-asyncio >= 1.5). The hook is registered only when one of these
loops is asked for, so without the options pytest-asyncio's default loop is
untouched: the plugin is loaded into every pytest run of the environment, and
changing the loop (or the clock) of tests that did not ask would be a surprise.
``gateproof stress`` asks by default, and a project asks for all its plain
pytest runs with ``gateproof_virtual_time = true`` in its pytest ini (asyncio's
own order on virtual time; ``--real-time`` turns it off for one run).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import pytest

from gateproof.testing.breaker_adapter import (
    DEFAULT_BREAKER_IMPL,
    LEGACY_BREAKER_IMPL,
    load_breaker_factory,
)
from gateproof.testing.pool_adapter import DEFAULT_POOL_IMPL, load_pool_factory
from gateproof.testing.schedules import ExploreSpec, parse_explore
from gateproof.testing.shuffle import ShuffledEventLoop, new_seed, repetition_seed, schedule_seed

_SEED_KEY = "gateproof_shuffle_seed"  # how the controller hands its seed to xdist workers
SHUFFLE_PLUGIN_NAME = "gateproof-shuffle-loop"  # reports.collector looks the plugin up by it
LOOP_PROPERTY = "gateproof_loop"  # the user property reports.collector reads
SCHEDULE_ID = "schedule"  # node id part of each schedule under --schedules N: [schedule3]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "gateproof_virtual_time",
        type="bool",
        default=False,
        help="run every asyncio test on gateproof's loop on virtual time, in asyncio's own "
        "order, without an option (--real-time turns it off for one run)",
    )
    group = parser.getgroup("gateproof")
    group.addoption(
        "--pool-impl",
        default=DEFAULT_POOL_IMPL,
        metavar="MODULE:FACTORY",
        help=f"pool the conformance suite tests (default: {DEFAULT_POOL_IMPL}); "
        "e.g. reference.legacy.pool:LegacyPool",
    )
    group.addoption(
        "--breaker-impl",
        default=DEFAULT_BREAKER_IMPL,
        metavar="MODULE:FACTORY",
        help=f"breaker the breaker conformance suite tests (default: {DEFAULT_BREAKER_IMPL}); "
        f"e.g. {LEGACY_BREAKER_IMPL}",
    )
    group.addoption(
        "--shuffle-loop",
        action="store_true",
        default=False,
        help="run asyncio tests on an event loop that shuffles its ready queue (seeded)",
    )
    group.addoption(
        "--shuffle-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of the schedules under --shuffle-loop or --explore; default: drawn per run",
    )
    group.addoption(
        "--explore",
        default=None,
        metavar="STRATEGY[:d=N]",
        help="run asyncio tests on a controlled loop: pct[:d=N,k=STEPS], "
        "random-delay[:p=P,hold=N], handoff[:p=P,hold=N] or plain (seeded, replayable)",
    )
    group.addoption(
        "--schedules",
        type=int,
        default=1,
        metavar="N",
        help="with --explore: run each asyncio test under N schedules (default 1)",
    )
    group.addoption(
        "--real-time",
        action="store_true",
        default=False,
        help="keep the real clock on gateproof's loops (default: virtual time, "
        "real time only while real I/O is pending)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for option, default, load in (
        ("pool_impl", DEFAULT_POOL_IMPL, load_pool_factory),
        ("breaker_impl", DEFAULT_BREAKER_IMPL, load_breaker_factory),
    ):
        spec = config.getoption(option)
        if spec != default:
            try:
                load(spec)
            except ValueError as error:
                raise pytest.UsageError(str(error)) from None
    config.addinivalue_line(
        "markers", "real_time: keep this test's loop on the real clock (it measures wall time)"
    )
    explore_text = config.getoption("explore")
    schedules = config.getoption("schedules")
    try:
        explore = parse_explore(explore_text) if explore_text is not None else None
    except ValueError as error:
        raise pytest.UsageError(f"--explore: {error}") from None
    if schedules < 1:
        raise pytest.UsageError("--schedules must be at least 1")
    if explore is None and schedules > 1:
        raise pytest.UsageError("--schedules needs --explore STRATEGY (e.g. --explore pct:d=2)")
    shuffle = config.getoption("shuffle_loop")
    if explore is not None and shuffle:
        raise pytest.UsageError("choose one of --shuffle-loop and --explore")
    if not shuffle and explore is None:
        if config.getoption("real_time") or not config.getini("gateproof_virtual_time"):
            return
        explore = parse_explore("plain")  # the project asked for virtual time in its ini
    option = "--explore" if explore is not None else "--shuffle-loop"
    seed = config.getoption("shuffle_seed")
    if not hasattr(config.hook, "pytest_asyncio_loop_factories"):
        raise pytest.UsageError(
            f"{option} needs pytest-asyncio >= 1.5 (its loop factory hook); "
            f"install it or drop {option}"
        )
    workerinput: Mapping[str, Any] = getattr(config, "workerinput", {})
    if seed is None:
        seed = workerinput.get(_SEED_KEY, new_seed())
    plugin = ShuffleLoopPlugin(
        int(seed),
        explore=explore,
        schedules=schedules,
        virtual_time=not config.getoption("real_time"),
    )
    config.pluginmanager.register(plugin, SHUFFLE_PLUGIN_NAME)


@pytest.fixture(name="repetition_seed")
def _repetition_seed(request: pytest.FixtureRequest) -> int | None:
    """This repetition's own seed under ``--shuffle-loop``; None on the default loop."""
    shuffler = request.config.pluginmanager.get_plugin(SHUFFLE_PLUGIN_NAME)
    if shuffler is None:
        return None
    return repetition_seed(shuffler.seed, request.node.nodeid)


class ShuffleLoopPlugin:
    """Hands pytest-asyncio gateproof's loop per test, reports the seed and what the loop did."""

    def __init__(
        self,
        seed: int,
        *,
        explore: ExploreSpec | None = None,
        schedules: int = 1,
        virtual_time: bool = True,
    ) -> None:
        self.seed = seed
        self.explore = explore
        self.schedules = schedules
        self.virtual_time = virtual_time
        self.failed = 0
        self._test_id = "session"  # loops made before any test (session-scoped fixtures)
        self._real_time_test = False
        self._loop: Any = None
        self._loop_test_id = ""

    @property
    def replay_options(self) -> str:
        """The options that recreate this run's schedules (with the same seed)."""
        if self.explore is None:
            options = f"--shuffle-loop --shuffle-seed {self.seed}"
        else:
            options = f"--explore {self.explore.text} --shuffle-seed {self.seed}"
            if self.schedules > 1:
                options += f" --schedules {self.schedules}"
        return options + ("" if self.virtual_time else " --real-time")

    def pytest_report_header(self) -> str:
        what = "shuffle-loop" if self.explore is None else f"explore {self.explore.text}"
        clock = "virtual time" if self.virtual_time else "real time"
        return f"{what}: on, seed {self.seed} (replay with {self.replay_options}); {clock}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_SEED_KEY] = self.seed

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self._test_id = item.nodeid  # the loop is made during setup, by the runner fixture
        self._real_time_test = item.get_closest_marker("real_time") is not None
        return (yield)

    def pytest_asyncio_loop_factories(self, config: pytest.Config, item: pytest.Item) -> dict:
        if self.explore is None or self.schedules == 1:
            return {"gateproof": self._new_loop}
        return {f"{SCHEDULE_ID}{index}": self._new_loop for index in range(self.schedules)}

    def _new_loop(self) -> Any:
        seed = schedule_seed(self.seed, self._test_id)
        virtual = self.virtual_time and not self._real_time_test
        if self.explore is None:
            loop: Any = ShuffledEventLoop(seed, virtual_time=virtual)
        else:
            from gateproof.testing.controlled_loop import ControlledLoop

            loop = ControlledLoop(self.explore, seed, virtual_time=virtual)
        self._loop, self._loop_test_id = loop, self._test_id
        return loop

    def _loop_summary(self) -> dict[str, Any]:
        loop = self._loop
        summary: dict[str, Any] = {
            "clock": "virtual" if loop.virtual_time else "real",
            "virtual_seconds": round(loop.virtual_seconds, 6),
            "real_waits": loop.real_waits,
        }
        if self.explore is not None:
            summary.update(
                strategy=self.explore.text,
                schedule=loop.fingerprint(),
                tasks=loop.tasks_seen,
                steps=loop.steps,
            )
        return summary

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call" and self._loop is not None and self._loop_test_id == item.nodeid:
            report.user_properties.append((LOOP_PROPERTY, self._loop_summary()))
        if report.failed:
            report.sections.append(
                (
                    "shuffle-loop" if self.explore is None else "explore",
                    f"failed under seed {self.seed} (schedule "
                    f"{schedule_seed(self.seed, item.nodeid)!r}); replay: "
                    f"pytest '{item.nodeid}' {self.replay_options} "
                    f"(with the same --count and other options)",
                )
            )
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.failed:
            what = "shuffle-loop" if self.explore is None else "explore"
            terminalreporter.write_line(
                f"{what}: {self.failed} failed report(s) under seed {self.seed}; "
                f"replay with {self.replay_options}"
            )
