"""Self-contained HTML pages: inline CSS, plots embedded as PNG data URIs, no network.

One page builder for the audit and the phase report, so both look alike and
open from a CI artefact or an e-mail with nothing else beside them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.passed { background: #e3f6e3; } .failed { background: #fbe1e1; }
.not-checked { background: #f4f0dc; }
.verdict { font-size: 1.3em; font-weight: bold; }
img { max-width: 100%; }
code { font-size: 90%; }
"""


def cell(value: Any) -> str:
    return escape("" if value is None else str(value))


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    row_classes: Sequence[str] = (),
    table_id: str = "",
) -> str:
    """A table; ``row_classes`` colours rows by verdict (passed, failed, not-checked)."""
    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = row_classes[index] if index < len(row_classes) else ""
        cells = "".join(f"<td>{cell(c)}</td>" for c in row)
        body.append(f'<tr class="{css}">{cells}</tr>')
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_tag(figure: Any, alt: str) -> str:
    """A matplotlib figure as an ``<img>`` with the PNG inline; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, sections: Sequence[str]) -> str:
    """A whole HTML document around already-built sections."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{escape(title)}</h1>{''.join(sections)}</body></html>\n"
    )


def audit_html(data: dict[str, Any]) -> str:
    """The audit's HTML page: the verdict, the suite's problems, per file and per symbol."""
    from reports.audit_markdown import pct

    suite, run = data["suite"], data["run"]
    sections = [f'<p class="verdict">{cell(data["verdict"])}</p>']
    sections.append(
        html_table(
            ["suite ran from", "pytest rootdir", "config file", "interpreter", "sys.path first"],
            [
                [
                    run["cwd"],
                    run["rootdir"] or "?",
                    run["inifile"] or "none",
                    f"{run['python']} (Python {run['python_version'] or '?'})",
                    ", ".join(run["sys_path"]),
                ]
            ],
            table_id="run",
        )
    )
    if data["root_causes"]:
        sections.append("<h2>Root causes</h2>")
        sections.append(
            html_table(
                ["cause", "blocks", "first imported at", "fix"],
                [
                    [f"{c['kind']}: {c['name']}", c["blocks"], c["first_import"] or "-", c["fix"]]
                    for c in data["root_causes"]
                ],
                row_classes=["failed"] * len(data["root_causes"]),
                table_id="root-causes",
            )
        )
    if suite["problems"]:
        sections.append("<h2>Tests that did not pass</h2>")
        sections.append(
            html_table(
                ["test", "outcome", "message"],
                [[p["nodeid"], p["outcome"], p["message"]] for p in suite["problems"]],
                row_classes=["failed"] * len(suite["problems"]),
            )
        )
    rows = [
        [
            f["path"],
            f["lines"],
            pct(f["line_percent"]),
            pct(f["branch_percent"]),
            f["parse_error"] or f["import_error"] or "ok",
        ]
        for f in data["files"]
    ]
    sections += [
        "<h2>Files</h2>",
        html_table(["file", "lines", "line cov.", "branch cov.", "status"], rows, table_id="files"),
    ]
    symbol_rows = [
        [f["path"], s["name"], s["kind"], s["lines"], pct(s["line_percent"]), len(s["tests"])]
        for f in data["files"]
        for s in f["symbols"]
    ]
    sections += [
        "<h2>Classes, functions and methods</h2>",
        html_table(["file", "symbol", "kind", "length", "line cov.", "tests"], symbol_rows),
    ]
    return page(f"Existing code audit: {data['tree']}", sections)
