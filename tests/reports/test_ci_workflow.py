"""docs/ci/phase-gate.yml: the example workflow runs the Phase 0 gate and keeps its report."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from report_helpers import REPO

from gateproof.cli import build_parser

WORKFLOW = REPO / "docs" / "ci" / "phase-gate.yml"


def _steps() -> list[dict[str, Any]]:
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers
    (job,) = data["jobs"].values()
    return job["steps"]


def test_the_workflow_runs_the_phase_0_gate_with_options_the_cli_has() -> None:
    runs = [s["run"] for s in _steps() if str(s.get("run", "")).startswith("gateproof ")]
    assert len(runs) == 1
    args = build_parser().parse_args(shlex.split(runs[0])[1:])
    assert (args.command, args.phase, args.target) == ("report", "0", "reference")


def test_the_report_directory_is_uploaded_even_when_the_gate_fails() -> None:
    steps = _steps()
    gate = next(s for s in steps if str(s.get("run", "")).startswith("gateproof "))
    out = build_parser().parse_args(shlex.split(gate["run"])[1:]).out
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert steps.index(upload) > steps.index(gate)
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == str(out)


def test_the_workflow_uses_the_python_ci_runs() -> None:
    setup = next(s for s in _steps() if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with the GitHub workflow schema it ships (SchemaStore's; no network)."""
    command = [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run(
        [*command, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_workflow_is_valid_for_github_and_a_broken_one_is_not(tmp_path: Path) -> None:
    done = _schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    done = _schema_check(broken)
    assert done.returncode == 1 and "'runs-on' is a required property" in done.stdout
