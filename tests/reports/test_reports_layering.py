"""reports/ reads the outputs of the other parts; the CLI is a layer over it, not under it."""

from __future__ import annotations

import ast
from pathlib import Path

import reports
from gateproof.testing import plugin
from reports import collector

REPORTS = Path(reports.__file__).parent


def test_no_module_of_reports_imports_the_cli_package() -> None:
    offenders = []
    for path in sorted(REPORTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "gateproof"]
    assert offenders == []


def test_the_collector_looks_up_the_shuffle_plugin_by_the_name_it_is_registered_under() -> None:
    source = Path(plugin.__file__).read_text()
    assert f'"{collector.SHUFFLE_PLUGIN_NAME}"' in source


def test_the_collector_reads_the_loop_property_and_schedule_id_the_plugin_writes() -> None:
    from reports import nodeid

    assert collector.LOOP_PROPERTY == plugin.LOOP_PROPERTY
    assert nodeid.SCHEDULE_ID == plugin.SCHEDULE_ID
