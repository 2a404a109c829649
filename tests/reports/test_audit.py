"""`gateproof audit` on a foreign tree: complete reports, exact numbers, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_helpers import foreign_tree, gateproof


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("audit")
    tree = foreign_tree(tmp)
    spec = tmp / "spec.yaml"
    spec.write_text(
        "files:\n"
        "  app/services/pool.py: [WorkerPool, PoolStats]\n"
        "  app/services/queue.py: [enqueue]\n"
        "  app/main.py: [handler]\n"
    )
    done = gateproof("audit", ".", "--spec", str(spec), "--out", str(tmp / "out"), cwd=tree)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads((tmp / "out" / "audit.json").read_text())
    markdown = (tmp / "out" / "EXISTING_CODE_AUDIT.md").read_text()
    return tmp / "out", data, markdown


def _file(data: dict[str, Any], path: str) -> dict[str, Any]:
    return next(f for f in data["files"] if f["path"] == path)


def _symbol(data: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    return next(s for s in _file(data, path)["symbols"] if s["name"] == name)


def test_every_code_file_is_listed_and_test_files_are_kept_apart(audited) -> None:
    _, data, _ = audited
    assert [f["path"] for f in data["files"]] == [
        "app/__init__.py",
        "app/broken.py",
        "app/main.py",
        "app/services/__init__.py",
        "app/services/limiter.py",
        "app/services/pool.py",
    ]
    assert sorted(data["test_files"]) == [
        "conftest.py",
        "tests/conftest.py",
        "tests/test_broken.py",
        "tests/test_limiter.py",
        "tests/test_pool.py",
    ]


def test_the_suite_counts_its_failing_test_and_the_module_that_did_not_collect(audited) -> None:
    _, data, _ = audited
    suite = data["suite"]
    assert (suite["tests"], suite["passed"], suite["failed"], suite["collection_errors"]) == (
        4,
        3,
        1,
        1,
    )
    problems = {p["nodeid"]: p["outcome"] for p in suite["problems"]}
    assert problems == {
        "tests/test_broken.py": "collection error",
        "tests/test_limiter.py::test_deny_when_short_of_tokens": "failed",
    }


def test_line_and_branch_coverage_per_file_are_coverage_py_s_exact_figures(audited) -> None:
    _, data, _ = audited
    pool, limiter, main = (
        _file(data, p) for p in ("app/services/pool.py", "app/services/limiter.py", "app/main.py")
    )
    assert (pool["statements"], pool["covered_lines"], pool["line_percent"]) == (22, 19, 86.4)
    assert (pool["branches"], pool["covered_branches"], pool["branch_percent"]) == (2, 2, 100.0)
    assert (limiter["covered_lines"], limiter["statements"], limiter["branch_percent"]) == (
        3,
        6,
        0.0,
    )
    assert main["line_percent"] == 0.0  # no test imports it


def test_each_function_names_the_tests_that_run_it(audited) -> None:
    _, data, _ = audited
    release = _symbol(data, "app/services/pool.py", "WorkerPool.release")
    assert release["tests"] == ["tests/test_pool.py::test_a_released_worker_is_handed_out_again"]
    assert release["kind"] == "method" and release["lines"] == 4
    drain = _symbol(data, "app/services/pool.py", "WorkerPool.drain")
    assert (drain["tests"], drain["line_percent"]) == ([], 0.0)
    assert len(_symbol(data, "app/services/limiter.py", "allow")["tests"]) == 2
    assert data["totals"]["untested_functions"] == 3  # drain, refill, handler


def test_a_module_that_does_not_import_is_named_with_its_error(audited) -> None:
    _, data, markdown = audited
    assert _file(data, "app/broken.py")["import_error"] == (
        "ModuleNotFoundError: No module named 'not_installed_dependency'"
    )
    assert data["totals"]["import_failures"] == 1
    assert "- third-party `not_installed_dependency` (see Root causes): `app/broken.py`" in markdown
    [cause] = data["root_causes"]
    assert cause["modules"] == ["app/broken.py", "tests/test_broken.py"]
    assert cause["first_import"] == "app/broken.py:1: import not_installed_dependency"


def test_the_gap_list_compares_the_tree_with_its_spec(audited) -> None:
    _, data, markdown = audited
    gaps = data["gaps"]
    assert gaps["missing_files"] == ["app/services/queue.py"]
    assert gaps["missing_symbols"] == ["app/services/pool.py::PoolStats"]
    assert "app/services/limiter.py" in gaps["unspecified_files"]
    assert "**Specified files that do not exist** (1):" in markdown


def test_the_markdown_is_complete_and_the_html_page_is_written(audited) -> None:
    out, data, markdown = audited
    assert markdown.startswith("# Existing code audit")
    for heading in ("## The test suite", "## Modules that do not import", "## Files",
                    "## Classes, functions and methods", "## Gaps against the spec"):  # fmt: skip
        assert heading in markdown
    assert "1 failed; 1 collection errors; 1 modules do not import" in data["verdict"]
    assert 'id="files"' in (out / "audit.html").read_text()


def test_xdist_workers_lose_no_coverage_data(tmp_path: Path, audited) -> None:
    _, serial, _ = audited
    tree = foreign_tree(tmp_path)
    done = gateproof("audit", ".", "--workers", "2", "--out", str(tmp_path / "out"), cwd=tree)
    assert done.returncode == 0, done.stderr
    parallel = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert parallel["suite"]["command"][-2:] == ["-n", "2"]
    assert [(f["path"], f["covered_lines"], f["covered_branches"]) for f in parallel["files"]] == [
        (f["path"], f["covered_lines"], f["covered_branches"]) for f in serial["files"]
    ]


def test_an_empty_tree_gives_a_complete_report_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = gateproof("audit", "empty", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no Python code under" in done.stdout
    assert "No modules." in (tmp_path / "out" / "EXISTING_CODE_AUDIT.md").read_text()


def test_a_suite_that_does_not_collect_gives_a_complete_report_with_pytest_s_words(
    tmp_path: Path,
) -> None:
    tree = foreign_tree(tmp_path)
    (tree / "tests" / "conftest.py").write_text("raise RuntimeError('conftest is broken')\n")
    done = gateproof("audit", ".", "--out", str(tmp_path / "out"), cwd=tree)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert data["suite"]["exit_code"] == 4
    assert data["suite"]["tests"] == 0
    markdown = (tmp_path / "out" / "EXISTING_CODE_AUDIT.md").read_text()
    assert "conftest is broken" in markdown
    assert "## Files" in markdown  # the inventory is there all the same


def test_an_interpreter_that_cannot_run_the_suite_is_an_environment_problem(tmp_path: Path) -> None:
    tree = foreign_tree(tmp_path)
    done = gateproof("audit", ".", "--python", "/nonexistent/python", "--out", "out", cwd=tree)
    assert done.returncode == 3
    assert "give --python the path of the tree's python" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_path_that_does_not_exist_is_bad_input(tmp_path: Path) -> None:
    done = gateproof("audit", "no-such-dir", cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a directory" in done.stderr


def test_the_suite_runs_with_the_given_python_from_where_the_user_is_or_from_root(
    tmp_path: Path,
) -> None:
    import sys

    tree = foreign_tree(tmp_path)
    marker = tmp_path / "python-was-used"
    python = tmp_path / "their-python"
    python.write_text(f'#!/bin/sh\necho "$PWD" >> {marker}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    # From above the tree, auditing only its app/ package: the tests are the nearest tests/
    # above it, and both are under the user's directory, so the suite runs from there.
    done = gateproof(
        "audit", str(tree / "app"), "--python", str(python), "--out", "out", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert set(marker.read_text().split()) == {str(tmp_path)}
    data = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert data["tests"] == ["fixtures/foreign_gateway/tests"]
    assert data["run"]["cwd"] == "." and data["run"]["rootdir"] == "fixtures/foreign_gateway"
    assert data["suite"]["tests"] == 4
    assert (
        "fixtures/foreign_gateway/tests/test_pool.py::test_a_released_worker_is_handed_out_again"
        in data["suite"]["test_ids"]
    )
    assert _file(data, "services/pool.py")["line_percent"] == 86.4
    # --root chooses: the tree's own root, as before.
    marker.unlink()
    done = gateproof(
        "audit", str(tree / "app"), "--python", str(python), "--root", str(tree), "--out", "out2",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(marker.read_text().split()) == {str(tree)}
    data = json.loads((tmp_path / "out2" / "audit.json").read_text())
    assert (data["tests"], data["run"]["cwd"]) == (["tests"], "fixtures/foreign_gateway")
    assert _file(data, "services/pool.py")["line_percent"] == 86.4


def test_a_root_that_does_not_contain_the_path_is_bad_input(tmp_path: Path) -> None:
    tree = foreign_tree(tmp_path)
    done = gateproof("audit", "app", "--root", "tests", cwd=tree)
    assert done.returncode == 2
    assert "does not contain app" in done.stderr


@pytest.mark.parametrize(("flag", "refill_covered"), [([], 0.0), (["--subprocesses"], 100.0)])
def test_code_run_in_a_child_process_is_measured_only_when_asked(
    tmp_path: Path, flag: list[str], refill_covered: float
) -> None:
    tree = foreign_tree(tmp_path)
    (tree / "tests" / "test_cli.py").write_text(
        "import subprocess, sys\n\n\n"
        "def test_refill_from_the_command_line() -> None:\n"
        "    code = 'from app.services.limiter import refill; refill(1, 1, 5); refill(5, 1, 5)'\n"
        "    subprocess.run([sys.executable, '-c', code], check=True)\n"
    )
    done = gateproof("audit", ".", *flag, "--out", str(tmp_path / "out"), cwd=tree)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert _symbol(data, "app/services/limiter.py", "refill")["line_percent"] == refill_covered
