"""`gateproof audit` runs a tree's suite as its user does, and names the real cause of what fails.

Each foreign tree under ``fixtures/run_as_user/`` has a real project's shape
(its own conftest, imports by top-level package name, its own pyproject or
none). For each, the audit's per-test outcomes are compared, test for test,
with plain ``python -m pytest`` run from the same directory, and its root
causes with what is really wrong. Where the old rule (run from the nearest
project marker, or from the audited package when there is none) gave a wrong
diagnosis, the test runs the audit from that directory too (``--root``) and
shows the outcomes diverge from the user's, and that the report then names
the path problem and its fix instead of blaming every module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from report_helpers import FIXTURES, gateproof

_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def _copy(tmp_path: Path, name: str) -> Path:
    """A copy of one fixture tree in a directory with no project marker above it."""
    shutil.copytree(FIXTURES / "run_as_user" / name, tmp_path / name)
    return tmp_path / name


def plain_pytest(cwd: Path, *args: str) -> tuple[dict[str, str], str]:
    """What plain ``python -m pytest ARGS -rA`` from ``cwd`` says of each test, and its output."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-rA", "-p", "no:cacheprovider"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outcomes = {}
    for line in done.stdout.splitlines():
        found = _SUMMARY.match(line)
        if found:
            outcomes[found.group(2)] = found.group(1)
    return outcomes, done.stdout


def audited(cwd: Path, out: Path, *args: str) -> tuple[dict[str, Any], str]:
    done = gateproof("audit", *args, "--out", str(out), cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads((out / "audit.json").read_text()), (
        out / "EXISTING_CODE_AUDIT.md"
    ).read_text()


def audit_outcomes(data: dict[str, Any]) -> dict[str, str]:
    """The audit's outcome per test, in pytest's summary words."""
    suite = data["suite"]
    words = {"failed": "FAILED", "error": "ERROR", "collection error": "ERROR"}
    outcomes = {nodeid: "PASSED" for nodeid in suite["test_ids"]}
    outcomes |= {nodeid: "SKIPPED" for nodeid in suite["skipped_ids"]}
    outcomes |= {p["nodeid"]: words[p["outcome"]] for p in suite["problems"]}
    return outcomes


def assert_same_as_plain_pytest(cwd: Path, tests: list[str], data: dict[str, Any]) -> None:
    """Test for test, the audit says what plain pytest from ``cwd`` says.

    pytest alone stops after collection errors, before running any test; the
    audit goes on (``--continue-on-collection-errors``) to measure the tests
    that do collect. Then the plain run's outcomes must all be in the audit,
    and the whole must equal pytest's own run with that one option.
    """
    plain, output = plain_pytest(cwd, *tests)
    assert plain, output
    mine = audit_outcomes(data)
    if "Interrupted" in output:
        assert plain.items() <= mine.items()
        plain, output = plain_pytest(cwd, *tests, "--continue-on-collection-errors")
    assert mine == plain, output


def test_an_app_in_a_subfolder_is_run_from_the_user_s_directory_and_its_missing_module_named(
    tmp_path: Path,
) -> None:
    repo = _copy(tmp_path, "subfolder_app")
    service = repo / "service"
    data, markdown = audited(service, tmp_path / "out", "pkg", "--tests", "tests")
    assert data["root"] == "." and data["run"]["cwd"] == "."
    assert data["run"]["sys_path"][:2] == ["tests", "."]
    assert data["run"]["rootdir"] == ".."  # pytest's choice, as ever: the repository's root
    assert data["run"]["inifile"] == "../pyproject.toml"
    assert_same_as_plain_pytest(service, ["tests"], data)
    assert audit_outcomes(data) == {
        "tests/test_api.py": "ERROR",
        "tests/test_billing.py": "ERROR",
        "tests/test_main.py": "ERROR",
        "tests/test_clock.py::test_now_is_an_integer": "PASSED",
        "tests/test_clock.py::test_now_moves_forward": "PASSED",
    }
    [cause] = data["root_causes"]
    assert (cause["kind"], cause["name"], cause["blocks"]) == (
        "missing module",
        "pkg.core.settings",
        6,
    )
    assert cause["first_import"] == "pkg/main.py:4: from pkg.core.settings import config"
    assert cause["modules"] == [
        "pkg/api.py",
        "pkg/core/billing.py",
        "pkg/main.py",
        "tests/test_api.py",
        "tests/test_billing.py",
        "tests/test_main.py",
    ]
    assert "root cause: missing module `pkg.core.settings`" in data["verdict"]
    assert "## Where the suite ran" in markdown and "## Root causes" in markdown
    assert (
        "- **missing module: `pkg.core.settings`** blocks 6 modules; first imported at "
        "`pkg/main.py:4: from pkg.core.settings import config`" in markdown
    )


def test_from_the_repository_root_the_old_rule_s_choice_the_path_problem_is_named_once(
    tmp_path: Path,
) -> None:
    repo = _copy(tmp_path, "subfolder_app")
    service = repo / "service"
    # The old rule climbed from service/pkg to the nearest pyproject.toml and ran from there.
    data, markdown = audited(
        service, tmp_path / "out", "pkg", "--tests", "tests", "--root", str(repo)
    )
    plain, _ = plain_pytest(service, "tests")
    assert audit_outcomes(data) != plain  # the wrong diagnosis: every module "not found"
    [cause] = data["root_causes"]
    assert (cause["kind"], cause["name"], cause["path"]) == ("not on path", "pkg", "service/pkg")
    assert cause["blocks"] == 10  # every source module and every test module, named once
    assert "Run from `service` (`--root service`)" in cause["fix"]
    assert 'add `pythonpath = ["service"]` to `pyproject.toml`' in cause["fix"]
    assert markdown.count("not on path: `pkg`") == 1


def test_a_subtree_without_a_project_marker_runs_as_plain_pytest_does(tmp_path: Path) -> None:
    svc = _copy(tmp_path, "subtree") / "svc"
    data, _ = audited(svc, tmp_path / "out", "pkg", "--tests", "tests")
    assert_same_as_plain_pytest(svc, ["tests"], data)
    assert audit_outcomes(data) == {
        "tests/test_quota.py::test_a_pro_hour": "PASSED",
        "tests/test_quota.py::test_free_is_smaller": "PASSED",
        "tests/test_rates.py::test_two_tiers": "PASSED",
        "tests/test_rates.py::test_the_free_tier_is_paid_for": "FAILED",
    }
    assert data["root_causes"] == []
    assert data["totals"]["import_failures"] == 0  # the relative imports resolve in pkg
    assert data["totals"]["line_percent"] == 100.0


def test_run_from_inside_the_package_the_old_rule_s_choice_the_relative_imports_are_not_blamed(
    tmp_path: Path,
) -> None:
    svc = _copy(tmp_path, "subtree") / "svc"
    data, _ = audited(svc, tmp_path / "out", "pkg", "--tests", "tests", "--root", "pkg")
    assert all(outcome == "ERROR" for outcome in audit_outcomes(data).values())
    [cause] = data["root_causes"]
    assert (cause["kind"], cause["name"], cause["blocks"]) == ("not on path", "pkg", 6)
    assert "Run from `..` (`--root ..`)" in cause["fix"]
    assert all("attempted relative import" not in (f["import_error"] or "") for f in data["files"])


def test_a_src_layout_imports_through_pytest_s_pythonpath_as_its_user_s_run_does(
    tmp_path: Path,
) -> None:
    tree = _copy(tmp_path, "src_layout")
    data, _ = audited(tree, tmp_path / "out", "src/ledger")
    assert data["tests"] == ["tests"]
    # pytest's `pythonpath` (src), then the conftest's directory in front: seen from inside pytest
    assert data["run"]["sys_path"][:3] == ["tests", "src", "."]
    assert_same_as_plain_pytest(tree, ["tests"], data)
    assert audit_outcomes(data)["tests/test_report.py::test_line_rounds_to_cents"] == "FAILED"
    assert sum(o == "PASSED" for o in audit_outcomes(data).values()) == 3
    assert data["root_causes"] == [] and data["totals"]["import_failures"] == 0


def test_a_src_layout_without_pythonpath_names_the_package_and_the_fix(tmp_path: Path) -> None:
    tree = _copy(tmp_path, "src_layout")
    config = tree / "pyproject.toml"
    config.write_text(config.read_text().replace('pythonpath = ["src"]\n', ""))
    data, _ = audited(tree, tmp_path / "out", "src/ledger")
    assert_same_as_plain_pytest(tree, ["tests"], data)
    [cause] = data["root_causes"]
    assert (cause["kind"], cause["name"], cause["path"]) == ("not on path", "ledger", "src/ledger")
    assert cause["blocks"] == 5  # three modules of src/ledger, two test modules
    assert 'add `pythonpath = ["src"]` to `pyproject.toml`' in cause["fix"]
    assert "pip install -e ." in cause["fix"]


def test_an_uninstalled_third_party_package_is_named_as_the_distribution_to_install(
    tmp_path: Path,
) -> None:
    # the fixture's point: `jose` is not importable in this interpreter
    assert subprocess.run([sys.executable, "-c", "import jose"], capture_output=True).returncode
    tree = _copy(tmp_path, "third_party")
    data, markdown = audited(tree, tmp_path / "out", "shop")
    assert_same_as_plain_pytest(tree, ["tests"], data)
    assert audit_outcomes(data) == {
        "tests/test_cart.py::test_total": "PASSED",
        "tests/test_session.py": "ERROR",
        "tests/test_tokens.py": "ERROR",
    }
    [cause] = data["root_causes"]
    assert (cause["kind"], cause["name"], cause["distribution"]) == (
        "third-party",
        "jose",
        "python-jose",
    )
    assert cause["blocks"] == 4
    assert cause["first_import"] == "shop/tokens.py:3: from jose import jwt"
    assert "Install `python-jose` (declared by the tree, not installed" in cause["fix"]
    assert "-m pip install python-jose`" in markdown
    page = (tmp_path / "out" / "audit.html").read_text()
    assert 'id="root-causes"' in page and "Install `python-jose`" in page
    assert 'id="run"' in page


_GATE = (
    'phase: "t"\ntitle: "the suite alone"\naudit: true\n'
    "checks:\n  - {id: suite-passes, kind: tests_pass, title: the test suite passes}\n"
)


def test_a_phase_report_runs_the_audit_as_the_user_does_and_a_mapping_s_root_wins(
    tmp_path: Path,
) -> None:
    repo = _copy(tmp_path, "subfolder_app")
    service = repo / "service"
    gate = tmp_path / "gate.yaml"
    gate.write_text(_GATE)
    done = gateproof(
        "report", "--phase", str(gate), "--target", "pkg", "--out", str(tmp_path / "out"),
        cwd=service,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the suite does not pass: three modules error
    data = json.loads((tmp_path / "out" / "audit" / "audit.json").read_text())
    assert data["run"]["cwd"] == "." and data["tests"] == ["tests"]
    assert [(c["kind"], c["name"]) for c in data["root_causes"]] == [
        ("missing module", "pkg.core.settings")
    ]
    assert "root cause: missing module `pkg.core.settings`" in done.stderr  # the step's summary
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["root"] == "."
    # A mapping that says `root:` keeps it: the suite runs from the repository's root.
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(f"root: {repo}\nsource: service/pkg\ntests: [service/tests]\n")
    done = gateproof(
        "report", "--phase", str(gate), "--target", "pkg", "--mapping", str(mapping),
        "--out", str(tmp_path / "mapped"), cwd=service,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    data = json.loads((tmp_path / "mapped" / "audit" / "audit.json").read_text())
    assert data["run"]["cwd"] == ".."  # the repository's root, seen from service/
    assert [(c["kind"], c["name"]) for c in data["root_causes"]] == [("not on path", "pkg")]


def test_report_root_is_bad_input_with_a_mapping_or_a_built_in_target(tmp_path: Path) -> None:
    for extra in (["--target", "reference"], ["--target", ".", "--mapping", "m.yaml"]):
        done = gateproof("report", "--phase", "0", "--root", ".", *extra, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "only with --target PATH and no --mapping" in done.stderr
