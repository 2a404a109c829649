"""`gateproof report --history`: the shipped examples and two reports made here, in one history.

The two reports are the foreign tree's short gate (3 stress runs, a small
suite: the cheapest real phase report), made before and after its unused
import is removed, so one check flips between them. The first runs with
GitHub Actions' variables set, as in a workflow. Beside them lie a report
as an older gateproof wrote it (fields absent) and a ``report.json`` that
is not a phase report.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from report_helpers import REPO, foreign_tree, gateproof, rendered_dom

from reports.history import FIELDS, build_history
from reports.phase_report import load_report

EXAMPLES = REPO / "reports" / "examples"
OLDER_DATE = "2026-11-01T08:00:00+00:00"


def _older_report(directory: Path) -> None:
    """The legacy example as a gateproof without coverage, flakiness, latency or counts wrote it."""
    report = load_report(EXAMPLES / "phase0-legacy")
    for name in ("counts", "flakiness", "latency", "coverage", "steps", "tests", "audit"):
        del report[name]
    report["generated_at"] = OLDER_DATE
    directory.mkdir(parents=True)
    (directory / "report.json").write_text(json.dumps(report))


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("history")
    tree = foreign_tree(tmp)
    gates = tree.parent / "foreign_gates"
    made = tmp / "made"
    step_summary = tmp / "step_summary.md"
    step_summary.write_text("## an earlier step\n")

    def report(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return gateproof(
            "report", "--phase", str(gates / "gate.yaml"), "--target", str(tree),
            "--mapping", str(gates / "mapping.yaml"), "--out", str(made / name),
            cwd=tmp, env=env,
        )  # fmt: skip

    first = report("before", {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary)})
    main = tree / "app" / "main.py"
    main.write_text(re.sub(r"(?m)^import os.*\n", "", main.read_text()))
    report("after", {})
    _older_report(made / "older-legacy")
    (made / "not-a-report").mkdir()
    (made / "not-a-report" / "report.json").write_text('{"schema": "something else"}')
    done = gateproof(
        "report", "--history", str(EXAMPLES), str(made), "--out", str(tmp / "history"),
        cwd=tmp,
    )  # fmt: skip
    return tmp / "history", step_summary, first, done


def _data(history) -> dict[str, Any]:
    return json.loads((history[0] / "history.json").read_text())


def test_every_report_is_in_the_table_in_date_order(history) -> None:
    done = history[3]
    assert done.returncode == 0, done.stderr
    reports = _data(history)["reports"]
    targets = [r["target"] for r in reports]
    assert targets[:3] == ["legacy", "reference", "legacy"]  # the older report is dated first
    assert targets[3] == targets[4] and targets[3].endswith("foreign_gateway")
    assert [r["verdict"] for r in reports] == ["failed", "passed", "failed", "failed", "failed"]
    assert [r["index"] for r in reports] == [1, 2, 3, 4, 5]
    assert [r["date"] for r in reports] == sorted(r["date"] for r in reports)
    assert reports[0]["date"] == OLDER_DATE
    made = reports[3:]
    assert {r["phase"] for r in made} == {"t"} and len({r["target"] for r in made}) == 1
    assert [r["counts"] for r in made] == [
        {"passed": 4, "failed": 3, "not_checked": 1},
        {"passed": 5, "failed": 2, "not_checked": 1},
    ]
    assert reports[1]["counts"] == {"passed": 9, "failed": 0, "not_checked": 0}


def test_what_is_not_a_report_is_skipped_and_said(history) -> None:
    data = _data(history)
    assert [s["path"].endswith("not-a-report/report.json") for s in data["skipped"]] == [True]
    assert "not a gateproof phase report" in data["skipped"][0]["reason"]
    assert "skipped" in history[3].stderr


def test_fields_an_older_report_lacks_are_missing_not_zero(history) -> None:
    data = _data(history)
    older = data["reports"][0]
    assert set(older["missing"]) == {
        "counts", "flakiness", "coverage.line_percent", "coverage.branch_percent",
        "coverage.modules", "latency.predicted", "latency.measured",
    }  # fmt: skip
    assert set(older["missing"]) < set(FIELDS)
    assert older["counts"] is None and older["line_percent"] is None
    first = {name: points[0] for name, points in data["trends"].items()}
    assert first["coverage"]["line_percent"] is None
    assert first["modules"]["modules"] is None
    assert first["flakiness"]["worst_upper_bound_95"] is None
    assert first["flakiness"]["tests"] is None  # not 0 tests
    assert first["p99"]["predicted"] is None
    assert all(r["missing"] == [] for r in data["reports"][1:])


def test_trends_carry_coverage_flakiness_and_p99_per_report(history) -> None:
    data = _data(history)
    trends = data["trends"]
    reference = load_report(EXAMPLES / "phase0-reference")
    by_report = {name: {p["report"]: p for p in points} for name, points in trends.items()}
    assert by_report["coverage"][2]["line_percent"] == reference["coverage"]["line_percent"]
    assert by_report["modules"][2]["modules"] == {
        m["module"]: m["line_percent"] for m in reference["coverage"]["modules"]
    }
    latency = reference["latency"]
    for side in ("predicted", "measured"):
        assert by_report["p99"][2][side] == {
            name: figures["p99"] for name, figures in latency[side]["functions"].items()
        }
    assert by_report["p99"][3] == {**by_report["p99"][3], "predicted": None, "measured": None}
    assert by_report["flakiness"][3]["worst_upper_bound_95"] == 1.0  # legacy: 100 of 100 failed
    assert by_report["flakiness"][3]["failing_tests"] > 0
    made = by_report["flakiness"][4]
    assert made["tests"] == 2 and made["failing_tests"] == 0
    assert made["worst_upper_bound_95"] == pytest.approx(0.632, abs=0.001)  # 0 of 3 runs
    # the unused import went: main.py lost a statement, and the total moved with it
    assert by_report["coverage"][5]["line_percent"] != by_report["coverage"][4]["line_percent"]


def test_checks_that_flipped_between_consecutive_reports_of_a_target(history) -> None:
    flips = _data(history)["flips"]
    found = [(f["from_report"], f["to_report"], f["id"], f["before"], f["after"]) for f in flips]
    # the older legacy report and the legacy example agree on every check they share
    assert found == [(4, 5, "main-no-unused-imports", "failed", "passed")]


def test_a_flip_is_found_in_the_legacy_series_when_a_verdict_changes(tmp_path: Path) -> None:
    older = tmp_path / "older"
    _older_report(older)
    report = json.loads((older / "report.json").read_text())
    for check in report["checks"]:
        if check["id"] == "stress-100":
            check["verdict"] = "passed"
    report["checks"].append({**report["checks"][0], "id": "only-in-the-older-gate"})
    (older / "report.json").write_text(json.dumps(report))
    data = build_history([EXAMPLES, tmp_path])
    assert [(f["target"], f["id"], f["before"], f["after"]) for f in data["flips"]] == [
        ("legacy", "stress-100", "passed", "failed")
    ]


def test_the_first_report_ran_as_under_github_actions(history) -> None:
    _, step_summary, first, _ = history
    assert first.returncode == 1, first.stderr
    errors = [line for line in first.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 3
    assert any("main-no-unused-imports failed::" in line for line in errors)
    text = step_summary.read_text()
    assert text.startswith("## an earlier step\n### ❌ Phase t gate on ")
    assert "| `main-no-unused-imports`: main.py has no unused imports | ❌ FAILED |" in text


def test_the_history_page_renders_in_chromium_with_its_trend_plots(history) -> None:
    page = history[0] / "history.html"
    dom = rendered_dom(page)
    table = dom.split('<table id="reports">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == 1 + 5
    older_row = table.split("<tr", 3)[2]
    assert "missing" in older_row and "0.0%" not in older_row
    for alt in (
        "total coverage over time",
        "line coverage per module over time",
        "flake-rate upper bounds over time",
        "predicted and measured p99 over time",
    ):
        assert f'<img alt="{alt}" src="data:image/png;base64,' in dom, alt
    flips = dom.split('<table id="flips">', 1)[1].split("</table>", 1)[0]
    assert "main-no-unused-imports" in flips and "FAILED" in flips and "PASSED" in flips
    assert "Missing in report #1" in dom
    assert "http://" not in dom and "https://" not in dom  # self-contained


def test_history_refuses_a_directory_without_reports(tmp_path: Path) -> None:
    done = gateproof("report", "--history", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "no phase report (report.json) under" in done.stderr
    done = gateproof("report", "--history", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a directory" in done.stderr and "Traceback" not in done.stderr


def test_history_is_one_mode_of_report_not_a_modifier(tmp_path: Path) -> None:
    done = gateproof("report", "--phase", "0", "--history", str(EXAMPLES), cwd=tmp_path)
    assert done.returncode == 2
    assert "give one of --phase, --compare and --history" in done.stderr
    done = gateproof("report", "--history", str(EXAMPLES), "--summary", "s.md", cwd=tmp_path)
    assert done.returncode == 2 and "--summary goes with --phase" in done.stderr
    assert not (tmp_path / "reports").exists()  # nothing was written
