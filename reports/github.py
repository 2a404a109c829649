"""GitHub Actions: the job summary and an ``::error`` annotation per failed check.

Detection follows GitHub's documented variables: ``GITHUB_ACTIONS`` is
``true`` on its runners, and ``GITHUB_STEP_SUMMARY`` names the file whose
Markdown the run's page shows. Workflow commands are escaped as the runner
unescapes them (actions/toolkit, ``packages/core/src/command.ts``): ``%``,
CR and LF in the message; those and ``:`` and ``,`` in a property. GitHub
shows at most 10 error annotations per step, so past 9 failed checks the
tenth annotation names the rest.

Usage::

    for line in error_annotations(report):
        print(line)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.checks import FAILED
from reports.job_summary import job_summary

ANNOTATIONS_PER_STEP = 10


def under_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def step_summary_file(env: Mapping[str, str]) -> Path | None:
    value = env.get("GITHUB_STEP_SUMMARY")
    return Path(value) if value else None


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str) -> str:
    """One line such as ``::error title=...::message``, escaped so it stays one command."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def error_annotations(report: dict[str, Any]) -> list[str]:
    """An ``::error`` per failed check (title: the gate and the check; message: the evidence)."""
    failed = [c for c in report["checks"] if c["verdict"] == FAILED]
    gate = f"Phase {report['phase']} gate on {report['target']}"
    shown = failed if len(failed) <= ANNOTATIONS_PER_STEP else failed[: ANNOTATIONS_PER_STEP - 1]
    lines = [
        workflow_command(
            "error", f"{c['title']}: {c['evidence']}", title=f"{gate}: {c['id']} failed"
        )
        for c in shown
    ]
    rest = failed[len(shown) :]
    if rest:
        lines.append(
            workflow_command(
                "error",
                "also failed: " + ", ".join(c["id"] for c in rest) + " (see the job summary)",
                title=f"{gate}: {len(rest)} more checks failed",
            )
        )
    return lines


def append_step_summary(path: Path, markdown: str) -> None:
    """Append, never overwrite: the file gathers every step's summary of the job."""
    with path.open("a", encoding="utf-8") as file:
        file.write(markdown if markdown.endswith("\n") else markdown + "\n")


def publish(
    report: dict[str, Any], env: Mapping[str, str], *, summary: Path | None = None
) -> tuple[list[Path], list[str]]:
    """After a report is written: its job summary where asked, and the annotations to print.

    The summary goes to ``summary`` (written) and to ``$GITHUB_STEP_SUMMARY``
    (appended) when set; the annotations are returned only under GitHub
    Actions, where the runner reads them from the standard output.
    """
    markdown = job_summary(report)
    written = []
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(markdown, encoding="utf-8")
        written.append(summary)
    step_file = step_summary_file(env)
    if step_file is not None:
        append_step_summary(step_file, markdown)
        written.append(step_file)
    return written, error_annotations(report) if under_github_actions(env) else []
