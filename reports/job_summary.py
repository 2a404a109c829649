"""The verdict table in Markdown, short enough for a CI job's summary page.

GitHub shows what a step appends to ``$GITHUB_STEP_SUMMARY`` on the run's
page (at most 1 MiB per step); ``gateproof report --summary PATH`` writes
the same text anywhere else (a GitLab note, a chat message). Evidence is cut
to one line of :data:`EVIDENCE_LIMIT` characters: the whole of it is in the
report directory.
"""

from __future__ import annotations

from typing import Any

from reports.audit_markdown import pct, table
from reports.checks import FAILED, NOT_CHECKED, PASSED

EVIDENCE_LIMIT = 300
_ICON = {PASSED: "✅", FAILED: "❌", NOT_CHECKED: "⚪"}
_MARK = {verdict: f"{icon} {verdict.upper()}" for verdict, icon in _ICON.items()}


def _one_line(text: Any, limit: int = EVIDENCE_LIMIT) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def job_summary(report: dict[str, Any]) -> str:
    """The report's verdict, its counts and its table of checks as GitHub-flavoured Markdown."""
    coverage = report.get("coverage") or {}
    lines = [
        f"### {_ICON.get(report['verdict'], '')} {report['summary']}",
        "",
        f"Target `{report['target']}`, phase {report['phase']}, generated "
        f"{report['generated_at']}; line coverage {pct(coverage.get('line_percent'))}.",
        "",
    ]
    lines += table(
        ["check", "verdict", "evidence"],
        [
            [f"`{c['id']}`: {c['title']}", _MARK[c["verdict"]], _one_line(c["evidence"])]
            for c in report["checks"]
        ],
    )
    lines += ["", "The full report (REPORT.md, index.html, report.json) is in its directory."]
    return "\n".join(lines) + "\n"
