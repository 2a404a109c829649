"""What CI systems read of a phase report: JUnit XML, the job summary, ::error annotations."""

from __future__ import annotations

import copy
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from report_helpers import REPO

from reports.github import ANNOTATIONS_PER_STEP, error_annotations, publish
from reports.job_summary import job_summary
from reports.junit import junit_xml
from reports.phase_report import load_report

EXAMPLES = REPO / "reports" / "examples"
SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "schemas" / "junit.xsd")


@pytest.fixture
def legacy() -> dict[str, Any]:
    return load_report(EXAMPLES / "phase0-legacy")


def _with_check(report: dict[str, Any], **check: Any) -> dict[str, Any]:
    report = copy.deepcopy(report)
    report["checks"].append(
        {"id": "odd", "kind": "calls_none", "title": "odd text", "verdict": "failed",
         "evidence": "", "details": {}, **check}
    )  # fmt: skip
    return report


# --- JUnit XML -------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["phase0-reference", "phase0-legacy"])
def test_the_junit_of_each_example_validates_against_the_schema_ci_systems_read(
    example: str,
) -> None:
    report = load_report(EXAMPLES / example)
    text = junit_xml(report)
    SCHEMA.validate(text)
    suite = ET.fromstring(text).find("testsuite")
    assert len(suite.findall("testcase")) == len(report["checks"])
    assert suite.get("failures") == str(report["counts"]["failed"])
    assert suite.get("skipped") == str(report["counts"]["not_checked"])


def test_a_failed_check_is_a_failure_with_its_evidence_and_a_skipped_one_says_why(legacy) -> None:
    cases = {
        case.get("name").split(":", 1)[0]: case
        for case in ET.fromstring(junit_xml(legacy)).iter("testcase")
    }
    checks = {c["id"]: c for c in legacy["checks"]}
    stress = cases["stress-100"].find("failure")
    assert stress.get("message") == checks["stress-100"]["evidence"]
    assert "evicted worker handed out again" in stress.get("message")
    assert stress.get("type") == "stress"
    assert (
        cases["auth-coverage"].find("skipped").get("message")
        == (checks["auth-coverage"]["evidence"])
    )
    passed = cases["suite-passes"]
    assert passed.find("failure") is None and passed.find("skipped") is None
    assert passed.find("system-out").text == checks["suite-passes"]["evidence"]


def test_control_characters_in_evidence_still_give_valid_xml(legacy) -> None:
    nasty = 'ESC \x1b[31m red \x00 NUL, ]]> & <tag> "quoted" ünïcode \U0001f600'
    text = junit_xml(_with_check(legacy, evidence=nasty))
    SCHEMA.validate(text)
    case = next(c for c in ET.fromstring(text).iter("testcase") if c.get("name").startswith("odd"))
    assert case.find("failure").get("message").endswith('& <tag> "quoted" ünïcode \U0001f600')
    # the defect this guards against: ElementTree writes the ESC as is, and no parser reads it
    naive = ET.Element("testsuites")
    ET.SubElement(naive, "testsuite", name="x", tests="1", failures="1", errors="0").text = nasty
    with pytest.raises(ET.ParseError):
        ET.fromstring(ET.tostring(naive, encoding="unicode"))


def test_the_schema_rejects_what_junit_consumers_would_not_read(legacy) -> None:
    root = ET.fromstring(junit_xml(legacy))
    del root.find("testsuite").attrib["tests"]  # a required attribute
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(ET.tostring(root, encoding="unicode"))


# --- the job summary --------------------------------------------------------------------------


def test_the_summary_is_the_verdict_table_in_markdown(legacy) -> None:
    text = job_summary(legacy)
    assert text.startswith("### ❌ Phase 0 gate on legacy: FAILED")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(legacy["checks"])
    assert any(r.startswith("| `stress-100`") and "❌ FAILED" in r for r in rows)
    assert any(r.startswith("| `auth-coverage`") and "NOT CHECKED" in r for r in rows)


def test_evidence_with_pipes_and_newlines_keeps_the_table_whole(legacy) -> None:
    long = "a | b\nc " + "x" * 1000
    rows = [r for r in job_summary(_with_check(legacy, evidence=long)).splitlines() if "`odd`" in r]
    assert len(rows) == 1
    assert "a \\| b c" in rows[0] and len(rows[0]) < 400 and rows[0].endswith("… |")


def test_with_github_step_summary_set_the_summary_is_appended(
    legacy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    step_file = tmp_path / "step_summary.md"
    step_file.write_text("## an earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_file))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    written, annotations = publish(legacy, os.environ)
    assert written == [step_file]
    assert step_file.read_text() == "## an earlier step's summary\n" + job_summary(legacy)
    assert annotations == []  # the summary file alone is not GitHub Actions


def test_the_summary_option_writes_the_same_text_anywhere(
    legacy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    target = tmp_path / "deep" / "summary.md"
    assert publish(legacy, os.environ, summary=target) == ([target], [])
    assert target.read_text() == job_summary(legacy)


# --- ::error annotations ----------------------------------------------------------------------


def _unescape(text: str, *, prop: bool) -> str:
    """How the Actions runner reads a workflow command back (its ActionCommand, in Python)."""
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for escaped, raw in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, raw)
    return text


def _runner_reads(output: str) -> list[tuple[str, dict[str, str], str]]:
    """The commands a runner finds in a step's output: one per line starting with ``::``."""
    found = []
    for line in output.splitlines():
        if not line.startswith("::"):
            continue
        head, _, data = line[2:].partition("::")
        command, _, props = head.partition(" ")
        properties = dict(p.split("=", 1) for p in props.split(",") if "=" in p)
        found.append(
            (
                command,
                {k: _unescape(v, prop=True) for k, v in properties.items()},
                _unescape(data, prop=False),
            )
        )
    return found


def test_under_github_actions_each_failed_check_is_an_error_annotation(
    legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    _, annotations = publish(legacy, os.environ)
    read = _runner_reads("\n".join(annotations))
    assert [c for c, _, _ in read] == ["error", "error"]
    assert [p["title"] for _, p, _ in read] == [
        "Phase 0 gate on legacy: stress-100 failed",
        "Phase 0 gate on legacy: invoker-isolation-tests failed",
    ]
    assert "evicted worker handed out again" in read[0][2]
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert publish(legacy, os.environ) == ([], [])


def test_annotations_are_escaped_as_the_runner_unescapes_them(legacy) -> None:
    title = "odd: title, with 100% of it"
    evidence = "line one: a, b\r\nline two 50%0A literal"
    report = _with_check(legacy, id="tests/a.py::b,c", title=title, evidence=evidence)
    lines = error_annotations(report)
    assert all("\n" not in line and "\r" not in line for line in lines)
    _, props, message = _runner_reads("\n".join(lines))[-1]
    assert props == {"title": "Phase 0 gate on legacy: tests/a.py::b,c failed"}
    assert message == f"{title}: {evidence}"
    # the defect this guards against: unescaped, the command ends at the newline and the
    # rest of the evidence becomes a plain log line; a comma in a property splits it
    naive = f"::error title=gate: {title}::{title}: {evidence}"
    _, naive_props, naive_message = _runner_reads(naive)[0]
    assert naive_message != f"{title}: {evidence}"
    assert naive_props.get("title") != f"gate: {title}"


def test_past_ten_failed_checks_the_tenth_annotation_names_the_rest(legacy) -> None:
    report = copy.deepcopy(legacy)
    report["checks"] = [
        {"id": f"c{i}", "kind": "absent", "title": f"check {i}", "verdict": "failed",
         "evidence": f"found {i}", "details": {}}
        for i in range(14)
    ]  # fmt: skip
    read = _runner_reads("\n".join(error_annotations(report)))
    assert len(read) == ANNOTATIONS_PER_STEP == 10
    assert read[-1][1]["title"] == "Phase 0 gate on legacy: 5 more checks failed"
    assert read[-1][2].startswith("also failed: c9, c10, c11, c12, c13")
