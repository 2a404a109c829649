"""Phase gates as data: one YAML file per phase in ``reports/phases/``.

A gate has ``phase``, ``title``, ``audit`` (whether its checks read the
audit's coverage and test results) and ``checks``, each a dict with ``id``,
``kind`` (one of :data:`reports.checks.KINDS`), ``title`` and the kind's
parameters. ``--phase`` takes a phase name (``0``, ``0-direct``, ``1`` ...)
or the path of a gate file of one's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reports.checks import KINDS

PHASES = Path(__file__).parent / "phases"


class GateError(ValueError):
    """A phase that does not exist or a gate file that is wrong; the message says what to do."""


@dataclass
class Gate:
    phase: str
    title: str
    audit: bool
    checks: list[dict[str, Any]]
    path: Path


def available_phases() -> list[str]:
    return sorted(p.stem.removeprefix("phase") for p in PHASES.glob("phase*.yaml"))


def load_gate(phase: str) -> Gate:
    """The gate of a shipped phase, or of a gate file given by path."""
    path = Path(phase) if phase.endswith((".yaml", ".yml")) else PHASES / f"phase{phase}.yaml"
    if not path.is_file():
        raise GateError(
            f"no phase {phase!r}; choose one of {', '.join(available_phases())} "
            f"or give the path of a gate file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise GateError(f"gate {path} is not valid YAML: {error}") from None
    checks = data.get("checks")
    if not isinstance(checks, list) or not checks:
        raise GateError(f"gate {path} needs a non-empty `checks:` list")
    seen = set()
    for index, check in enumerate(checks):
        where = f"gate {path}, check {index + 1}"
        if not isinstance(check, dict) or not {"id", "kind", "title"} <= set(check):
            raise GateError(f"{where}: every check needs id, kind and title")
        if check["kind"] not in KINDS:
            raise GateError(f"{where}: unknown kind {check['kind']!r}; one of {', '.join(KINDS)}")
        if check["id"] in seen:
            raise GateError(f"{where}: id {check['id']!r} is used twice")
        seen.add(check["id"])
    return Gate(
        phase=str(data.get("phase", path.stem)),
        title=str(data.get("title", path.stem)),
        audit=bool(data.get("audit", True)),
        checks=checks,
        path=path,
    )
