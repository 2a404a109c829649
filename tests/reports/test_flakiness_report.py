"""The flakiness report built from the collector's records: counts, bounds, signatures, text."""

import json

import pytest

from reports.binomial import upper_bound
from reports.flakiness import build_report, render_markdown, write_report

COUNT = 4


def failure(kind="AssertionError", location="tests/test_a.py:9", message="assert 1 == 2"):
    return {"type": kind, "location": location, "message": message}


def run(nodeid, call="passed", setup="passed", teardown="passed", fail=None, xfail=False):
    """The three phase records the collector writes for one run of one test."""
    records = []
    for when, outcome in (("setup", setup), ("call", call), ("teardown", teardown)):
        if outcome is None:
            continue
        record = {"event": "report", "nodeid": nodeid, "when": when, "outcome": outcome}
        record["duration"] = 0.1 if when == "call" else 0.0
        record["xfail"] = xfail and when == "call"
        if outcome == "failed":
            record["failure"] = fail or failure()
        records.append(record)
        if when == "setup" and outcome != "passed":
            records.append(
                {"event": "report", "nodeid": nodeid, "when": "teardown", "outcome": "passed"}
            )
            break
    return records


def repeated(nodeid, outcomes, **kwargs):
    """Records for repetitions 1..N of a test, one outcome per repetition."""
    total = len(outcomes)
    records = []
    for index, call in enumerate(outcomes, start=1):
        records += run(
            f"{nodeid}[{index}-{total}]"
            if "[" not in nodeid
            else nodeid.replace("]", f"-{index}-{total}]"),
            call=call,
            **kwargs,
        )
    return records


def report_of(records, complete=True, count=COUNT, **meta):
    head = [
        {"event": "start", "hypothesis_seed": "7", "shuffle_seed": 7, "rootdir": "."},
        {"event": "collected", "count": meta.pop("expected", None) or 0},
    ]
    if head[1]["count"] == 0:
        head.pop()
    return build_report(head + records, count=count, complete=complete, **meta)


def by_id(report):
    return {test["nodeid"]: test for test in report["tests"]}


def test_a_clean_run_passes_with_the_upper_bound_in_the_verdict():
    report = report_of(repeated("t.py::test_ok", ["passed"] * COUNT), expected=COUNT)
    (test,) = report["tests"]
    assert test == {
        "nodeid": "t.py::test_ok",
        "runs": 4,
        "passed": 4,
        "failed": 0,
        "errors": 0,
        "skipped": 0,
        "flake_rate": 0.0,
        "upper_bound_95": upper_bound(0, 4),
        "consecutive_passes": 4,
        "seconds": 0.4,
        "clock": None,
        "virtual_seconds": 0.0,
        "real_waits": 0,
        "signatures": [],
        "failed_runs": [],
    }
    assert report["passed_all"] is True
    assert report["complete"] is True
    assert report["consecutive_passes"] == 4
    assert report["verdict"].startswith("PASSED: every test passed 4 consecutive runs")
    assert "flake rate below 52.7% at 95% confidence" in report["verdict"]


def test_repetitions_group_per_test_and_user_parameters_stay_apart():
    records = repeated("t.py::test_p[fast]", ["passed", "failed", "passed", "passed"]) + repeated(
        "t.py::test_p[slow]", ["passed"] * COUNT
    )
    tests = by_id(report_of(records))
    assert set(tests) == {"t.py::test_p[fast]", "t.py::test_p[slow]"}
    fast = tests["t.py::test_p[fast]"]
    assert (fast["runs"], fast["passed"], fast["failed"]) == (4, 3, 1)
    assert fast["flake_rate"] == 0.25
    assert fast["upper_bound_95"] == upper_bound(1, 4)
    assert fast["consecutive_passes"] == 1


def test_a_flaky_test_fails_the_report_and_is_named_with_its_rate():
    records = repeated("t.py::test_flaky", ["passed", "failed", "passed", "failed"])
    records += repeated("t.py::test_ok", ["passed"] * COUNT)
    report = report_of(records)
    assert report["passed_all"] is False
    assert report["totals"] == {"runs": 8, "passed": 6, "failed": 2, "errors": 0, "skipped": 0}
    assert report["tests"][0]["nodeid"] == "t.py::test_flaky"  # failing tests first
    assert report["verdict"].startswith("FAILED: 1 of 2 tests failed: ")
    assert "t.py::test_flaky failed 2 of 4 runs (50%, 95% upper bound" in report["verdict"]
    assert report["consecutive_passes"] == 1  # repetition 2 of test_flaky failed


def test_signatures_group_by_type_and_location_with_counts_and_an_example():
    timeout = failure("AcquireTimeoutError", "app/pool.py:80", "no worker within 1s")
    stale = failure("AssertionError", "tests/test_pool.py:30", "evicted worker handed out")
    records = []
    for index, fail in enumerate([timeout, stale, timeout, None, timeout], start=1):
        nodeid = f"t.py::test_pool[{index}-5]"
        records += run(nodeid, call="failed" if fail else "passed", fail=fail)
    (test,) = report_of(records, count=5)["tests"]
    assert test["signatures"] == [
        {
            "type": "AcquireTimeoutError",
            "location": "app/pool.py:80",
            "phases": ["call"],
            "count": 3,
            "message": "no worker within 1s",
        },
        {
            "type": "AssertionError",
            "location": "tests/test_pool.py:30",
            "phases": ["call"],
            "count": 1,
            "message": "evicted worker handed out",
        },
    ]


def test_fixture_failures_are_errors_and_skips_do_not_count_as_trials():
    fixture = failure("RuntimeError", "tests/conftest.py:4", "no database")
    records = run("t.py::test_a[1-4]", call=None, setup="failed", fail=fixture)
    records += run("t.py::test_a[2-4]", call="skipped")
    records += run("t.py::test_a[3-4]", call="passed", xfail=True)  # an xpass is a pass
    records += run("t.py::test_a[4-4]", call="skipped", xfail=True)  # an xfail is a skip
    (test,) = report_of(records)["tests"]
    assert (test["runs"], test["passed"], test["errors"], test["skipped"]) == (4, 1, 1, 2)
    assert test["flake_rate"] == 0.5  # 1 error in 2 runs that were not skipped
    assert test["upper_bound_95"] == upper_bound(1, 2)
    assert test["signatures"][0]["phases"] == ["setup"]


def test_a_failing_teardown_after_a_failing_call_counts_once_as_a_failure():
    records = run("t.py::test_a[1-2]", call="failed", teardown="failed", fail=failure("ValueError"))
    records += run("t.py::test_a[2-2]")
    (test,) = report_of(records, count=2)["tests"]
    assert (test["runs"], test["failed"], test["errors"]) == (2, 1, 0)
    assert sum(sig["count"] for sig in test["signatures"]) == 2  # both phases are shown


def test_a_crashed_xdist_worker_counts_as_a_failure_of_the_test_it_ran():
    crash = {
        "event": "report",
        "nodeid": "t.py::test_a[2-2]",
        "when": "???",
        "outcome": "failed",
        "failure": failure("WorkerCrashed", "t.py:3", "worker 'gw0' crashed"),
    }
    records = run("t.py::test_a[1-2]") + run("t.py::test_a[2-2]", call=None)[:1] + [crash]
    (test,) = report_of(records, count=2)["tests"]
    assert (test["runs"], test["passed"], test["failed"]) == (2, 1, 1)
    assert test["signatures"][0]["type"] == "WorkerCrashed"


def test_a_run_cut_off_before_its_result_is_not_counted():
    records = run("t.py::test_a[1-3]") + run("t.py::test_a[2-3]")[:1]  # setup only
    report = report_of(records, complete=False, count=3, expected=3)
    assert report["tests"][0]["runs"] == 1
    assert report["complete"] is False
    assert report["passed_all"] is False
    assert report["verdict"].startswith("INCOMPLETE: no failure in the 1 runs that finished")


def test_fewer_runs_than_collected_make_the_report_incomplete():
    report = report_of(repeated("t.py::test_a", ["passed"] * COUNT), expected=8)
    assert report["expected_runs"] == 8
    assert report["complete"] is False
    assert report["passed_all"] is False


def test_collection_errors_are_listed_and_make_the_report_incomplete():
    records = [{"event": "collect_error", "nodeid": "t_bad.py", "message": "ImportError: x"}]
    report = report_of(records)
    assert report["collection_errors"] == [{"nodeid": "t_bad.py", "message": "ImportError: x"}]
    assert report["complete"] is False
    assert report["verdict"].startswith("NO RESULT: no test ran")


def test_without_repetition_user_ids_that_look_like_repeat_ids_are_kept():
    records = run("t.py::test_a[1-2]") + run("t.py::test_a[2-2]")
    assert set(by_id(report_of(records, count=1))) == {"t.py::test_a[1-2]", "t.py::test_a[2-2]"}


def test_seeds_and_run_description_are_recorded():
    report = report_of(
        repeated("t.py::test_a", ["passed"] * COUNT),
        seed=7,
        command="python -m pytest t.py --count=4",
        wall_seconds=1.5,
        gateproof_version="9.9",
    )
    assert report["seed"] == {"requested": 7, "hypothesis": "7", "shuffle": 7}
    assert report["command"] == "python -m pytest t.py --count=4"
    assert report["wall_seconds"] == 1.5
    assert report["gateproof_version"] == "9.9"


def test_the_markdown_leads_with_the_verdict_and_shows_tables_and_signatures():
    records = repeated("t.py::test_flaky", ["passed", "failed", "passed", "passed"])
    records += repeated("t.py::test_ok", ["passed"] * COUNT)
    report = report_of(records, command="pytest t.py", wall_seconds=2.0, seed=7)
    text = render_markdown(report)
    lines = text.splitlines()
    assert lines[0] == "# Flakiness report"
    assert lines[2] == f"**{report['verdict']}**"
    assert "- Wall time: 2.0 s" in lines
    assert "- Seeds: requested 7, hypothesis 7, shuffle 7" in lines
    assert "| `t.py::test_flaky` | 4 | 3 | 1 | 0 | 0 | 25% | 75.1% | 0.4 | - |" in lines
    assert "| `t.py::test_ok` | 4 | 4 | 0 | 0 | 0 | 0% | 52.7% | 0.4 | - |" in lines
    assert "- **AssertionError** at `tests/test_a.py:9` (call): 1 run" in lines
    assert "  assert 1 == 2" in lines


def test_write_report_writes_json_and_markdown(tmp_path):
    report = report_of(repeated("t.py::test_a", ["passed"] * COUNT), wall_seconds=0.5)
    json_path, md_path = write_report(report, tmp_path / "out" / "stress")
    assert json.loads(json_path.read_text()) == report
    assert md_path.read_text() == render_markdown(report)


@pytest.mark.parametrize(
    "field",
    [
        "verdict",
        "passed_all",
        "consecutive_passes",
        "complete",
        "wall_seconds",
        "seed",
        "command",
        "tests",
    ],
)
def test_the_documented_top_level_fields_are_present(field):
    report = report_of(
        repeated("t.py::test_a", ["passed"] * COUNT), wall_seconds=0.1, command="pytest"
    )
    assert field in report


def loop_records(nodeid: str, loops: list[dict], schedule: str = "") -> list[dict]:
    """Runs of one test, each with what gateproof's loop reported on its call phase."""
    records = []
    for index, loop in enumerate(loops, start=1):
        run = f"{nodeid}[{schedule}{index}-{len(loops)}]"
        records += [
            {"event": "report", "nodeid": run, "when": "setup", "outcome": "passed"},
            {"event": "report", "nodeid": run, "when": "call", "outcome": "passed", "loop": loop},
            {"event": "report", "nodeid": run, "when": "teardown", "outcome": "passed"},
        ]
    return records


def test_the_report_says_which_tests_ran_on_virtual_time_and_how_much_was_skipped():
    virtual = {"clock": "virtual", "virtual_seconds": 30.0, "real_waits": 0}
    real = {"clock": "real", "virtual_seconds": 0.0, "real_waits": 0}
    records = loop_records("t.py::test_slow", [virtual] * 4) + loop_records(
        "t.py::test_wall", [real] * 4
    )
    records += repeated("t.py::test_sync", ["passed"] * COUNT)

    report = report_of(records)
    tests = by_id(report)

    assert tests["t.py::test_slow"]["clock"] == "virtual"
    assert tests["t.py::test_slow"]["virtual_seconds"] == 120.0
    assert tests["t.py::test_wall"]["clock"] == "real"
    assert tests["t.py::test_sync"]["clock"] is None
    assert report["virtual_time"]["tests"] == ["t.py::test_slow"]
    assert report["virtual_time"]["real_time_tests"] == ["t.py::test_wall"]
    assert report["exploration"] is None
    markdown = render_markdown(report)
    assert "- Clock: 1 tests on virtual time (120.0 s of timer waits skipped)" in markdown
    assert "| 0.0 | virtual |" in markdown


def test_schedules_of_one_test_are_runs_of_it_and_pct_gives_its_bound():
    def loop(schedule: str) -> dict:
        return {
            "clock": "virtual",
            "virtual_seconds": 0.0,
            "real_waits": 0,
            "strategy": "pct:d=2,k=50",
            "schedule": schedule,
            "tasks": 4,
            "steps": 40,
        }

    records = []
    for index in range(3):  # t.py::test_race[schedule0-1-2] ...
        records += loop_records("t.py::test_race", [loop(f"s{index % 2}")] * 2, f"schedule{index}-")

    report = report_of(records)
    (test,) = report["tests"]

    assert test["nodeid"] == "t.py::test_race"
    assert test["runs"] == 6
    assert test["exploration"]["distinct_schedules"] == 2
    assert test["exploration"]["pct_bound_per_run"] == 1 / (4 * 50)
    assert report["exploration"]["distinct_schedules"] == 2
    assert report["exploration"]["pct_bound"] == 1 - (1 - 1 / 200) ** 6
    assert "2 distinct schedules in 6 runs" in render_markdown(report)
