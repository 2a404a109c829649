"""The kinds of check a phase gate is made of, each returning its verdict and its evidence.

A check is a dict from a gate file (``reports/phases/*.yaml``) with ``id``,
``kind``, ``title`` and the kind's parameters. Targets are resolved through
the tree's :class:`reports.mapping.Mapping`; a target that resolves to
nothing gives "not checked" with the reason, never "passed".

Kinds: ``stress`` (a selection passed N consecutive runs), ``tests_pass``,
``coverage`` (line coverage of a glob at or above a threshold),
``method_length``, ``calls_none``, ``no_attribute_branch``, ``absent``,
``present``, ``imports_none`` and ``unused_imports``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.inventory import is_test_file, parse, python_files, symbols_of
from reports.mapping import UNRESOLVED, Mapping

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not checked"


@dataclass
class Evidence:
    """What a check looked at: the outputs of the runs (audit, stress) it reads."""

    audit: dict[str, Any] | None = None
    stress: dict[str, dict[str, Any] | str] = field(default_factory=dict)  # by check id


@dataclass
class CheckResult:
    id: str
    kind: str
    title: str
    verdict: str
    evidence: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return vars(self).copy()


class _NotChecked(Exception):
    """Raised inside a check: its target does not resolve in this tree."""


def _unresolved(name: str, why: str) -> _NotChecked:
    return _NotChecked(
        f"{name!r} {why}: nothing to check (if the tree has it elsewhere, map it in a mapping file)"
    )


def _not_applicable(name: str) -> _NotChecked:
    return _NotChecked(f"the mapping marks {name!r} as not applicable to this tree")


def mapped(mapping: Mapping, name: str) -> Any:
    """The tree's path (or globs) for a gate's name; not checked when the mapping says null."""
    value = mapping.target(name)
    if value is UNRESOLVED:
        raise _not_applicable(name)
    return value


def resolve_files(mapping: Mapping, name: str) -> list[Path]:
    """The code files a gate name (a path or glob) stands for in the tree, or not checked."""
    value = mapped(mapping, name)
    patterns = value if isinstance(value, list) else [value]
    found: set[Path] = set()
    for pattern in patterns:
        pattern = str(pattern).split("::", 1)[0]
        if any(ch in pattern for ch in "*?["):
            found |= {
                p for p in mapping.source.glob(pattern) if p.suffix == ".py" and not is_test_file(p)
            }
            if pattern.endswith("/**"):  # a package: every file below it
                base = mapping.source / pattern[:-3]
                found |= (
                    {p for p in python_files(base) if not is_test_file(p)}
                    if base.is_dir()
                    else set()
                )
        elif (mapping.source / pattern).is_file():
            found.add(mapping.source / pattern)
        elif (mapping.source / pattern).is_dir():
            found |= {p for p in python_files(mapping.source / pattern) if not is_test_file(p)}
    if not found:
        shown = patterns if patterns != [name] else name
        raise _unresolved(
            name, f"resolves to {shown}, which matches no file under {mapping.source.name}/"
        )
    return sorted(found)


def _rel(mapping: Mapping, path: Path) -> str:
    return path.relative_to(mapping.source).as_posix()


def _tree(path: Path) -> ast.Module:
    tree, error = parse(path)
    if tree is None:
        raise _NotChecked(f"{path.name} does not parse ({error})")
    return tree


def resolve_class(mapping: Mapping, name: str) -> tuple[Path, ast.ClassDef]:
    """A gate's ``file::Class`` as the tree's file and class node, or not checked."""
    value = mapped(mapping, name)
    file, _, class_name = str(value).partition("::")
    path = mapping.source / file
    if not path.is_file():
        raise _unresolved(name, f"resolves to {file}, which does not exist")
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return path, node
    raise _unresolved(name, f"resolves to class {class_name} in {file}, which has no such class")


def check_coverage(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    files = resolve_files(mapping, check["target"])
    if evidence.audit is None or evidence.audit["suite"]["exit_code"] is None:
        raise _NotChecked("the suite did not run, so nothing was measured")
    by_path = {f["path"]: f for f in evidence.audit["files"]}
    rows = [by_path[_rel(mapping, p)] for p in files if _rel(mapping, p) in by_path]
    statements = sum(r["statements"] for r in rows)
    covered = sum(r["covered_lines"] for r in rows)
    percent = round(100.0 * covered / statements, 1) if statements else 100.0
    threshold = float(check["threshold"])
    per_file = {r["path"]: r["line_percent"] for r in rows}
    return _result(
        check,
        percent >= threshold,
        f"line coverage of {check['target']} ({len(rows)} files, {statements} statements): "
        f"{percent}% (threshold {threshold:g}%)",
        {"percent": percent, "threshold": threshold, "statements": statements, "files": per_file},
    )


def check_method_length(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    path, node = resolve_class(mapping, check["target"])
    limit = int(check["max_lines"])
    lengths = {
        s.name: s.lines
        for s in symbols_of(ast.Module(body=[node], type_ignores=[]))
        if s.kind == "method"
    }
    longest = max(lengths.items(), key=lambda item: item[1], default=("-", 0))
    too_long = {name: n for name, n in lengths.items() if n > limit}
    text = (
        f"{len(lengths)} methods in {_rel(mapping, path)}; "
        f"longest {longest[0]} ({longest[1]} lines)"
    )
    if too_long:
        text += "; over the limit: " + ", ".join(f"{k} ({v})" for k, v in too_long.items())
    return _result(check, not too_long, text, {"lengths": lengths, "max_lines": limit})


def _dotted(node: ast.expr) -> list[str]:
    """``self.event_builder.build`` as its parts; calls on calls keep the last part only."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [*_dotted(node.value), node.attr]
    return []


def _matches(parts: list[str], name: str) -> bool:
    wanted = name.split(".")
    return any(parts[i : i + len(wanted)] == wanted for i in range(len(parts) - len(wanted) + 1))


def check_calls_none(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    found = []
    for path in resolve_files(mapping, check["target"]):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call):
                parts = _dotted(node.func)
                for name in check["names"]:
                    if _matches(parts, name):
                        found.append(f"{_rel(mapping, path)}:{node.lineno} calls {'.'.join(parts)}")
    return _none_found(check, found, "calls", f"none of {', '.join(check['names'])} is called")


def check_no_attribute_branch(
    check: dict[str, Any], mapping: Mapping, evidence: Evidence
) -> CheckResult:
    path, cls = resolve_class(mapping, check["target"])
    attributes = set(check["attributes"])
    found = []
    for node in ast.walk(cls):
        if isinstance(node, ast.If | ast.IfExp | ast.While):
            for sub in ast.walk(node.test):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                    and sub.attr in attributes
                ):
                    found.append(f"{_rel(mapping, path)}:{node.lineno} branches on self.{sub.attr}")
    clean = f"no branch on self.{{{', '.join(sorted(attributes))}}}"
    return _none_found(check, found, "branches", clean)


def check_absent(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    present = []
    for name in check["targets"]:
        value = mapped(mapping, name)
        if (mapping.source / str(value)).exists():
            present.append(str(value))
    text = f"still present: {', '.join(present)}" if present else "none of them exists"
    return _result(check, not present, text, {"present": present})


def check_present(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    missing, found = [], []
    for name in check["targets"]:
        value = mapped(mapping, name)
        file, _, symbol = str(value).partition("::")
        path = mapping.source / file
        if not path.is_file():
            missing.append(file)
            continue
        if symbol:
            tree, _ = parse(path)
            names = {s.name for s in symbols_of(tree)} if tree else set()
            if symbol not in names:
                missing.append(str(value))
                continue
        found.append(str(value))
    missing = list(dict.fromkeys(missing))  # a missing file once, however many symbols it lacks
    text = f"missing: {', '.join(missing)}" if missing else f"found: {', '.join(found)}"
    return _result(check, not missing, text, {"missing": missing, "found": found})


def _imported_modules(tree: ast.Module) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def check_imports_none(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    banned = check["modules"]
    found = []
    for path in resolve_files(mapping, check["target"]):
        for module in sorted(_imported_modules(_tree(path))):
            if any(module == b or module.startswith(b + ".") for b in banned):
                found.append(f"{_rel(mapping, path)} imports {module}")
    return _none_found(check, found, "imports", f"no file imports {', '.join(banned)}")


def check_unused_imports(
    check: dict[str, Any], mapping: Mapping, evidence: Evidence
) -> CheckResult:
    from pyflakes import api, messages
    from pyflakes.reporter import Reporter

    class Collect(Reporter):
        def __init__(self) -> None:
            self.found: list[Any] = []

        def flake(self, message: Any) -> None:
            self.found.append(message)

        def syntaxError(self, *args: Any) -> None:
            raise _NotChecked("the file does not parse")

        def unexpectedError(self, filename: str, message: str) -> None:
            raise _NotChecked(f"pyflakes could not read it: {message}")

    unused = []
    for path in resolve_files(mapping, check["target"]):
        collector = Collect()
        api.check(path.read_text(encoding="utf-8"), str(path), collector)
        unused += [
            f"{_rel(mapping, path)}:{m.lineno} {m.message_args[0]}"
            for m in collector.found
            if isinstance(m, messages.UnusedImport)
        ]
    return _none_found(check, unused, "unused", "every import is used", prefix="unused: ")


def check_tests_pass(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    if evidence.audit is None or evidence.audit["suite"]["exit_code"] is None:
        raise _NotChecked("the suite did not run")
    suite = evidence.audit["suite"]
    prefix = check.get("selection")
    if prefix:
        selected = mapping.selection(prefix)
        if selected is None:
            raise _not_applicable(prefix)
        prefixes = selected[0]
    else:
        prefixes = [""]
    ids = [t for t in suite["test_ids"] if any(t.startswith(p) for p in prefixes)]
    bad = [p for p in suite["problems"] if any(p["nodeid"].startswith(x) for x in prefixes)]
    if not ids and not bad:
        return _result(
            check, False, f"no test matches {', '.join(prefixes) or 'the suite'}", {"tests": 0}
        )
    text = f"{len(ids)} tests, {len(bad)} did not pass or collect"
    if bad:
        text += ": " + ", ".join(p["nodeid"] for p in bad[:5])
    return _result(
        check, not bad, text, {"tests": len(ids), "problems": [p["nodeid"] for p in bad]}
    )


def check_stress(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    outcome = evidence.stress.get(check["id"])
    if outcome is None:
        raise _NotChecked("the stress run was not made")
    if isinstance(outcome, str):
        raise _NotChecked(outcome)
    count = int(check["count"])
    passed = bool(outcome["passed_all"]) and outcome["consecutive_passes"] >= count
    return _result(
        check,
        passed,
        outcome["verdict"] if passed else _stress_failures(outcome),
        {
            "consecutive_passes": outcome["consecutive_passes"],
            "upper_bound_95": outcome["upper_bound_95"],
            "totals": outcome["totals"],
            "signatures": sorted(
                {
                    f"{s['type']} at {s['location']}"
                    for t in outcome["tests"]
                    for s in t["signatures"]
                }
            ),
            "tests": [
                {
                    "nodeid": t["nodeid"],
                    "upper_bound_95": t["upper_bound_95"],
                    "failed": t["failed"] + t["errors"],
                }
                for t in outcome["tests"]
            ],
        },
    )


def _stress_failures(outcome: dict[str, Any]) -> str:
    """Which tests failed, and what they found: the head of each distinct failure message."""
    failing = [t for t in outcome["tests"] if t["failed"] + t["errors"]]
    found: dict[str, int] = {}
    for test in failing:
        for signature in test["signatures"]:
            head = (signature.get("message") or signature["type"]).split(":", 1)[0][:90]
            found[head] = found.get(head, 0) + signature.get("count", 1)
    heads = sorted(found, key=lambda h: -found[h])
    text = f"{len(failing)} of {len(outcome['tests'])} tests failed"
    if not outcome.get("complete", True):
        text += " (the run did not complete)"
    return text + ("; found: " + "; ".join(heads) if heads else "")


KINDS: dict[str, Callable[[dict[str, Any], Mapping, Evidence], CheckResult]] = {
    "stress": check_stress,
    "tests_pass": check_tests_pass,
    "coverage": check_coverage,
    "method_length": check_method_length,
    "calls_none": check_calls_none,
    "no_attribute_branch": check_no_attribute_branch,
    "absent": check_absent,
    "present": check_present,
    "imports_none": check_imports_none,
    "unused_imports": check_unused_imports,
}


def _result(check: dict[str, Any], ok: bool, evidence: str, details: dict[str, Any]) -> CheckResult:
    return CheckResult(
        check["id"], check["kind"], check["title"], PASSED if ok else FAILED, evidence, details
    )


def _none_found(
    check: dict[str, Any], found: list[str], key: str, clean: str, *, prefix: str = ""
) -> CheckResult:
    """A check that passes when it finds nothing: what it found is the evidence."""
    text = prefix + "; ".join(found) if found else clean
    return _result(check, not found, text, {key: found})


def run_check(check: dict[str, Any], mapping: Mapping, evidence: Evidence) -> CheckResult:
    """One check's verdict; a target that does not resolve gives "not checked" and why."""
    try:
        return KINDS[check["kind"]](check, mapping, evidence)
    except _NotChecked as reason:
        return CheckResult(check["id"], check["kind"], check["title"], NOT_CHECKED, str(reason))
