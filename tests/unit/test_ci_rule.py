"""One rule for the CI variable, read in one place (gateproof.testing.ci)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateproof.testing.ci import in_ci

REPO = Path(__file__).resolve().parents[2]
CI_READ = re.compile(r"""(\.get\(|getenv\(|environ\[)\s*["']CI["']""")  # a read of CI


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "Yes", " true "])
def test_ci_values_that_mean_ci(value):
    assert in_ci({"CI": value})


@pytest.mark.parametrize("value", ["", "0", "false", "no", "nope"])
def test_anything_else_is_a_local_run(value):
    assert not in_ci({"CI": value})
    assert not in_ci({})


def test_no_module_reads_ci_itself():
    readers = [
        path.relative_to(REPO).as_posix()
        for top in ("gateproof", "reference", "reports", "sim", "loadtests", "scenarios", "tests")
        for path in (REPO / top).rglob("*.py")
        if CI_READ.search(path.read_text())
    ]

    assert readers == ["gateproof/testing/ci.py"]
