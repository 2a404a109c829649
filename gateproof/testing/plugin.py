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

The loop is plugged in through pytest-asyncio's ``pytest_asyncio_loop_factories``
hook (pytest-asyncio >= 1.5). The hook is registered only when shuffling is
asked for, so without the option pytest-asyncio's default loop is untouched.
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
from gateproof.testing.shuffle import ShuffledEventLoop, new_seed, repetition_seed, schedule_seed

_SEED_KEY = "gateproof_shuffle_seed"  # how the controller hands its seed to xdist workers
SHUFFLE_PLUGIN_NAME = "gateproof-shuffle-loop"  # reports.collector looks the plugin up by it


def pytest_addoption(parser: pytest.Parser) -> None:
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
        help="seed of the shuffled schedules under --shuffle-loop; default: drawn per run",
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
    if not config.getoption("shuffle_loop"):
        return
    seed = config.getoption("shuffle_seed")
    if not hasattr(config.hook, "pytest_asyncio_loop_factories"):
        raise pytest.UsageError(
            "--shuffle-loop needs pytest-asyncio >= 1.5 (its loop factory hook); "
            "install it or drop --shuffle-loop"
        )
    workerinput: Mapping[str, Any] = getattr(config, "workerinput", {})
    if seed is None:
        seed = workerinput.get(_SEED_KEY, new_seed())
    config.pluginmanager.register(ShuffleLoopPlugin(int(seed)), SHUFFLE_PLUGIN_NAME)


@pytest.fixture(name="repetition_seed")
def _repetition_seed(request: pytest.FixtureRequest) -> int | None:
    """This repetition's own seed under ``--shuffle-loop``; None on the default loop."""
    shuffler = request.config.pluginmanager.get_plugin(SHUFFLE_PLUGIN_NAME)
    if shuffler is None:
        return None
    return repetition_seed(shuffler.seed, request.node.nodeid)


class ShuffleLoopPlugin:
    """Hands pytest-asyncio a shuffled loop per test and reports the seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.failed = 0
        self._test_id = "session"  # loops made before any test (session-scoped fixtures)

    def pytest_report_header(self) -> str:
        return (
            f"shuffle-loop: on, seed {self.seed} "
            f"(replay with --shuffle-loop --shuffle-seed {self.seed})"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_SEED_KEY] = self.seed

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        self._test_id = item.nodeid  # the loop is made during setup, by the runner fixture
        return (yield)

    def pytest_asyncio_loop_factories(self, config: pytest.Config, item: pytest.Item) -> dict:
        return {"shuffled": self._new_loop}

    def _new_loop(self) -> ShuffledEventLoop:
        return ShuffledEventLoop(schedule_seed(self.seed, self._test_id))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.failed:
            report.sections.append(
                (
                    "shuffle-loop",
                    f"failed under shuffle seed {self.seed} (schedule "
                    f"{schedule_seed(self.seed, item.nodeid)!r}); replay: "
                    f"pytest '{item.nodeid}' --shuffle-loop --shuffle-seed {self.seed} "
                    f"(with the same --count and other options)",
                )
            )
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.failed:
            terminalreporter.write_line(
                f"shuffle-loop: {self.failed} failed report(s) under seed {self.seed}; "
                f"replay with --shuffle-loop --shuffle-seed {self.seed}"
            )
