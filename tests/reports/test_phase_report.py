"""`gateproof report`: a gate on a foreign tree through a mapping, the report's files, --compare."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from report_helpers import REPO, foreign_tree, gateproof, rendered_dom

from reports.checks import CheckResult
from reports.gates import available_phases, load_gate
from reports.phase_report import REPORT_FILES, load_report, write_report
from reports.phase_run import summary_line, tally

EXAMPLES = REPO / "reports" / "examples"
SCHEMAS = Path(__file__).parent / "schemas"


@pytest.fixture(scope="module")
def foreign_report(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("report")
    tree = foreign_tree(tmp)
    gates = tree.parent / "foreign_gates"
    done = gateproof(
        "report", "--phase", str(gates / "gate.yaml"), "--target", str(tree),
        "--mapping", str(gates / "mapping.yaml"), "--out", str(tmp / "out"),
        cwd=tmp,
    )  # fmt: skip
    return tmp / "out", done


def _checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["checks"]}


def test_a_failing_gate_exits_1_and_names_the_checks_that_failed(foreign_report) -> None:
    out, done = foreign_report
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = load_report(out)
    verdicts = {cid: c["verdict"] for cid, c in _checks(report).items()}
    assert verdicts == {
        "stress-pool": "passed",
        "suite-passes": "failed",
        "services-coverage": "passed",  # 22 of 28 statements: 78.6%
        "auth-coverage": "not checked",
        "pool-methods-short": "passed",
        "main-no-business-logic": "failed",
        "main-no-unused-imports": "failed",
        "legacy-files-deleted": "passed",
    }
    assert report["verdict"] == "failed"
    assert report["counts"] == {"passed": 4, "failed": 3, "not_checked": 1}


def test_the_evidence_of_each_check_is_in_the_report(foreign_report) -> None:
    out, _ = foreign_report
    checks = _checks(load_report(out))
    assert (
        "tests/test_limiter.py::test_deny_when_short_of_tokens"
        in checks["suite-passes"]["evidence"]
    )
    assert checks["services-coverage"]["details"]["files"] == {
        "services/__init__.py": None,
        "services/limiter.py": 50.0,
        "services/pool.py": 86.4,
    }
    assert checks["main-no-business-logic"]["evidence"] == "main.py:10 calls json.dumps"
    assert checks["main-no-unused-imports"]["evidence"] == "unused: main.py:2 os"
    assert "not applicable" in checks["auth-coverage"]["evidence"]
    assert checks["stress-pool"]["details"]["consecutive_passes"] == 3


def test_progress_is_shown_step_by_step(foreign_report) -> None:
    _, done = foreign_report
    for step in ("[1/4] audit", "[2/4] stress", "[3/4] sim", "[4/4] load"):
        assert step in done.stderr
    assert "skipped: the mapping names no load test" in done.stderr


SCHEMA_TYPES = {
    "schema": str, "phase": str, "title": str, "target": str, "tree": str, "root": str,
    "mapping": str, "generated_at": str, "wall_seconds": float, "verdict": str,
    "summary": str, "counts": dict, "checks": list, "steps": list, "coverage": dict,
    "flakiness": list, "latency": dict,
}  # fmt: skip


EXAMPLE_NAMES = ["phase0-reference", "phase0-legacy"]


def test_report_json_follows_its_schema(foreign_report) -> None:
    out = foreign_report[0]
    report = load_report(out)
    assert report["schema"] == "gateproof.report/1"
    for key, kind in SCHEMA_TYPES.items():
        assert isinstance(report[key], kind), key
    assert report["verdict"] in ("passed", "failed")
    for check in report["checks"]:
        assert set(check) == {"id", "kind", "title", "verdict", "evidence", "details"}
        assert check["verdict"] in ("passed", "failed", "not checked")
    for module in report["coverage"]["modules"]:
        assert set(module) == {"module", "statements", "line_percent", "branch_percent"}
    for row in report["flakiness"]:
        assert set(row) == {"check", "nodeid", "upper_bound_95", "failed"}
    assert set(report["latency"]) == {"predicted", "measured"}
    assert {path.name for path in out.iterdir()} >= set(REPORT_FILES)


def _fields(report: dict[str, Any]) -> dict[str, set[str]]:
    """The field names of a report and of its rows: what a change to the writer would move."""
    rows = {
        "checks": report["checks"],
        "modules": report["coverage"]["modules"],
        "flakiness": report["flakiness"],
    }
    return {
        "report": set(report),
        "counts": set(report["counts"]),
        "coverage": set(report["coverage"]),
        **{name: set().union(*map(set, found)) for name, found in rows.items() if found},
    }


@pytest.mark.parametrize("where", EXAMPLE_NAMES)
def test_each_example_has_the_fields_the_code_writes_today(foreign_report, where) -> None:
    """A report written now (the foreign run) and a committed example: the same fields."""
    written, example = (
        _fields(load_report(foreign_report[0])),
        _fields(load_report(EXAMPLES / where)),
    )

    for name in written.keys() & example.keys():
        assert example[name] == written[name], f"{name}: regenerate reports/examples"


@pytest.mark.parametrize("where", EXAMPLE_NAMES)
def test_each_example_is_what_the_writer_makes_of_its_json(tmp_path: Path, where: str) -> None:
    """REPORT.md and the HTML verdict table as the code writes them from the example's data."""
    example = EXAMPLES / where
    written = write_report(load_report(example), tmp_path)

    assert [path.name for path in written] == list(REPORT_FILES)
    assert load_report(tmp_path) == load_report(example)
    assert (tmp_path / "REPORT.md").read_text() == (example / "REPORT.md").read_text()
    assert _verdict_table((tmp_path / "index.html").read_text()) == _verdict_table(
        (example / "index.html").read_text()
    )


def _verdict_table(html: str) -> str:
    return html.split('<table id="verdicts">', 1)[1].split("</table>", 1)[0]


@pytest.mark.parametrize("where", EXAMPLE_NAMES)
def test_each_example_s_verdict_counts_and_summary_follow_from_its_checks(where: str) -> None:
    report = load_report(EXAMPLES / where)
    results = [CheckResult(**check) for check in report["checks"]]

    counts, verdict = tally(results)

    assert report["verdict"] == verdict
    assert report["counts"] == {key.replace(" ", "_"): n for key, n in counts.items()}
    assert report["summary"] == summary_line(
        report["phase"], report["target"], verdict, counts, results
    )


def test_the_reference_example_is_green_and_the_legacy_one_fails_for_the_right_reasons() -> None:
    """What the README shows of the examples (each example's verdict is checked above)."""
    reference, legacy = (
        load_report(EXAMPLES / "phase0-reference"),
        load_report(EXAMPLES / "phase0-legacy"),
    )
    assert reference["verdict"] == "passed"
    assert set(reference["latency"]["measured"]["functions"]) == {"echo", "resize"}
    failed = {c["id"] for c in legacy["checks"] if c["verdict"] == "failed"}
    assert failed == {"stress-100", "invoker-isolation-tests"}
    assert "evicted worker handed out again" in _checks(legacy)["stress-100"]["evidence"]


def test_a_gate_fails_when_a_check_fails_or_none_passes() -> None:
    def results(*verdicts: str) -> list[CheckResult]:
        return [CheckResult(f"c{i}", "absent", "t", v, "") for i, v in enumerate(verdicts)]

    assert tally(results("passed", "not checked")) == (
        {"passed": 1, "failed": 0, "not checked": 1},
        "passed",
    )
    assert tally(results("passed", "failed"))[1] == "failed"
    assert tally(results("not checked", "not checked"))[1] == "failed"  # nothing was shown


def test_compare_shows_flipped_checks_coverage_deltas_and_flakiness() -> None:
    done = gateproof(
        "report",
        "--compare",
        str(EXAMPLES / "phase0-legacy"),
        str(EXAMPLES / "phase0-reference"),
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "## Checks that flipped" in text
    assert "(`stress-100`) | failed | passed |" in text
    assert "(`invoker-isolation-tests`) | failed | passed |" in text
    assert "Total line coverage change: +" in text
    assert "## Flakiness: tests whose failures changed" in text
    assert "test_an_evicted_idle_worker_is_never_handed_out_again` | 100 | 0 |" in text


def test_compare_refuses_what_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text('{"schema": "other"}')
    done = gateproof("report", "--compare", str(tmp_path), str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a gateproof phase report" in done.stderr


def test_every_shipped_phase_loads_and_an_unknown_one_is_bad_input(tmp_path: Path) -> None:
    assert available_phases() == ["0", "0-direct", "1", "2", "3", "4"]
    for phase in available_phases():
        assert load_gate(phase).checks
    done = gateproof("report", "--phase", "7", cwd=tmp_path)
    assert done.returncode == 2
    assert "choose one of 0, 0-direct, 1, 2, 3, 4" in done.stderr


def test_the_html_report_opens_in_headless_chromium_with_its_verdict_table(foreign_report) -> None:
    for page in (foreign_report[0] / "index.html", EXAMPLES / "phase0-legacy" / "index.html"):
        dom = rendered_dom(page)
        assert '<table id="verdicts">' in dom
        rows = dom.split('<table id="verdicts">', 1)[1].split("</table>", 1)[0]
        assert rows.count("<tr") == 1 + len(load_report(page.parent)["checks"])
        assert 'class="failed"' in rows
        assert dom.count('src="data:image/png;base64,') >= 2  # the plots are inline


def test_gate_junit_xml_beside_the_report_validates_and_fails_the_failed_checks(
    foreign_report,
) -> None:
    import xml.etree.ElementTree as ET

    import xmlschema

    out, done = foreign_report
    path = out / "gate.junit.xml"
    assert str(path) in done.stdout  # named among the files written
    xmlschema.XMLSchema(SCHEMAS / "junit.xsd").validate(str(path))
    suite = ET.parse(path).getroot().find("testsuite")
    verdicts = {c["id"]: c["verdict"] for c in load_report(out)["checks"]}
    cases = {case.get("name").split(":", 1)[0]: case for case in suite.iter("testcase")}
    assert set(cases) == set(verdicts)
    assert {cid for cid, case in cases.items() if case.find("failure") is not None} == {
        cid for cid, v in verdicts.items() if v == "failed"
    }
    assert cases["main-no-unused-imports"].find("failure").get("message") == "unused: main.py:2 os"
    assert "not applicable" in cases["auth-coverage"].find("skipped").get("message")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("8", "3", "1")
