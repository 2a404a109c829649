"""A pytest plugin that streams every test report to a JSON-lines file.

`gateproof stress` loads it into the pytest it starts
(``-p reports.collector --gateproof-results=FILE``). One line is appended, and
flushed, per event, so the parent can draw its progress bar while the run goes
on and still has every finished result if pytest is interrupted or crashes.
Under pytest-xdist only the controller writes: the workers' reports reach it
with the failure signature computed where the exception object still existed.

Lines are JSON objects with an ``event`` field:

* ``start``: ``hypothesis_seed``, ``shuffle_seed`` (as pytest parsed them), ``rootdir``;
* ``collected``: ``count``, the number of test runs expected (repetitions included),
  and ``ids``, their node ids (what a restart after a crash has left to run);
* ``collect_error``: ``nodeid``, ``message``;
* ``report``: ``nodeid``, ``when`` (setup, call, teardown, or ``???`` for a
  crashed xdist worker), ``outcome``, ``duration``, ``xfail``, for a failed
  phase ``failure``: ``{"type", "location", "message"}``, and for a test that
  ran on gateproof's loop ``loop``: what the loop did (``clock``,
  ``virtual_seconds``, ``real_waits``; under ``--explore`` also ``strategy``,
  ``schedule``, ``tasks``, ``steps``);
* ``finish``: ``exitstatus``.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import IO, Any

import pytest

from reports.signature import exception_type, short_message, type_from_crash_line, user_location

# The name gateproof.testing.plugin registers its shuffled loop under. Spelled out, not
# imported: reports/ imports nothing from gateproof/ (a test keeps the two equal).
SHUFFLE_PLUGIN_NAME = "gateproof-shuffle-loop"
LOOP_PROPERTY = "gateproof_loop"  # the user property the plugin puts on a call report

_FAILURE_ATTR = "gateproof_failure"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gateproof stress")
    group.addoption(
        "--gateproof-results",
        default=None,
        metavar="FILE",
        help="append one JSON line per test report to FILE (used by `gateproof stress`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("gateproof_results")
    if path and not hasattr(config, "workerinput"):  # xdist workers report to the controller
        config.pluginmanager.register(ResultWriter(path), "gateproof-result-writer")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None:
        frames = [(str(entry.path), entry.lineno + 1) for entry in call.excinfo.traceback]
        path, line, _ = item.location
        fallback = f"{path}:{(line or 0) + 1}"
        setattr(
            report,
            _FAILURE_ATTR,
            {
                "type": exception_type(call.excinfo.value),
                "location": user_location(frames, item.config.rootpath, fallback),
                "message": short_message(str(call.excinfo.value) or call.excinfo.exconly()),
            },
        )
    return report


def failure_from_report(report: pytest.TestReport) -> dict[str, str]:
    """The failure signature of a report that carries none (an xdist crash report)."""
    failure = getattr(report, _FAILURE_ATTR, None)
    if isinstance(failure, dict):
        return failure
    path, line, _ = report.location
    location = path if line is None else f"{path}:{line + 1}"
    if report.when == "???":
        return {
            "type": "WorkerCrashed",
            "location": location,
            "message": short_message(str(report.longrepr)),
        }
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return {
            "type": type_from_crash_line(crash.message),
            "location": location,
            "message": short_message(crash.message),
        }
    text = str(report.longrepr)
    last = text.strip().splitlines()[-1] if text.strip() else ""
    return {
        "type": type_from_crash_line(last),
        "location": location,
        "message": short_message(text),
    }


class ResultWriter:
    """The controller's side: appends the JSON lines and flushes each one."""

    def __init__(self, path: str) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # closed in unconfigure
        self._announced_collection = False

    def _write(self, **record: Any) -> None:
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = session.config
        # gateproof's shuffled loop draws a seed when none is given: record the one in use
        shuffler = config.pluginmanager.get_plugin(SHUFFLE_PLUGIN_NAME)
        shuffle_seed = getattr(shuffler, "seed", None)
        self._write(
            event="start",
            hypothesis_seed=config.getoption("hypothesis_seed", None),
            shuffle_seed=shuffle_seed
            if shuffle_seed is not None
            else config.getoption("--shuffle-seed", None),
            rootdir=str(config.rootpath),
        )

    def _collected(self, ids: list[str]) -> None:
        if not self._announced_collection:
            self._announced_collection = True
            self._write(event="collected", count=len(ids), ids=ids)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collected([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        self._collected(list(ids))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                event="collect_error",
                nodeid=report.nodeid,
                message=short_message(str(report.longrepr)),
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record: dict[str, Any] = {
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": round(float(report.duration or 0.0), 6),
            "xfail": hasattr(report, "wasxfail"),
        }
        if report.failed:
            record["failure"] = failure_from_report(report)
        loop = dict(report.user_properties).get(LOOP_PROPERTY)
        if isinstance(loop, dict):
            record["loop"] = loop
        self._write(event="report", **record)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._write(event="finish", exitstatus=int(exitstatus))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._file.close()
