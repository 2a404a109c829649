"""``history.html``: the table of reports, the trend plots inline and the checks that flipped.

The x axis of every plot is the report's number in the table (reports in
date order), so reports minutes apart do not pile up; the table gives each
number its date. A value a report lacks is a gap in its line (matplotlib
skips NaN) and "missing" in the table, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reports.audit_markdown import pct
from reports.html import cell, figure_tag, html_table, page

MISSING = "missing"
_CSS_CLASS = {"passed": "passed", "failed": "failed"}


def _value(entry: dict[str, Any], key: str, shown: Callable[[Any], str] = str) -> str:
    """A table cell: "missing" when the report lacks the field, "-" when it measured nothing."""
    names = {"line_percent": "coverage.line_percent", "branch_percent": "coverage.branch_percent"}
    if names.get(key, key) in entry["missing"]:
        return MISSING
    value = entry[key]
    return "-" if value is None else shown(value)


def _count(entry: dict[str, Any], key: str) -> str:
    if entry["counts"] is None:
        return MISSING
    value = entry["counts"].get(key)
    return MISSING if value is None else str(value)


def _reports_table(history: dict[str, Any]) -> str:
    entries = history["reports"]
    rows = [
        [
            f"#{e['index']}",
            e["date"] or MISSING,
            _value(e, "phase"),
            _value(e, "target"),
            _value(e, "verdict", lambda v: v.upper()),
            _count(e, "passed"),
            _count(e, "failed"),
            _count(e, "not_checked"),
            _value(e, "line_percent", pct),
            _value(e, "branch_percent", pct),
            e["path"],
        ]
        for e in entries
    ]
    return html_table(
        ["#", "date", "phase", "target", "verdict", "passed", "failed", "not checked",
         "line cov.", "branch cov.", "report"],
        rows,
        row_classes=[_CSS_CLASS.get(e["verdict"] or "", "") for e in entries],
        table_id="reports",
    )  # fmt: skip


def _label(target: Any) -> str:
    text = str(target)
    return text if len(text) <= 40 else "…" + text[-39:]


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _axes(history: dict[str, Any], title: str, ylabel: str, rows: int = 1) -> tuple[Any, list[Any]]:
    """Axes sharing one x range, every dated report's number, whatever a plot has points for."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    numbers = [p["report"] for p in history["trends"]["coverage"]]
    fig, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat:
        ax.set_xlim(min(numbers) - 0.5, max(numbers) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(lambda x, _: f"#{int(x)}")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    flat[0].set_title(title)
    flat[-1].set_xlabel("report (number in the table, in date order)")
    return fig, flat


def _series(points: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    by_target: dict[Any, list[dict[str, Any]]] = {}
    for point in points:
        by_target.setdefault(point["target"], []).append(point)
    return by_target


def _missing_note(history: dict[str, Any], *names: str) -> str:
    lacking = [f"#{e['index']}" for e in history["reports"] if set(names) & set(e["missing"])]
    if not lacking:
        return ""
    return (
        f"<p>Missing in report {', '.join(lacking)} (written by an older gateproof): "
        "gaps in the lines, not zeros.</p>"
    )


def _coverage_plot(history: dict[str, Any]) -> str:
    points = history["trends"]["coverage"]
    if all(p["line_percent"] is None and p["branch_percent"] is None for p in points):
        return "<p>No report measured coverage.</p>"
    fig, (ax,) = _axes(history, "Total coverage", "coverage (%)")
    for target, series in _series(points).items():
        xs = [p["report"] for p in series]
        (line,) = ax.plot(xs, [_nan(p["line_percent"]) for p in series], "o-",
                          label=f"{_label(target)} lines")  # fmt: skip
        ax.plot(xs, [_nan(p["branch_percent"]) for p in series], "s--",
                color=line.get_color(), label=f"{_label(target)} branches")  # fmt: skip
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="lower right")
    return figure_tag(fig, "total coverage over time") + _missing_note(
        history, "coverage.line_percent", "coverage.branch_percent"
    )


def _modules_plot(history: dict[str, Any]) -> str:
    by_target = {
        target: series
        for target, series in _series(history["trends"]["modules"]).items()
        if any(p["modules"] for p in series)
    }
    if not by_target:
        return "<p>No report measured coverage per module.</p>"
    fig, axes = _axes(history, "Line coverage per module", "line coverage (%)", rows=len(by_target))
    for ax, (target, series) in zip(axes, by_target.items(), strict=True):
        names = sorted({m for p in series for m in p["modules"] or {}})
        xs = [p["report"] for p in series]
        for name in names:
            ys = [_nan((p["modules"] or {}).get(name)) for p in series]
            ax.plot(xs, ys, "o-", label=name)
        ax.set_ylim(0, 100)
        ax.text(0.01, 0.03, _label(target), transform=ax.transAxes, fontsize=8, weight="bold")
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return figure_tag(fig, "line coverage per module over time") + _missing_note(
        history, "coverage.modules"
    )


def _flake_plot(history: dict[str, Any]) -> str:
    points = history["trends"]["flakiness"]
    if all(p["worst_upper_bound_95"] is None for p in points):
        return "<p>No report made a stress run.</p>"
    fig, (ax,) = _axes(
        history, "Worst flake-rate upper bound (95%) among the stressed tests", "rate (%)"
    )
    for target, series in _series(points).items():
        ax.plot(
            [p["report"] for p in series],
            [100 * _nan(p["worst_upper_bound_95"]) for p in series],
            "o-",
            label=_label(target),
        )
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7)
    return figure_tag(fig, "flake-rate upper bounds over time") + _missing_note(
        history, "flakiness"
    )


def _p99_plot(history: dict[str, Any]) -> str:
    points = history["trends"]["p99"]
    if not any(p["predicted"] or p["measured"] for p in points):
        return "<p>No report predicted or measured latencies.</p>"
    fig, (ax,) = _axes(history, "p99 latency: predicted (dashed) and measured (solid)", "p99 (ms)")
    for target, series in _series(points).items():
        functions = sorted(
            {f for p in series for f in (p["predicted"] or {}) | (p["measured"] or {})}
        )
        xs = [p["report"] for p in series]
        for name in functions:
            (line,) = ax.plot(xs, [_nan((p["measured"] or {}).get(name)) for p in series], "o-",
                              label=f"{_label(target)} {name} measured")  # fmt: skip
            ax.plot(xs, [_nan((p["predicted"] or {}).get(name)) for p in series], "x--",
                    color=line.get_color(), label=f"{_label(target)} {name} predicted")  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return figure_tag(fig, "predicted and measured p99 over time") + _missing_note(
        history, "latency.predicted", "latency.measured"
    )


def _flips_table(history: dict[str, Any]) -> str:
    flips = history["flips"]
    if not flips:
        return "<p>No check changed its verdict between consecutive reports of a target.</p>"
    return html_table(
        ["target", "from", "to", "check", "before", "after"],
        [
            [f["target"], f"#{f['from_report']} {f['from_date']}",
             f"#{f['to_report']} {f['to_date']}", f"{f['title']} ({f['id']})",
             f["before"].upper(), f["after"].upper()]
            for f in flips
        ],
        row_classes=[_CSS_CLASS.get(f["after"], "not-checked") for f in flips],
        table_id="flips",
    )  # fmt: skip


def history_html(history: dict[str, Any]) -> str:
    """The whole page; plots are PNGs inline, so the file opens alone from a CI artefact."""
    reports = history["reports"]
    targets = sorted({str(e["target"]) for e in reports})
    sections = [
        f"<p>{len(reports)} reports of {len(targets)} targets ({cell(', '.join(targets))}), "
        f"read from {cell(', '.join(history['sources']))}.</p>",
        "<h2>Reports</h2>",
        _reports_table(history),
        "<h2>Total coverage over time</h2>",
        _coverage_plot(history),
        "<h2>Coverage per module over time</h2>",
        _modules_plot(history),
        "<h2>Flake-rate upper bounds over time</h2>",
        _flake_plot(history),
        "<h2>p99 latency: predicted and measured over time</h2>",
        _p99_plot(history),
        "<h2>Checks that flipped between consecutive reports of a target</h2>",
        _flips_table(history),
    ]
    if history["skipped"]:
        sections += [
            "<h2>Files skipped</h2>",
            html_table(["file", "why"], [[s["path"], s["reason"]] for s in history["skipped"]]),
        ]
    return page("Phase reports: the refactor's history", sections)
