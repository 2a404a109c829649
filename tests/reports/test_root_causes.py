"""Grouping import and collection failures by cause: the rules, on small inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.root_causes import (
    Failure,
    declared_distributions,
    distribution_for,
    root_causes,
    tree_packages,
)


@pytest.mark.parametrize(
    ("module", "declared", "expected"),
    [
        ("jose", ["fastapi", "python-jose[cryptography]"], "python-jose"),
        ("yaml", ["PyYAML"], "PyYAML"),
        ("dateutil", ["python-dateutil"], "python-dateutil"),
        ("redis", ["Redis"], "Redis"),
        ("sklearn", ["scikit-learn"], None),  # too far from its import name to guess
        ("jose", ["josepy"], None),
    ],
)
def test_a_missing_module_is_matched_to_the_distribution_the_tree_declares(
    module: str, declared: list[str], expected: str | None
) -> None:
    names = declared_distributions([]) + [d.split("[")[0] for d in declared]
    assert distribution_for(module, names) == expected


def test_declared_distributions_come_from_pyproject_and_requirements_files(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["python-jose[cryptography]>=3", "httpx"]\n'
        '[project.optional-dependencies]\ndev = ["pytest>=8"]\n'
    )
    (tmp_path / "requirements-dev.txt").write_text("# tools\n-r base.txt\nPyYAML==6.0 # yaml\n")
    assert declared_distributions([tmp_path]) == ["python-jose", "httpx", "pytest", "PyYAML"]


def test_one_cause_groups_every_module_it_blocks_and_keeps_the_first_import_in_code(
    tmp_path: Path,
) -> None:
    (tmp_path / "pkg" / "core").mkdir(parents=True)
    (tmp_path / "pkg" / "core" / "clock.py").write_text("")
    packages = tree_packages(tmp_path)
    assert packages["pkg"] == "pkg" and packages["core"] == "pkg/core"
    missing = "ModuleNotFoundError: No module named 'pkg.core.settings'"
    failures = [
        Failure("tests/test_a.py", missing, "pkg.core.settings", "tests/a.py:1: x", is_test=True),
        Failure("pkg/main.py", missing, "pkg.core.settings", "pkg/main.py:4: from ..."),
        Failure("pkg/api.py", "ImportError: cannot import name 'x' from 'pkg.b' (/a/pkg/b.py)"),
        Failure("pkg/cli.py", "ImportError: cannot import name 'x' from 'pkg.b' (/a/pkg/b.py)"),
        Failure("pkg/tokens.py", "ModuleNotFoundError: No module named 'jose'", "jose"),
    ]
    causes = root_causes(
        failures, packages=packages, declared=["python-jose"], installed={}, root=tmp_path
    )
    assert [(c["kind"], c["name"], c["blocks"]) for c in causes] == [
        ("error", "ImportError: cannot import name 'x' from 'pkg.b'", 2),
        ("missing module", "pkg.core.settings", 2),
        ("third-party", "jose", 1),
    ]
    assert causes[1]["first_import"] == "pkg/main.py:4: from ..."  # code before tests
    assert causes[2]["distribution"] == "python-jose"


def test_a_package_in_the_tree_that_is_not_on_the_path_names_the_directory_to_add(
    tmp_path: Path,
) -> None:
    (tmp_path / "src" / "ledger").mkdir(parents=True)
    (tmp_path / "src" / "ledger" / "__init__.py").write_text("")
    failure = Failure("tests/test_a.py", "ModuleNotFoundError: No module named 'ledger'", "ledger")
    [cause] = root_causes(
        [failure],
        packages=tree_packages(tmp_path),
        declared=[],
        installed={},
        root=tmp_path,
        inifile="pyproject.toml",
    )
    assert (cause["kind"], cause["path"]) == ("not on path", "src/ledger")
    assert cause["fix"] == (
        "`ledger` is at `src/ledger`: Run from `src` (`--root src`), or add "
        '`pythonpath = ["src"]` to `pyproject.toml`, or install the tree (`pip install -e .`)'
    )
