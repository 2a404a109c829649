"""The Phase 0 audit of a gateway tree: what code exists, what is tested, and what is missing.

:func:`audit` puts together the inventory (:mod:`reports.inventory`), where
and how the suite runs and which modules do not import there
(:mod:`reports.import_probe`), one run of the tree's own suite under coverage
(:mod:`reports.suite_run`), the causes behind the failures
(:mod:`reports.root_causes`) and, given a spec of expected files and symbols,
the gap list. It always returns a complete audit: an empty tree, a suite that
does not collect or an interpreter without pytest is written down as such,
never raised.

The suite runs where the user would run it (:func:`plan_for`): from the
current directory when the audited code and its tests are under it, as
``python -m pytest`` does; pytest itself then finds its rootdir and config
file as it always would.

``audit.json`` fields (an interface: ``gateproof report`` reads them):
``schema``, ``tree``, ``root`` (where the suite ran), ``source``, ``tests``,
``python``, ``generated_at``, ``verdict``, ``run`` (``cwd``, ``python``,
``python_version``, ``rootdir``, ``inifile``, ``sys_path``: the first entries,
``note``), ``root_causes`` (see :mod:`reports.root_causes`: ``kind``, ``name``,
``blocks``, ``modules``, ``first_import``, ``error``, ``distribution``,
``fix``), ``suite`` (see :class:`reports.suite_run.SuiteRun`),
``totals`` (``files``, ``lines``, ``classes``, ``functions``, ``methods``,
``statements``, ``covered_lines``, ``line_percent``, ``branches``,
``covered_branches``, ``branch_percent``, ``import_failures``,
``parse_failures``, ``untested_functions``), ``files`` (per file: ``path``,
``lines``, ``parse_error``, ``import_error``, ``measured``, ``statements``,
``covered_lines``, ``line_percent``, ``branches``, ``covered_branches``,
``branch_percent``, ``symbols``: ``name``, ``kind``, ``line``, ``end_line``,
``lines``, ``statements``, ``covered_lines``, ``line_percent``,
``branch_percent``, ``tests``), ``test_files`` and ``gaps`` (``spec``,
``missing_files``, ``missing_symbols``, ``unspecified_files``,
``unspecified_symbols``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from reports.import_probe import TreeView, probe_tree, shown_path
from reports.inventory import SourceFile, inventory
from reports.paths import shown
from reports.root_causes import (
    Failure,
    declared_distributions,
    root_causes,
    tree_packages,
)
from reports.suite_run import SuiteRun, relocate, run_suite, suite_env

SCHEMA = "gateproof.audit/1"
ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini", ".git")


class SpecError(ValueError):
    """A spec file that cannot be read; the message names the file and what to fix."""


@dataclass
class AuditPlan:
    """What to audit: the code under ``source``, with the suite run from ``root``.

    ``tests`` are relative to ``root`` (or absolute when outside it).
    """

    source: Path
    root: Path
    tests: list[str]
    python: str
    workers: str = "0"
    spec: Path | None = None
    progress: Callable[[str], None] | None = None
    subprocesses: bool = False


def find_root(source: Path) -> Path:
    """The tree's root: the nearest directory at or above ``source`` with a project marker."""
    source = source.resolve()
    for directory in [source, *source.parents]:
        if any((directory / marker).exists() for marker in ROOT_MARKERS):
            return directory
    return source


def nearest_tests(source: Path) -> Path | None:
    """The tests of the code at ``source``: the nearest ``tests/`` at or above it, to its root."""
    source = source.resolve()
    top = find_root(source)
    for directory in [source, *source.parents]:
        if (directory / "tests").is_dir():
            return directory / "tests"
        if directory == top:
            return None
    return None


def project_dirs(source: Path, root: Path) -> list[Path]:
    """Where the tree may declare its dependencies: from ``source`` up to its project root."""
    top = find_root(source)
    found = [root]
    for directory in [source, *source.parents]:
        found.append(directory)
        if directory == top:
            break
    return list(dict.fromkeys(found))


def run_root(source: Path, tests: Sequence[Path], cwd: Path, root: Path | None = None) -> Path:
    """Where the suite runs: ``root`` if given; else where the user is, if the code is under it.

    ``python -m pytest`` from the user's directory puts that directory first
    on ``sys.path``; the code's own project root (the nearest marker) is only
    used when the user is outside the code or its tests, as the place its
    user would run them from.
    """
    if root is not None:
        return root.resolve()
    cwd = cwd.resolve()
    if all(p.resolve().is_relative_to(cwd) for p in [source, *tests]):
        return cwd
    return find_root(source)


def load_spec(path: Path) -> dict[str, list[str]]:
    """A spec: ``files:`` mapping each expected path (relative to the audited dir) to symbols."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"cannot read spec {path}: {error}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        raise SpecError(
            f"spec {path} needs a `files:` mapping, e.g. `files: {{models/function.py: "
            f"[FunctionEntity]}}`"
        )
    return {str(name): [str(s) for s in (symbols or [])] for name, symbols in files.items()}


def gap_list(files: Sequence[SourceFile], spec: dict[str, list[str]] | None) -> dict[str, Any]:
    """What the spec expects that is missing, and what exists that the spec does not name."""
    if spec is None:
        return {"spec": None}
    by_path = {f.path: f for f in files}
    missing_symbols, unspecified_symbols = [], []
    for path, expected in spec.items():
        found = by_path.get(path)
        if found is None:
            continue
        names = {s.name for s in found.symbols}
        top = {s.name for s in found.symbols if "." not in s.name}
        missing_symbols += [f"{path}::{name}" for name in expected if name not in names]
        unspecified_symbols += [f"{path}::{name}" for name in sorted(top - set(expected))]
    return {
        "spec": True,
        "missing_files": sorted(set(spec) - set(by_path)),
        "missing_symbols": missing_symbols,
        "unspecified_files": sorted(p for p in by_path if p not in spec),
        "unspecified_symbols": unspecified_symbols,
    }


def _percent(covered: int, total: int) -> float | None:
    return round(100.0 * covered / total, 1) if total else None


def _tests_of(contexts: dict[str, list[str]], where: tuple[Path, Path]) -> list[str]:
    """Test node ids from pytest-cov's per-line contexts (``nodeid|run``), relative to the run."""
    found = {ctx.split("|", 1)[0] for names in contexts.values() for ctx in names if ctx}
    return sorted(relocate(nodeid, *where) for nodeid in found)


def _file_entry(
    file: SourceFile,
    measured: dict[str, Any] | None,
    import_error: str | None,
    where: tuple[Path, Path],
) -> dict[str, Any]:
    entry = file.as_dict()
    entry["import_error"] = import_error
    entry["measured"] = measured is not None
    summary = (measured or {}).get("summary", {})
    statements, covered = summary.get("num_statements", 0), summary.get("covered_lines", 0)
    branches, covered_b = summary.get("num_branches", 0), summary.get("covered_branches", 0)
    entry.update(
        statements=statements,
        covered_lines=covered,
        line_percent=_percent(covered, statements) if measured else None,
        branches=branches,
        covered_branches=covered_b,
        branch_percent=_percent(covered_b, branches) if measured else None,
    )
    functions = (measured or {}).get("functions", {})
    for symbol in entry["symbols"]:
        region = functions.get(symbol["name"], {})
        s = region.get("summary", {})
        symbol.update(
            statements=s.get("num_statements"),
            covered_lines=s.get("covered_lines"),
            line_percent=_percent(s.get("covered_lines", 0), s.get("num_statements", 0))
            if s
            else None,
            branch_percent=_percent(s.get("covered_branches", 0), s.get("num_branches", 0))
            if s
            else None,
            tests=_tests_of(region.get("contexts", {}), where),
        )
        if symbol["kind"] == "class":
            symbol["tests"] = []  # a class's own region is its body; its methods say more
    return entry


def _totals(files: list[dict[str, Any]]) -> dict[str, Any]:
    statements = sum(f["statements"] for f in files)
    covered = sum(f["covered_lines"] for f in files)
    branches = sum(f["branches"] for f in files)
    covered_b = sum(f["covered_branches"] for f in files)
    symbols = [s for f in files for s in f["symbols"]]
    return {
        "files": len(files),
        "lines": sum(f["lines"] for f in files),
        "classes": sum(s["kind"] == "class" for s in symbols),
        "functions": sum(s["kind"] == "function" for s in symbols),
        "methods": sum(s["kind"] == "method" for s in symbols),
        "statements": statements,
        "covered_lines": covered,
        "line_percent": _percent(covered, statements),
        "branches": branches,
        "covered_branches": covered_b,
        "branch_percent": _percent(covered_b, branches),
        "import_failures": sum(bool(f["import_error"]) for f in files),
        "parse_failures": sum(bool(f["parse_error"]) for f in files),
        "untested_functions": sum(
            s["kind"] != "class" and not s["tests"] and s["statements"] is not None for s in symbols
        ),
    }


def verdict(data: dict[str, Any]) -> str:
    """One sentence: how much code, how much of it tested, what went wrong."""
    totals, suite = data["totals"], data["suite"]
    if not totals["files"]:
        return f"no Python code under {data['source']}: nothing to audit"
    parts = [f"{totals['files']} files, {totals['lines']} lines"]
    if totals["line_percent"] is not None:
        parts.append(f"line coverage {totals['line_percent']}%")
    if totals["branch_percent"] is not None:
        parts.append(f"branch coverage {totals['branch_percent']}%")
    if suite["exit_code"] is None:
        parts.append(f"the suite did not run: {suite['meaning']}")
    else:
        parts.append(f"{suite['tests']} tests ({suite['passed']} passed)")
        for key in ("failed", "errors", "collection_errors"):
            if suite[key]:
                parts.append(f"{suite[key]} {key.replace('_', ' ')}")
    if totals["import_failures"]:
        parts.append(f"{totals['import_failures']} modules do not import")
    if totals["parse_failures"]:
        parts.append(f"{totals['parse_failures']} files do not parse")
    causes = data.get("root_causes") or []
    if causes:
        named = ", ".join(f"{c['kind']} `{c['name']}`" for c in causes[:3])
        more = f" and {len(causes) - 3} more" if len(causes) > 3 else ""
        parts.append(f"root cause{'s' if len(causes) > 1 else ''}: {named}{more}")
    return "; ".join(parts)


def _near(path: str | None) -> str | None:
    """A path as reports show it; ``..`` and ``../x`` too, when it is just above here."""
    if path is None:
        return None
    relative = Path(os.path.relpath(path)).as_posix()
    return shown(path) if relative.startswith("../..") else relative


def _run_section(view: TreeView, root: Path) -> dict[str, Any]:
    return {
        "cwd": _near(str(root)),
        "python": shown(view.python),
        "python_version": view.version,
        "rootdir": _near(view.rootdir),
        "inifile": _near(view.inifile),
        "sys_path": shown_path(view),
        "note": view.note,
    }


def _failures(view: TreeView, suite: SuiteRun) -> list[Failure]:
    """Source modules that do not import and test modules that do not collect, as one list."""
    found = [
        Failure(path, f.error, f.missing, f.where, f.unreachable)
        for path, f in sorted(view.failures.items())
    ]
    found += [
        Failure(p.nodeid, p.message.removeprefix("E").strip(), p.missing, p.where, is_test=True)
        for p in suite.problems
        if p.outcome == "collection error"
    ]
    return found


def audit(plan: AuditPlan, out: Path) -> dict[str, Any]:
    """Audit a tree and return ``audit.json``'s content (written by :func:`write_audit`)."""
    source, root = plan.source.resolve(), plan.root.resolve()
    spec = load_spec(plan.spec) if plan.spec else None
    files, test_files = inventory(source)
    prefix = source.relative_to(root).as_posix() if source.is_relative_to(root) else ""
    prefix = "" if prefix == "." else prefix
    rooted = {f.path: f"{prefix}/{f.path}" if prefix else f.path for f in files}
    declared = declared_distributions(project_dirs(source, root))
    env = suite_env()
    parsed = [rooted[f.path] for f in files if f.parse_error is None]
    view = probe_tree(
        root,
        parsed,
        source=source,
        tests=plan.tests,
        python=plan.python,
        distributions=declared,
        env=env,
    )
    rootdir = Path(view.rootdir) if view.rootdir else root
    suite: SuiteRun
    if files or test_files or plan.tests:
        suite = run_suite(
            root=root,
            rootdir=rootdir,
            source=source,
            tests=plan.tests,
            out=out / "suite",
            python=plan.python,
            workers=plan.workers,
            progress=plan.progress,
            subprocesses=plan.subprocesses,
        )
    else:
        suite = SuiteRun(command=[], cwd=str(root), exit_code=None, wall_seconds=0.0)
        suite.note = "not run: the tree holds no Python files"
    measured = {}
    if suite.coverage_json:
        measured = json.loads(suite.coverage_json.read_text())["files"]
    failures = {path: f.error for path, f in view.failures.items()}
    where = (rootdir, root)
    entries = [
        _file_entry(f, measured.get(rooted[f.path]), failures.get(rooted[f.path]), where)
        for f in files
    ]
    packages = tree_packages(root)
    for name, path in {source.name: ".", **tree_packages(source)}.items():
        where = Path(os.path.relpath(source / path, root)).as_posix()
        packages.setdefault(name, where)
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tree": shown(plan.source),
        "root": shown(root),
        "source": prefix or ".",
        "tests": list(plan.tests),
        "python": shown(plan.python),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": _run_section(view, root),
        "root_causes": root_causes(
            _failures(view, suite),
            packages=packages,
            declared=declared,
            installed=view.installed,
            root=root,
            rootdir=rootdir,
            inifile=shown(view.inifile, root) if view.inifile else None,
        ),
        "suite": suite.as_dict(),
        "totals": _totals(entries),
        "files": entries,
        "test_files": test_files,
        "gaps": gap_list(files, spec) | ({"spec": str(plan.spec)} if spec else {}),
    }
    data["verdict"] = verdict(data)
    return data


def write_audit(data: dict[str, Any], out: Path) -> list[Path]:
    """Write ``audit.json``, ``EXISTING_CODE_AUDIT.md`` and ``audit.html`` to ``out``."""
    from reports.audit_markdown import audit_markdown
    from reports.html import audit_html

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "audit.json", out / "EXISTING_CODE_AUDIT.md", out / "audit.html"]
    paths[0].write_text(json.dumps(data, indent=1) + "\n")
    paths[1].write_text(audit_markdown(data))
    paths[2].write_text(audit_html(data))
    return paths


def plan_for(
    path: Path,
    *,
    tests: Sequence[str] | None = None,
    python: str | None = None,
    workers: str = "0",
    spec: Path | None = None,
    root: Path | None = None,
    cwd: Path | None = None,
) -> AuditPlan:
    """An audit plan from the command line's view: a path, and what the user added.

    Without ``--tests``, the tests are the nearest ``tests/`` at or above PATH.
    """
    if tests:
        resolved = [Path(t).resolve() for t in tests]
    else:
        found = nearest_tests(path)
        resolved = [found] if found else []
    where = run_root(path, resolved, cwd or Path.cwd(), root)
    rel = [p.relative_to(where).as_posix() if p.is_relative_to(where) else str(p) for p in resolved]
    return AuditPlan(
        source=path,
        root=where,
        tests=[r or "." for r in rel],
        python=python or sys.executable,
        workers=workers,
        spec=spec,
    )
