"""Failure signatures of reports that crossed a process boundary without the exception."""

import pytest

from reports.collector import failure_from_report


def report(when, longrepr, location=("tests/test_a.py", 9, "test_a")):
    return pytest.TestReport("tests/test_a.py::test_a[1-3]", location, {}, "failed", longrepr, when)


def test_a_signature_computed_in_the_worker_is_kept_as_is():
    crashed = report("call", "irrelevant")
    crashed.gateproof_failure = {"type": "KeyError", "location": "app.py:3", "message": "'x'"}
    assert failure_from_report(crashed) == crashed.gateproof_failure


def test_a_crashed_xdist_worker_is_named_as_such_at_the_tests_file():
    crash = report(
        "???",
        "worker 'gw0' crashed while running 'tests/test_a.py::test_a[1-3]'",
        location=("tests/test_a.py", None, "tests/test_a.py"),
    )
    assert failure_from_report(crash) == {
        "type": "WorkerCrashed",
        "location": "tests/test_a.py",
        "message": "worker 'gw0' crashed while running 'tests/test_a.py::test_a[1-3]'",
    }


def test_a_plain_text_failure_takes_its_type_from_the_last_line():
    failure = failure_from_report(report("setup", "Traceback ...\nOSError: port in use"))
    assert failure["type"] == "OSError"
    assert failure["location"] == "tests/test_a.py:10"
    assert failure["message"].endswith("OSError: port in use")
