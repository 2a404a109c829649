"""`gateproof bench mutation` on a tiny module: one mutant its test kills, two it misses.

The campaign is real (mutmut runs), on a module small enough to take seconds,
so the tooling is tested without the long campaigns over the pool and breaker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from gateproof.bench import _mutation_equivalents
from gateproof.bench._mutation_scope import OUTSIDE_CONTRACT, outside_contract
from gateproof.bench.mutation import (
    TARGETS,
    Mutant,
    TargetResult,
    function_of,
    locate,
    print_result,
)
from gateproof.cli import EXIT_FAILED, EXIT_USAGE, main

MODULE = """\
def double(x):
    return x * 2


def is_adult(age):
    return age >= 18
"""
TESTS = """\
from calc.core import double, is_adult


def test_double():
    assert double(3) == 6


def test_is_adult():
    assert is_adult(30)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "core.py").write_text(MODULE)
    (root / "tests" / "test_core.py").write_text(TESTS)
    return root


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_it_scores_a_module_lists_its_survivors_and_leaves_nothing_behind(
    project, tmp_path, monkeypatch, capsys
):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setitem(
        _mutation_equivalents.EQUIVALENTS,
        ("calc/core.py", "is_adult", "return age >= 18 -> return age >= 19"),
        "declared equivalent for this test",
    )
    before = files_under(project)
    out = tmp_path / "out" / "mutation.json"

    code = main(
        [
            "bench",
            "mutation",
            "--root",
            str(project),
            "--module",
            "calc/core.py",
            "--tests",
            "tests/test_core.py",
            "--json",
            str(out),
        ]
    )

    printed = capsys.readouterr().out
    assert code == EXIT_FAILED, printed  # 2 of 3 non-equivalent mutants killed: below 90%
    assert "4 mutants: 2 killed, 1 survived, 1 equivalent; score 66.7%" in printed
    assert "survived  calc/core.py:6  return age >= 18 -> return age > 18" in printed
    assert "equivalent  calc/core.py:6  return age >= 18 -> return age >= 19" in printed
    report = json.loads(out.read_text())
    (target,) = report["targets"]
    assert (target["mutants"], target["killed"], target["survived"]) == (4, 2, 1)
    assert target["score"] == 66.7
    (survivor,) = target["survivors"]
    assert (survivor["line"], survivor["function"]) == (6, "is_adult")
    assert sorted(target["statuses"].values()) == ["killed", "killed", "survived", "survived"]
    assert files_under(project) == before, "the campaign wrote into the project"
    assert list(scratch.iterdir()) == [], "the campaign left its temporary copy behind"


def test_module_without_tests_is_bad_input(project, capsys):
    code = main(["bench", "mutation", "--root", str(project), "--module", "calc/core.py"])

    assert code == EXIT_USAGE
    assert "--module needs --tests" in capsys.readouterr().err


def test_a_missing_path_is_bad_input(project, capsys):
    code = main(
        ["bench", "mutation", "--root", str(project), "--module", "calc/nope.py", "--tests", "t"]
    )

    assert code == EXIT_USAGE
    assert "calc/nope.py not found" in capsys.readouterr().err


def test_the_shipped_targets_name_files_that_exist():
    root = Path(__file__).resolve().parents[2]
    for target in TARGETS.values():
        for path in (target.module, *target.tests, *target.unit_tests):
            assert (root / path).exists(), f"{target.name}: {path} is missing"


def test_the_headline_is_the_conformance_suite_alone_and_unit_tests_are_a_second_measure():
    assert TARGETS["pool"].tests == ("tests/stress",)
    assert TARGETS["breaker"].tests == ("tests/breaker",)
    with_units = TARGETS["pool"].with_unit_tests()
    assert with_units.tests[0] == "tests/stress"
    assert "tests/unit/test_pool_reference.py" in with_units.tests


def test_the_scope_names_classes_functions_and_attributes_that_exist():
    sources = {module for module, _ in OUTSIDE_CONTRACT}
    root = Path(__file__).resolve().parents[2]
    for module in sources:
        text = (root / module).read_text()
        for where, name in OUTSIDE_CONTRACT:
            if where == module:
                last = name.partition("(")[0].rsplit(".", 1)[-1]
                assert (
                    f"class {last}" in text or f"def {last}" in text or (f"self.{last}" in text)
                ), f"{module}: {name} is not there any more; update _mutation_scope.py"


def test_outside_the_contract_by_class_method_or_attribute():
    pool = "reference/gateway/services/pool.py"
    breaker = "reference/gateway/core/breaker.py"

    assert outside_contract(pool, "PoolManager.acquire") is not None  # a whole class
    assert outside_contract(pool, "ContainerPool.acquire", "a -> b") is None
    assert outside_contract(breaker, "CircuitBreaker.snapshot") is not None  # a method
    counter = "self.successes += 1 -> self.successes += 2"
    assert outside_contract(breaker, "CircuitBreaker.record_success", counter) is not None
    window = "self._window_failures = 0 -> self._window_failures = 1"
    assert outside_contract(breaker, "CircuitBreaker._move", window) is None
    per_call = "limit = self.config.acquire_timeout if timeout is None else timeout -> x"
    assert outside_contract(pool, "ContainerPool.acquire", per_call) is not None  # an argument
    assert outside_contract(pool, "ContainerPool.acquire", "deadline = t + limit -> x") is None
    logged = "task.add_done_callback(_retrieve_exception) -> task.add_done_callback(None)"
    assert outside_contract(pool, "ContainerPool._start_provision", logged) is not None


def test_the_score_is_over_the_contract_and_the_module_score_is_printed_beside_it(capsys):
    reason = "no adapter reaches it"
    mutants = [
        Mutant("m1", "killed"),
        Mutant("m2", "killed"),
        Mutant("m3", "survived", "f", 3, "a -> b"),
        Mutant("m4", "survived", "g", 9, "c -> d", outside_contract=reason),
        Mutant("m5", "survived", "g", 9, "c -> e", outside_contract=reason),
        Mutant("m6", "killed", outside_contract=reason),
    ]
    result = TargetResult("t", "m.py", ["tests/x"], mutants)

    assert round(result.score, 1) == 66.7  # 2 of the contract's 3
    assert result.score_module == 50.0  # 3 of 6
    report = result.to_json()
    assert report["outside_contract"] == {
        "mutants": 3,
        "killed": 1,
        "survived": 2,
        "reasons": {"m4": reason, "m5": reason, "m6": reason},
    }
    assert report["contract"]["mutants"] == 3
    print_result(result)
    printed = capsys.readouterr().out
    assert "score 50.0% of non-equivalent mutants killed" in printed
    assert "contract subject: 3 mutants, 2 killed; score 66.7%" in printed
    assert "outside the contract: 3 mutants, 1 killed anyway" in printed
    assert f"3 mutants: {reason}" in printed
    assert "survived  m.py:9  c -> d  [survived]  (outside the contract)" in printed


def test_with_unit_tests_does_not_go_with_module(project, capsys):
    code = main(
        [
            "bench",
            "mutation",
            "--root",
            str(project),
            "--module",
            "calc/core.py",
            "--tests",
            "tests",
            "--with-unit-tests",
        ]
    )

    assert code == EXIT_USAGE
    assert "--with-unit-tests is for the shipped targets" in capsys.readouterr().err


def test_mutant_names_map_to_functions_and_diffs_to_module_lines():
    assert function_of("a.b.xǁContainerPoolǁacquire__mutmut_9") == "ContainerPool.acquire"
    assert function_of("a.b.x__retrieve_exception__mutmut_2") == "_retrieve_exception"
    diff = (
        "--- m.py\n+++ m.py\n@@ -11,4 +11,4 @@\n     a = 1\n"
        "     loop = get()\n"
        "-    limit = x if t is None else t\n"
        "+    limit = x if t is not None else t\n"
    )

    assert locate(diff, 156) == (
        156 + 12,
        "limit = x if t is None else t -> limit = x if t is not None else t",
    )


def test_a_project_with_its_own_mutmut_settings_is_bad_input(project, capsys):
    (project / "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["calc"]\n')

    code = main(
        [
            "bench",
            "mutation",
            "--root",
            str(project),
            "--module",
            "calc/core.py",
            "--tests",
            "tests",
        ]
    )

    assert code == EXIT_USAGE
    assert "[tool.mutmut]" in capsys.readouterr().err


SLOW_TESTS = """\
import time

from calc.core import double, is_adult


def test_double():
    time.sleep(60)  # long enough for the campaign to be stopped while it runs
    assert double(3) == 6
"""


def test_a_campaign_stopped_with_sigterm_leaves_no_process_and_no_copy_behind(project, tmp_path):
    """A cancelled CI job sends SIGTERM: mutmut's process group and the scratch copy go too."""
    (project / "tests" / "test_core.py").write_text(SLOW_TESTS)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gateproof", "bench", "mutation", "--root", str(project)),
            *("--module", "calc/core.py", "--tests", "tests/test_core.py"),
        ],
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(
            "mutmut" in " ".join(child.cmdline())
            for child in psutil.Process(process.pid).children(recursive=True)
        ):
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "mutmut never started"
            time.sleep(0.2)
        campaign = psutil.Process(process.pid).children(recursive=True)

        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, output
    assert "interrupted" in output
    _, alive = psutil.wait_procs(campaign, timeout=10)
    assert alive == [], f"left running: {[child.cmdline() for child in alive]}"
    assert list(scratch.iterdir()) == [], "the campaign left its temporary copy behind"
