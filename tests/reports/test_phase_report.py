"""`gateproof report`: a gate on a foreign tree through a mapping, the report's files, --compare."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from report_helpers import REPO, foreign_tree, gateproof

from gateproof.testing.ci import in_ci
from reports.gates import available_phases, load_gate
from reports.phase_report import load_report

EXAMPLES = REPO / "reports" / "examples"


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


@pytest.mark.parametrize("where", ["foreign", "phase0-reference", "phase0-legacy"])
def test_report_json_follows_its_schema(foreign_report, where: str) -> None:
    report = load_report(foreign_report[0] if where == "foreign" else EXAMPLES / where)
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
    assert (
        (foreign_report[0] if where == "foreign" else EXAMPLES / where)
        .joinpath("REPORT.md")
        .exists()
    )


def test_the_reference_example_is_green_and_the_legacy_one_fails_for_the_right_reasons() -> None:
    reference, legacy = (
        load_report(EXAMPLES / "phase0-reference"),
        load_report(EXAMPLES / "phase0-legacy"),
    )
    assert reference["verdict"] == "passed" and reference["counts"]["failed"] == 0
    assert _checks(reference)["auth-coverage"]["verdict"] == "passed"
    assert _checks(reference)["load-slo"]["verdict"] == "passed"
    assert reference["latency"]["predicted"]["slo_met"] is True
    assert set(reference["latency"]["measured"]["functions"]) == {"echo", "resize"}
    assert legacy["verdict"] == "failed"
    stress = _checks(legacy)["stress-100"]
    assert stress["verdict"] == "failed" and "evicted worker handed out again" in stress["evidence"]
    assert _checks(legacy)["invoker-isolation-tests"]["verdict"] == "failed"
    assert legacy["coverage"]["line_percent"] < reference["coverage"]["line_percent"]


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


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_html_report_opens_in_headless_chromium_with_its_verdict_table(foreign_report) -> None:
    browser = _chromium()
    if browser is None:
        if in_ci():
            pytest.fail("no chromium on PATH: scripts/ensure-chromium.sh should have installed it")
        pytest.skip("no chromium on PATH (apt-get install chromium); CI installs it")
    for page in (foreign_report[0] / "index.html", EXAMPLES / "phase0-legacy" / "index.html"):
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        dom = done.stdout
        assert '<table id="verdicts">' in dom, done.stderr[-2000:]
        rows = dom.split('<table id="verdicts">', 1)[1].split("</table>", 1)[0]
        assert rows.count("<tr") == 1 + len(load_report(page.parent)["checks"])
        assert 'class="failed"' in rows
        assert dom.count('src="data:image/png;base64,') >= 2  # the plots are inline
