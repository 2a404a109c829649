"""The refactor's history: every phase report under some directories, as one table and its trends.

``gateproof report --history DIR`` reads every ``report.json`` below DIR
(any phase, any target, any date), orders them by ``generated_at`` and
writes ``history.json`` and ``history.html`` (:mod:`reports.history_html`).
A field that a report from an older gateproof lacks is ``null`` in the
trends and named in that report's ``missing`` list: never a zero, so a gap
in a plot is a gap and not a fall to 0%. A report with no readable date is
listed but left out of the trends and the flips, which need an order.

``history.json`` fields (an interface): ``schema``, ``generated_at``,
``sources``, ``skipped`` (``path``, ``reason``), ``reports`` (``index``,
``path``, ``phase``, ``title``, ``target``, ``date``, ``verdict``,
``counts``, ``line_percent``, ``branch_percent``, ``missing``), ``trends``
with ``coverage`` (``line_percent``, ``branch_percent``), ``modules``
(module -> line percent), ``flakiness`` (``tests``, ``failing_tests``,
``worst_upper_bound_95``, ``upper_bounds`` by test) and ``p99``
(``predicted``, ``measured``: function -> ms), each point with ``report``,
``target`` and ``date``; and ``flips`` (``target``, ``from_report``,
``to_report``, ``from_date``, ``to_date``, ``id``, ``title``, ``before``,
``after``): checks whose verdict changed between consecutive reports of one
target (a check only one of the two gates has is not a flip).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from reports.compare import flipped_checks
from reports.paths import shown
from reports.phase_report import load_report

HISTORY_SCHEMA = "gateproof.history/1"
HISTORY_FILES = ("history.json", "history.html")
# the fields the history reads; any of them may be absent from an older report
FIELDS = (
    "phase",
    "target",
    "generated_at",
    "verdict",
    "counts",
    "checks",
    "coverage.line_percent",
    "coverage.branch_percent",
    "coverage.modules",
    "flakiness",
    "latency.predicted",
    "latency.measured",
)
_ABSENT = object()


class HistoryError(ValueError):
    """Nothing to make a history of; the message says what to give instead."""


def field(report: dict[str, Any], dotted: str) -> Any:
    """``report["coverage"]["modules"]`` for ``"coverage.modules"``, or ``_ABSENT``."""
    value: Any = report
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return _ABSENT
        value = value[key]
    return value


def _get(report: dict[str, Any], dotted: str) -> Any:
    value = field(report, dotted)
    return None if value is _ABSENT else value


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        date = datetime.fromisoformat(value)
    except ValueError:
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def find_reports(
    dirs: Sequence[Path],
) -> tuple[list[tuple[Path, dict[str, Any]]], list[dict[str, str]]]:
    """Every phase report below ``dirs``, and the ``report.json`` files that are not one."""
    for directory in dirs:
        if not directory.is_dir():
            raise HistoryError(
                f"{directory} is not a directory; give the directory that holds report directories"
            )
    found, skipped, seen = [], [], set()
    for directory in dirs:
        for path in sorted(directory.rglob("report.json")):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                found.append((path, load_report(path)))
            except (OSError, ValueError) as error:
                skipped.append({"path": shown(path), "reason": str(error)})
    if not found:
        raise HistoryError(
            f"no phase report (report.json) under {', '.join(str(d) for d in dirs)}; "
            "give the directory that holds the reports of `gateproof report --phase`"
        )
    return found, skipped


def _entry(index: int, path: Path, report: dict[str, Any]) -> dict[str, Any]:
    missing = [name for name in FIELDS if field(report, name) is _ABSENT]
    date = _date(report.get("generated_at"))
    if date is None and "generated_at" not in missing:
        missing.append("generated_at")  # present but unreadable: no place in time
    counts = _get(report, "counts")
    return {
        "index": index,
        "path": shown(path.parent),
        "phase": _get(report, "phase"),
        "title": report.get("title"),
        "target": _get(report, "target"),
        "date": date.isoformat() if date else None,
        "verdict": _get(report, "verdict"),
        "counts": {k: counts.get(k) for k in ("passed", "failed", "not_checked")}
        if isinstance(counts, dict)
        else None,
        "line_percent": _get(report, "coverage.line_percent"),
        "branch_percent": _get(report, "coverage.branch_percent"),
        "missing": missing,
    }


def _flakiness_point(report: dict[str, Any]) -> dict[str, Any]:
    rows = field(report, "flakiness")
    if rows is _ABSENT:
        return {"tests": None, "failing_tests": None, "worst_upper_bound_95": None,
                "upper_bounds": None}  # fmt: skip
    bounds: dict[str, float] = {}
    for row in rows:
        if row.get("upper_bound_95") is not None:
            bounds[row["nodeid"]] = max(bounds.get(row["nodeid"], 0.0), row["upper_bound_95"])
    return {
        "tests": len({row["nodeid"] for row in rows}),
        "failing_tests": len({row["nodeid"] for row in rows if row.get("failed")}),
        "worst_upper_bound_95": max(bounds.values()) if bounds else None,
        "upper_bounds": bounds,
    }


def _p99(latency: Any) -> dict[str, float] | None:
    if not isinstance(latency, dict):
        return None
    return {
        name: values["p99"]
        for name, values in (latency.get("functions") or {}).items()
        if values.get("p99") is not None
    }


def _trends(dated: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, list[dict]]:
    trends: dict[str, list[dict]] = {"coverage": [], "modules": [], "flakiness": [], "p99": []}
    for entry, report in dated:
        where = {"report": entry["index"], "target": entry["target"], "date": entry["date"]}
        trends["coverage"].append(
            {**where, "line_percent": entry["line_percent"],
             "branch_percent": entry["branch_percent"]}
        )  # fmt: skip
        modules = _get(report, "coverage.modules")
        trends["modules"].append(
            {**where, "modules": None if modules is None
             else {m["module"]: m.get("line_percent") for m in modules}}
        )  # fmt: skip
        trends["flakiness"].append({**where, **_flakiness_point(report)})
        trends["p99"].append(
            {**where, "predicted": _p99(_get(report, "latency.predicted")),
             "measured": _p99(_get(report, "latency.measured"))}
        )  # fmt: skip
    return trends


def _flips(dated: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    by_target: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for entry, report in dated:
        if entry["target"] is not None:
            by_target.setdefault(entry["target"], []).append((entry, report))
    flips = []
    for target, series in by_target.items():
        for (a, report_a), (b, report_b) in pairwise(series):
            checks_a, checks_b = _get(report_a, "checks"), _get(report_b, "checks")
            if checks_a is None or checks_b is None:
                continue
            for flip in flipped_checks(checks_a, checks_b, absent=False):
                flips.append(
                    {"target": target, "from_report": a["index"], "to_report": b["index"],
                     "from_date": a["date"], "to_date": b["date"], **flip}
                )  # fmt: skip
    return sorted(flips, key=lambda f: (f["to_report"], f["id"]))


def build_history(dirs: Sequence[Path]) -> dict[str, Any]:
    """``history.json``'s content from every report below ``dirs``."""
    found, skipped = find_reports(dirs)

    def order(item: tuple[Path, dict[str, Any]]) -> tuple[bool, datetime, str]:
        date = _date(item[1].get("generated_at"))
        return (date is None, date or datetime.min.replace(tzinfo=UTC), str(item[0]))

    ordered = sorted(found, key=order)
    entries = [_entry(i, path, report) for i, (path, report) in enumerate(ordered, start=1)]
    dated = [
        (entry, report)
        for entry, (_, report) in zip(entries, ordered, strict=True)
        if entry["date"] is not None
    ]
    return {
        "schema": HISTORY_SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": [shown(d) for d in dirs],
        "skipped": skipped,
        "reports": entries,
        "trends": _trends(dated),
        "flips": _flips(dated),
    }


def write_history(history: dict[str, Any], out: Path) -> list[Path]:
    """Write ``history.json`` and the self-contained ``history.html`` to ``out``."""
    from reports.history_html import history_html

    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = (out / name for name in HISTORY_FILES)
    json_path.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    html_path.write_text(history_html(history), encoding="utf-8")
    return [json_path, html_path]
