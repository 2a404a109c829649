"""A phase report's files: ``report.json``, ``REPORT.md``, one self-contained ``index.html``
and ``gate.junit.xml`` (the checks for CI systems, :mod:`reports.junit`).

``report.json`` fields (an interface: ``gateproof report --compare`` and CI
jobs read them): ``schema``, ``phase``, ``title``, ``target``, ``tree``,
``root``, ``mapping``, ``generated_at``, ``wall_seconds``, ``verdict``
(``passed`` or ``failed``), ``summary``, ``counts`` (``passed``,
``failed``, ``not_checked``), ``checks`` (``id``, ``kind``, ``title``,
``verdict``, ``evidence``, ``details``), ``steps`` (``name``, ``seconds``,
``summary``), ``coverage`` (``line_percent``, ``branch_percent``,
``modules``: ``module``, ``statements``, ``line_percent``,
``branch_percent``), ``tests``, ``flakiness`` (per stress check and test:
``check``, ``nodeid``, ``upper_bound_95``, ``failed``), ``latency``
(``predicted``, ``measured``: per function p50/p95/p99 in ms, null when not
run; ``measured.calibrated``: the same from the model calibrated on the load
test itself, for the load test's workload, null without a Server-Timing split)
and ``audit`` (the audit's JSON, relative to the report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.audit_markdown import pct, table
from reports.checks import FAILED, NOT_CHECKED, PASSED
from reports.html import cell, figure_tag, html_table, page
from reports.junit import JUNIT_FILE, junit_xml

REPORT_FILES = ("report.json", "REPORT.md", "index.html", JUNIT_FILE)
DEFAULT_THRESHOLD = 70.0
_CSS_CLASS = {PASSED: "passed", FAILED: "failed", NOT_CHECKED: "not-checked"}


def coverage_threshold(report: dict[str, Any]) -> float:
    """The line drawn on the per-module plot: the gate's all-code threshold, else seed 002's 70%."""
    for check in report["checks"]:
        if check["kind"] == "coverage" and check["details"].get("threshold") is not None:
            if check["id"].startswith("all"):
                return float(check["details"]["threshold"])
    return DEFAULT_THRESHOLD


def report_markdown(report: dict[str, Any]) -> str:
    lines = [f"# {report['title']}", "", f"**{report['summary']}.**", ""]
    lines += [
        f"Target `{report['target']}` (tree `{report['tree']}`, mapping `{report['mapping']}`), "
        f"generated {report['generated_at']} in {report['wall_seconds']} s.",
        "",
        "## Checks",
        "",
    ]
    lines += table(
        ["check", "verdict", "evidence"],
        [
            [f"{c['title']} (`{c['id']}`)", c["verdict"].upper(), c["evidence"]]
            for c in report["checks"]
        ],
    )
    cov = report["coverage"]
    lines += ["", "## Coverage per module", ""]
    if cov["modules"]:
        lines += [
            f"Total: lines {pct(cov['line_percent'])}, branches {pct(cov['branch_percent'])}.",
            "",
        ]
        lines += table(
            ["module", "statements", "line cov.", "branch cov."],
            [
                [
                    f"`{m['module']}`",
                    m["statements"],
                    pct(m["line_percent"]),
                    pct(m["branch_percent"]),
                ]
                for m in cov["modules"]
            ],
        )
    else:
        lines.append("Not measured.")
    lines += ["", "## Flakiness", ""]
    if report["flakiness"]:
        lines += table(
            ["check", "test", "failed runs", "flake rate upper bound (95%)"],
            [
                [f["check"], f"`{f['nodeid']}`", f["failed"], pct(100 * (f["upper_bound_95"] or 0))]
                for f in report["flakiness"]
            ],
        )
    else:
        lines.append("No stress run.")
    predicted = report["latency"]["predicted"]
    lines += ["", "## Latency: predicted and measured", ""]
    if predicted:
        measured = (report["latency"]["measured"] or {}).get("functions", {})
        calibrated = (report["latency"]["measured"] or {}).get("calibrated") or {}
        lines += [
            f"Predicted by the capacity model for `{predicted['scenario']}`; "
            "measured: " + ("the local load test" if measured else "not run")
            + ("; calibrated: the model fitted to that load test's Server-Timing split, "
               "predicting its own workload." if calibrated else "."),
            "",
        ]  # fmt: skip
        lines += table(
            ["function", "p50 ms", "p95 ms", "p99 ms", "calibrated p99 ms", "measured p99 ms"],
            [
                [
                    name,
                    v["p50"],
                    v["p95"],
                    v["p99"],
                    calibrated.get(name, {}).get("p99", "-"),
                    measured.get(name, {}).get("p99", "-"),
                ]
                for name, v in predicted["functions"].items()
            ],
        )
    else:
        lines.append("No scenario for this target.")
    lines += ["", "## Steps", ""]
    lines += table(
        ["step", "seconds", "result"],
        [[s["name"], s["seconds"], s["summary"]] for s in report["steps"]],
    )
    if report["audit"]:
        lines += ["", f"The audit is in `{report['audit']}` and `audit/EXISTING_CODE_AUDIT.md`."]
    return "\n".join(lines) + "\n"


def _coverage_plot(report: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    modules = report["coverage"]["modules"]
    if not modules:
        return "<p>Coverage not measured.</p>"
    threshold = coverage_threshold(report)
    names = [m["module"] for m in modules]
    values = [m["line_percent"] or 0 for m in modules]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1))
    colours = ["#4a4" if v >= threshold else "#c44" for v in values]
    ax.barh(names, values, color=colours)
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:g}%")
    ax.set_xlim(0, 100)
    ax.set_xlabel("line coverage (%)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    return figure_tag(fig, "line coverage per module against the threshold")


def _flake_plot(report: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    rows = [f for f in report["flakiness"] if f["upper_bound_95"] is not None]
    if not rows:
        return "<p>No stress run.</p>"
    rows = sorted(rows, key=lambda f: -f["upper_bound_95"])[:30]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(rows) + 1))
    labels = [f["nodeid"].rsplit("::", 1)[-1][:50] for f in rows]
    ax.barh(
        labels,
        [100 * f["upper_bound_95"] for f in rows],
        color=["#c44" if f["failed"] else "#4a4" for f in rows],
    )
    ax.set_xlabel("flake rate, 95% upper bound (%)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    return figure_tag(fig, "flake-rate upper bound per test")


def _latency_plot(report: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    predicted = report["latency"]["predicted"]
    if not predicted:
        return "<p>No scenario for this target.</p>"
    measured = (report["latency"]["measured"] or {}).get("functions", {})
    calibrated = (report["latency"]["measured"] or {}).get("calibrated") or {}
    names = list(predicted["functions"])
    quantiles = ("p50", "p95", "p99")
    fig, ax = plt.subplots(figsize=(7, 3))
    series = [("predicted", predicted["functions"]), ("measured", measured)]
    if calibrated:
        series.insert(1, ("calibrated on the load test", calibrated))
    width = 0.7 / len(series)
    for offset, (label, source) in enumerate(series):
        xs = [
            i * len(quantiles) + j + offset * width
            for i in range(len(names))
            for j in range(len(quantiles))
        ]
        ys = [source.get(n, {}).get(q, 0) for n in names for q in quantiles]
        ax.bar(xs, ys, width, label=label + ("" if source else " (not run)"))
    ax.set_xticks(
        [
            i * len(quantiles) + j + width * (len(series) - 1) / 2
            for i in range(len(names))
            for j in range(len(quantiles))
        ]
    )
    ax.set_xticklabels([f"{n}\n{q}" for n in names for q in quantiles], fontsize=7)
    ax.set_ylabel("latency (ms)")
    ax.legend()
    return figure_tag(fig, "latency predicted versus measured")


def report_html(report: dict[str, Any]) -> str:
    checks = report["checks"]
    sections = [
        f'<p class="verdict {_CSS_CLASS.get(report["verdict"], "")}">{cell(report["summary"])}</p>',
        "<h2>Verdict per check</h2>",
        html_table(
            ["check", "id", "verdict", "evidence"],
            [[c["title"], c["id"], c["verdict"].upper(), c["evidence"]] for c in checks],
            row_classes=[_CSS_CLASS[c["verdict"]] for c in checks],
            table_id="verdicts",
        ),
        "<h2>Coverage per module against its threshold</h2>",
        _coverage_plot(report),
        "<h2>Flake-rate upper bounds</h2>",
        _flake_plot(report),
        "<h2>Latency: predicted versus measured</h2>",
        _latency_plot(report),
        "<h2>Steps</h2>",
        html_table(
            ["step", "seconds", "result"],
            [[s["name"], s["seconds"], s["summary"]] for s in report["steps"]],
        ),
    ]
    return page(report["title"] + f" ({report['target']})", sections)


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write the report's files to ``out`` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path, html_path, junit_path = (out / name for name in REPORT_FILES)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    md_path.write_text(report_markdown(report))
    html_path.write_text(report_html(report))
    junit_path.write_text(junit_xml(report), encoding="utf-8")
    return [json_path, md_path, html_path, junit_path]


def load_report(path: Path) -> dict[str, Any]:
    """A report from its directory or its ``report.json``."""
    file = path / "report.json" if path.is_dir() else path
    data = json.loads(file.read_text(encoding="utf-8"))
    if data.get("schema") != "gateproof.report/1":
        raise ValueError(f"{file} is not a gateproof phase report (schema {data.get('schema')!r})")
    return data
