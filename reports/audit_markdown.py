"""``EXISTING_CODE_AUDIT.md``: the audit as a document people read (seed 002, Phase 0.1 and 0.5)."""

from __future__ import annotations

from typing import Any

_TESTS_LISTED = 3


def pct(value: float | None) -> str:
    """A percentage for a table cell; a dash where nothing was measured."""
    return "-" if value is None else f"{value:.1f}%"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return lines


def _suite_section(suite: dict[str, Any]) -> list[str]:
    lines = ["## The test suite", ""]
    if suite["exit_code"] is None:
        lines += [f"The suite did not run: {suite['note'] or suite['meaning']}.", ""]
    else:
        lines += [
            f"`{' '.join(suite['command'])}` (from `{suite['cwd']}`) ended with exit "
            f"{suite['exit_code']}: {suite['meaning']}, in {suite['wall_seconds']} s.",
            "",
            f"{suite['tests']} tests: {suite['passed']} passed, {suite['failed']} failed, "
            f"{suite['errors']} errors, {suite['skipped']} skipped; "
            f"{suite['collection_errors']} modules did not collect.",
            "",
        ]
    if suite["problems"]:
        lines += table(
            ["test", "outcome", "message"],
            [[f"`{p['nodeid']}`", p["outcome"], p["message"]] for p in suite["problems"]],
        )
        lines.append("")
    if suite["exit_code"] not in (0, 1) and suite["log_tail"]:
        lines += ["pytest's last lines:", "", "```", suite["log_tail"], "```", ""]
    return lines


def run_section(run: dict[str, Any], suite: dict[str, Any]) -> list[str]:
    """Where the suite ran, with which interpreter, and what came first on its ``sys.path``."""
    config = f"`{run['inifile']}`" if run["inifile"] else "none"
    lines = [
        "## Where the suite ran",
        "",
        f"- directory: `{run['cwd']}` (as `python -m pytest` from there: it is on `sys.path`)",
        f"- pytest rootdir: `{run['rootdir'] or '?'}`; config file: {config}",
        f"- interpreter: `{run['python']}` (Python {run['python_version'] or '?'})",
        "- `sys.path` first: " + ", ".join(f"`{entry}`" for entry in run["sys_path"]),
    ]
    if suite["collection_errors"]:
        lines.append(
            "- pytest alone stops at a module that does not collect; the audit runs the rest "
            "(`--continue-on-collection-errors`)"
        )
    if run["note"]:
        lines.append(f"- note: {run['note']}")
    return [*lines, ""]


def causes_section(causes: list[dict[str, Any]], python: str) -> list[str]:
    """Each cause once: what it is, how many modules it blocks, where it is first imported."""
    lines = ["## Root causes", ""]
    if not causes:
        return [*lines, "Every module imports and every test module collects.", ""]
    for cause in causes:
        first = f"; first imported at `{cause['first_import']}`" if cause["first_import"] else ""
        lines.append(
            f"- **{cause['kind']}: `{cause['name']}`** blocks {cause['blocks']} "
            f"module{'s' if cause['blocks'] != 1 else ''}{first}. {cause['fix']}."
        )
        shown = ", ".join(f"`{m}`" for m in cause["modules"][: _TESTS_LISTED * 2])
        more = cause["blocks"] - _TESTS_LISTED * 2
        lines.append(f"  Blocked: {shown}" + (f" and {more} more" if more > 0 else "") + ".")
    wanted = sorted({c["distribution"] for c in causes if c["distribution"]})
    if wanted:
        lines += ["", f"To install: `{python} -m pip install {' '.join(wanted)}`"]
    return [*lines, ""]


def _broken_section(data: dict[str, Any]) -> list[str]:
    """Modules that do not import: once per root cause, then any the causes do not cover."""
    broken = [f for f in data["files"] if f["import_error"] or f["parse_error"]]
    lines = ["## Modules that do not import", ""]
    if not broken:
        return [*lines, "Every module imports." if data["files"] else "No modules.", ""]
    prefix = "" if data["source"] == "." else data["source"] + "/"
    covered: set[str] = set()
    for cause in data["root_causes"]:
        mine = [f["path"] for f in broken if f"{prefix}{f['path']}" in cause["modules"]]
        if mine:
            covered.update(mine)
            shown = ", ".join(f"`{path}`" for path in mine)
            lines.append(f"- {cause['kind']} `{cause['name']}` (see Root causes): {shown}")
    lines += [
        f"- `{f['path']}`: {f['parse_error'] or f['import_error']}"
        for f in broken
        if f["path"] not in covered
    ]
    return [*lines, ""]


def _files_section(files: list[dict[str, Any]]) -> list[str]:
    rows = []
    for f in files:
        status = "parses, imports"
        if f["parse_error"]:
            status = f"does not parse: {f['parse_error']}"
        elif f["import_error"]:
            status = f"does not import: {f['import_error']}"
        counts = {
            k: sum(s["kind"] == k for s in f["symbols"]) for k in ("class", "function", "method")
        }
        rows.append(
            [
                f"`{f['path']}`",
                f["lines"],
                counts["class"],
                counts["function"],
                counts["method"],
                pct(f["line_percent"]) if f["measured"] else "not measured",
                pct(f["branch_percent"]) if f["measured"] else "-",
                status,
            ]
        )
    return [
        "## Files",
        "",
        *table(
            [
                "file",
                "lines",
                "classes",
                "functions",
                "methods",
                "line cov.",
                "branch cov.",
                "status",
            ],
            rows,
        ),
        "",
    ]


def _symbols_section(files: list[dict[str, Any]]) -> list[str]:
    lines = ["## Classes, functions and methods", ""]
    for f in files:
        if not f["symbols"]:
            continue
        rows = []
        for s in f["symbols"]:
            tests = s["tests"]
            shown = ", ".join(f"`{t}`" for t in tests[:_TESTS_LISTED])
            if len(tests) > _TESTS_LISTED:
                shown += f" and {len(tests) - _TESTS_LISTED} more"
            if s["kind"] == "class":
                shown = "(see its methods)"
            rows.append(
                [
                    f"`{s['name']}`",
                    s["kind"],
                    f"{s['line']}-{s['end_line']}",
                    s["lines"],
                    pct(s["line_percent"]),
                    pct(s["branch_percent"]),
                    shown or "**no test runs it**",
                ]
            )
        lines += [f"### `{f['path']}`", ""]
        lines += table(
            ["symbol", "kind", "lines", "length", "line cov.", "branch cov.", "tests"], rows
        )
        lines.append("")
    return lines


def _gaps_section(gaps: dict[str, Any]) -> list[str]:
    lines = ["## Gaps against the spec", ""]
    if not gaps.get("spec"):
        return [*lines, "No spec given (`--spec FILE`): no gap list.", ""]
    lines += [f"Spec: `{gaps['spec']}`.", ""]
    for key, title in (
        ("missing_files", "Specified files that do not exist"),
        ("missing_symbols", "Specified symbols that do not exist"),
        ("unspecified_files", "Files that exist but are not in the spec"),
        ("unspecified_symbols", "Symbols that exist but are not in the spec"),
    ):
        items = gaps[key]
        lines.append(f"**{title}** ({len(items)}):" + ("" if items else " none."))
        lines += [f"- `{item}`" for item in items]
        lines.append("")
    return lines


def audit_markdown(data: dict[str, Any]) -> str:
    t = data["totals"]
    lines = [
        "# Existing code audit",
        "",
        f"**{data['verdict']}.**",
        "",
        f"Tree `{data['tree']}` (suite run from `{data['root']}` with `{data['python']}`), "
        f"generated {data['generated_at']}.",
        "",
        *table(
            [
                "files",
                "lines",
                "classes",
                "functions",
                "methods",
                "line cov.",
                "branch cov.",
                "untested functions",
            ],
            [
                [
                    t["files"],
                    t["lines"],
                    t["classes"],
                    t["functions"],
                    t["methods"],
                    pct(t["line_percent"]),
                    pct(t["branch_percent"]),
                    t["untested_functions"],
                ]
            ],
        ),
        "",
        *run_section(data["run"], data["suite"]),
        *causes_section(data["root_causes"], data["run"]["python"]),
        *_suite_section(data["suite"]),
    ]
    lines += _broken_section(data)
    if data["files"]:
        lines += _files_section(data["files"]) + _symbols_section(data["files"])
    lines += _gaps_section(data["gaps"])
    if data["test_files"]:
        lines += [f"Test files ({len(data['test_files'])}) are not audited as code."]
    return "\n".join(lines) + "\n"
