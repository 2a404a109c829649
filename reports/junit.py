"""``gate.junit.xml``: a phase report's checks in the JUnit XML that every CI system renders.

One ``<testsuite>`` per report and one ``<testcase>`` per check. A failed
check is a ``<failure>`` whose message is its evidence (its details follow as
the text); a check that was not made is ``<skipped>`` with the reason; a
passed check carries its evidence as ``<system-out>``. The layout keeps to
the structure Jenkins' junit step, GitLab's test reports and the GitHub
Actions JUnit report actions read (the tests hold it to a schema of that
structure, ``tests/reports/schemas/junit.xsd``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from reports.checks import FAILED, NOT_CHECKED

JUNIT_FILE = "gate.junit.xml"
_DETAILS_LIMIT = 20_000  # characters of a failed check's details kept in the XML
# characters XML 1.0 cannot hold, even escaped (control characters from a test's output)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def _classname(report: dict[str, Any]) -> str:
    """``gateproof.phase0.reference``: CI systems group test cases by it (dots make packages)."""
    target = str(report.get("target") or "unknown").rstrip("/").rsplit("/", 1)[-1]
    phase = re.sub(r"\W", "_", str(report.get("phase") or "unknown"))
    return f"gateproof.phase{phase}.{re.sub(r'[^0-9A-Za-z_-]', '_', target)}"


def _seconds(value: Any) -> dict[str, str]:
    return {"time": f"{float(value):.3f}"} if isinstance(value, int | float) else {}


def junit_xml(report: dict[str, Any]) -> str:
    """The report's checks as a JUnit XML document (``report.json``'s content in, text out)."""
    checks = report.get("checks") or []
    failures = sum(c["verdict"] == FAILED for c in checks)
    skipped = sum(c["verdict"] == NOT_CHECKED for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "errors": "0"}
    seconds = _seconds(report.get("wall_seconds"))
    root = ET.Element("testsuites", name="gateproof phase gates", **counts, **seconds)
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_text(f"Phase {report.get('phase')} gate on {report.get('target')}"),
        **counts,
        skipped=str(skipped),
        **seconds,
        **({"timestamp": report["generated_at"]} if report.get("generated_at") else {}),
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("phase", "target", "tree", "mapping", "verdict", "schema"):
        if report.get(name) is not None:
            ET.SubElement(properties, "property", name=name, value=_text(report[name]))
    classname = _classname(report)
    for check in checks:
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=_text(f"{check['id']}: {check['title']}")
        )
        evidence = _text(check["evidence"])
        if check["verdict"] == FAILED:
            failure = ET.SubElement(case, "failure", message=evidence, type=str(check["kind"]))
            details = json.dumps(check.get("details") or {}, indent=1, default=str)
            failure.text = _text(f"{evidence}\n\n{details[:_DETAILS_LIMIT]}")
        elif check["verdict"] == NOT_CHECKED:
            ET.SubElement(case, "skipped", message=evidence).text = evidence
        else:
            ET.SubElement(case, "system-out").text = evidence
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
