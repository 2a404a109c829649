"""Every kind of gate check, on a tree that passes it and a tree that fails it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from reports.checks import FAILED, NOT_CHECKED, PASSED, Evidence, run_check
from reports.mapping import Mapping

GOOD = {
    "main.py": """
        from fastapi import FastAPI

        from app.factory import create_container

        app = FastAPI(lifespan=create_container)
    """,
    "services/invoker.py": """
        class Invoker:
            def __init__(self, backend):
                self.backend = backend

            async def invoke(self, name, payload):
                worker = await self.backend.acquire_worker(name)
                try:
                    return await worker.call(payload)
                finally:
                    await self.backend.release_worker(name, worker)
    """,
    "services/clients.py": "class ProvisionClient:\n    pass\n",
}
BAD = {
    "main.py": """
        import json
        import os

        from fastapi import FastAPI

        app = FastAPI()


        @app.post("/invoke")
        async def invoke(body: dict):
            event = app.state.event_builder.build(body)
            return json.dumps(event)
    """,
    "services/invoker.py": """
        from starlette.requests import Request


        class Invoker:
            def __init__(self, pool_manager, container_manager):
                self.pool_manager = pool_manager
                self.container_manager = container_manager

            async def invoke(self, name, payload):
                if self.pool_manager:
                    worker = await self.pool_manager.acquire_worker(name)
                else:
                    worker = await self.container_manager.get(name)
    """
    + "".join(f"                step_{i} = {i}\n" for i in range(30))
    + """
                return await worker.call(payload)
    """,
    "services/container_manager.py": "class HttpContainerManager:\n    pass\n",
}


def tree(tmp_path: Path, files: dict[str, str], **targets: Any) -> Mapping:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return Mapping(root=tmp_path, source=tmp_path, tests=[], targets=targets)


@pytest.fixture
def good(tmp_path: Path) -> Mapping:
    return tree(tmp_path / "good", GOOD)


@pytest.fixture
def bad(tmp_path: Path) -> Mapping:
    return tree(tmp_path / "bad", BAD)


def verdict(
    check: dict[str, Any], mapping: Mapping, evidence: Evidence | None = None
) -> tuple[str, str]:
    result = run_check({"id": "c", "title": "t", **check}, mapping, evidence or Evidence())
    return result.verdict, result.evidence


INVOKER = "services/invoker.py::Invoker"


def test_method_length(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "method_length", "target": INVOKER, "max_lines": 30}
    assert verdict(check, good)[0] == PASSED
    state, evidence = verdict(check, bad)
    assert state == FAILED and "over the limit: Invoker.invoke (37)" in evidence


def test_calls_none(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "calls_none", "target": "main.py", "names": ["json.dumps", "event_builder"]}
    assert verdict(check, good)[0] == PASSED
    state, evidence = verdict(check, bad)
    assert state == FAILED
    assert "main.py:11 calls app.state.event_builder.build" in evidence
    assert "main.py:12 calls json.dumps" in evidence


def test_no_attribute_branch(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "no_attribute_branch", "target": INVOKER, "attributes": ["pool_manager"]}
    assert verdict(check, good)[0] == PASSED
    assert verdict(check, bad) == (FAILED, "services/invoker.py:10 branches on self.pool_manager")


def test_absent(good: Mapping, bad: Mapping) -> None:
    check = {
        "kind": "absent",
        "targets": ["services/container_manager.py", "services/container_cache.py"],
    }
    assert verdict(check, good) == (PASSED, "none of them exists")
    assert verdict(check, bad) == (FAILED, "still present: services/container_manager.py")


def test_present_files_and_symbols(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "present", "targets": ["services/clients.py::ProvisionClient", "main.py"]}
    assert verdict(check, good)[0] == PASSED
    assert verdict(check, bad) == (FAILED, "missing: services/clients.py")
    methods = {"kind": "present", "targets": [f"{INVOKER}.invoke", f"{INVOKER}._acquire_worker"]}
    assert verdict(methods, good) == (FAILED, f"missing: {INVOKER}._acquire_worker")


def test_imports_none(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "imports_none", "target": "services/**", "modules": ["fastapi", "starlette"]}
    assert verdict(check, good)[0] == PASSED
    assert verdict(check, bad) == (FAILED, "services/invoker.py imports starlette.requests")


def test_unused_imports(good: Mapping, bad: Mapping) -> None:
    check = {"kind": "unused_imports", "target": "main.py"}
    assert verdict(check, good) == (PASSED, "every import is used")
    assert verdict(check, bad) == (FAILED, "unused: main.py:2 os")


def _audit(files: dict[str, tuple[int, int]], problems: list[str] = (), tests: int = 3) -> Evidence:
    return Evidence(
        audit={
            "files": [
                {
                    "path": p,
                    "statements": s,
                    "covered_lines": c,
                    "line_percent": round(100 * c / s, 1),
                }
                for p, (s, c) in files.items()
            ],
            "suite": {
                "exit_code": 1 if problems else 0,
                "test_ids": [f"tests/test_x.py::test_{i}" for i in range(tests)],
                "problems": [{"nodeid": n, "outcome": "failed", "message": ""} for n in problems],
            },
        }
    )


def test_coverage_sums_statements_over_the_files_a_pattern_matches(good: Mapping) -> None:
    check = {"kind": "coverage", "target": "services/**", "threshold": 70}
    passing = _audit(
        {"services/invoker.py": (10, 8), "services/clients.py": (2, 1), "main.py": (5, 0)}
    )
    failing = _audit(
        {"services/invoker.py": (10, 5), "services/clients.py": (2, 1), "main.py": (5, 5)}
    )
    assert verdict(check, good, passing)[0] == PASSED  # 9 of 12: 75%
    state, evidence = verdict(check, good, failing)
    assert state == FAILED and "50.0% (threshold 70%)" in evidence


def test_tests_pass(good: Mapping) -> None:
    check = {"kind": "tests_pass"}
    assert verdict(check, good, _audit({}))[0] == PASSED
    state, evidence = verdict(check, good, _audit({}, ["tests/test_x.py::test_1"]))
    assert state == FAILED and "tests/test_x.py::test_1" in evidence
    elsewhere = {"kind": "tests_pass", "selection": "tests/test_invoker_isolation.py"}
    assert verdict(elsewhere, good, _audit({})) == (
        FAILED,
        "no test matches tests/test_invoker_isolation.py",
    )


def _flakiness(failed: int) -> dict[str, Any]:
    return {
        "verdict": "FAILED" if failed else "PASSED",
        "passed_all": not failed,
        "consecutive_passes": 0 if failed else 100,
        "upper_bound_95": 0.03,
        "totals": {"runs": 100, "failed": failed},
        "tests": [
            {
                "nodeid": "t::a",
                "upper_bound_95": 0.03,
                "failed": failed,
                "errors": 0,
                "signatures": [{"type": "AssertionError", "location": "t.py:3"}] if failed else [],
            }
        ],
    }


def test_stress_needs_every_test_to_pass_n_consecutive_runs(good: Mapping) -> None:
    check = {"id": "c", "kind": "stress", "selection": "tests/stress", "count": 100}
    assert verdict(check, good, Evidence(stress={"c": _flakiness(0)}))[0] == PASSED
    assert verdict(check, good, Evidence(stress={"c": _flakiness(2)}))[0] == FAILED
    assert verdict(check, good, Evidence())[0] == NOT_CHECKED


@pytest.mark.parametrize(
    "check",
    [
        {
            "kind": "method_length",
            "target": "services/lambda_invoker.py::LambdaInvoker",
            "max_lines": 30,
        },
        {"kind": "calls_none", "target": "app.py", "names": ["json.dumps"]},
        {"kind": "coverage", "target": "auth/**", "threshold": 80},
        {"kind": "unused_imports", "target": "server.py"},
        {"kind": "imports_none", "target": "domain/**", "modules": ["fastapi"]},
    ],
    ids=lambda c: c["kind"],
)
def test_a_target_missing_from_the_tree_is_not_checked_never_passed(
    good: Mapping, check: dict
) -> None:
    state, evidence = verdict(check, good, _audit({}))
    assert state == NOT_CHECKED
    assert "mapping file" in evidence
