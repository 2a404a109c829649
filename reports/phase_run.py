"""Running a phase gate on a tree: its steps, then its checks, then one report.

Each step is a function of the :class:`Run`, run in order, that gathers
evidence: the audit (the tree's suite under coverage), the stress runs the
gate asks for, the capacity model when the mapping names a scenario, and
the short load test when it names one (its measured latencies go beside the
model's predictions). Steps run other parts of gateproof as commands
(``gateproof stress``, ``gateproof sim``, ``gateproof load``) and read their
output files, so this package never imports the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports.audit import AuditPlan, audit, write_audit
from reports.checks import FAILED, NOT_CHECKED, PASSED, CheckResult, Evidence, run_check
from reports.gates import Gate
from reports.mapping import Mapping
from reports.paths import shown

SCHEMA = "gateproof.report/1"
CHILD_GRACE_SECONDS = 30.0  # gateproof stress gives pytest 10 s, then cleans up


def _default_gateproof() -> list[str]:
    return [sys.executable, "-m", "gateproof"]


@dataclass
class Run:
    """One phase report in the making: what to run, and what the steps found."""

    gate: Gate
    mapping: Mapping
    out: Path
    target: str
    gateproof: list[str] = field(default_factory=_default_gateproof)
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)
    evidence: Evidence = field(default_factory=Evidence)
    steps: list[dict[str, Any]] = field(default_factory=list)
    extra_checks: list[CheckResult] = field(default_factory=list)
    predicted: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None


def step_audit(run: Run) -> str:
    """The tree's suite once under coverage, with the inventory and the import probe."""
    if not run.gate.audit:
        return "skipped: the gate reads no coverage"
    m = run.mapping
    plan = AuditPlan(
        source=m.source,
        root=m.root,
        tests=m.tests,
        python=m.python,
        workers=m.workers,
        progress=lambda text: run.say(f"  audit: {text}"),
    )
    data = audit(plan, run.out / "audit")
    write_audit(data, run.out / "audit")
    run.evidence.audit = data
    return data["verdict"]


def run_child(command: list[str], cwd: Path, *, capture: bool = False) -> tuple[int, str]:
    """Run another gateproof command; on Ctrl-C let it clean up (it got the SIGINT too).

    ``subprocess.run`` would kill it at once, before it stops its own pytest.
    Returns the exit status and, with ``capture``, its stderr.
    """
    stderr = subprocess.PIPE if capture else None
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr, text=True
    ) as process:
        try:
            _, err = process.communicate()
        except KeyboardInterrupt:
            try:
                process.wait(timeout=CHILD_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    return process.returncode, err or ""


def _stress_once(run: Run, check: dict[str, Any]) -> dict[str, Any] | str:
    selected = run.mapping.selection(check["selection"])
    if selected is None:
        return f"the mapping marks {check['selection']!r} as not applicable to this tree"
    paths, args = selected
    missing = [p for p in paths if not (run.mapping.root / p.split("::")[0]).exists()]
    if missing or not paths:
        return (
            f"{check['selection']!r} resolves to {paths}, which does not exist under "
            f"{shown(run.mapping.root)}; map it under `selections:` in a mapping file"
        )
    out = (run.out / "stress" / check["id"]).resolve()
    command = [*run.gateproof, "stress", *paths, "--count", str(check["count"]), "--out", str(out)]
    if args:
        command += ["--", *args]
    report = out / "flakiness.json"
    report.unlink(missing_ok=True)  # a report left by an earlier run must not stand for this one
    code, _ = run_child(command, run.mapping.root)
    if not report.exists():
        return f"gateproof stress exited {code} without a report; see {out}/pytest.log"
    data = json.loads(report.read_text())
    if code not in (0, 1):
        return f"gateproof stress could not run it (exit {code}): {data['verdict']}"
    return data


def step_stress(run: Run) -> str:
    """Every stress check of the gate, through `gateproof stress` (its progress bar shows)."""
    checks = [c for c in run.gate.checks if c["kind"] == "stress"]
    for check in checks:
        run.say(f"  stress: {check['selection']} x{check['count']}")
        run.evidence.stress[check["id"]] = outcome = _stress_once(run, check)
        run.say(f"  {outcome if isinstance(outcome, str) else outcome['verdict']}")
    return (
        f"{len(checks)} stress selection(s)" if checks else "skipped: the gate has no stress check"
    )


def step_sim(run: Run) -> str:
    """The capacity model on the mapping's scenario: predicted latencies, the SLO verdict."""
    scenario = run.mapping.sim
    if not scenario:
        return "skipped: the mapping names no scenario"
    out = (run.out / "sim").resolve()
    command = [*run.gateproof, "sim", scenario, "--out", str(out), "--quiet"]
    path = out / "sim.json"
    path.unlink(missing_ok=True)
    code, stderr = run_child(command, run.mapping.root, capture=True)
    check = {
        "id": "sim-slo",
        "kind": "sim",
        "title": f"the capacity model of {scenario} meets its SLOs",
    }
    if not path.exists():
        reason = (stderr.strip().splitlines() or [f"exit {code}"])[-1]
        run.extra_checks.append(
            CheckResult(check["id"], "sim", check["title"], NOT_CHECKED, reason)
        )
        return f"gateproof sim failed: {reason}"
    data = json.loads(path.read_text())
    run.predicted = {
        "scenario": data["scenario"],
        "functions": {
            name: {q: round(1000 * f[f"latency_{q}"]["mean"], 2) for q in ("p50", "p95", "p99")}
            for name, f in data["functions"].items()
        },
        "slo_met": data["slo"]["met"],
    }
    breached = [c for c in data["slo"]["checks"] if not c["ok"]]
    evidence = (
        f"{len(data['slo']['checks'])} SLO checks met over {data['replications']} replications"
        if not breached
        else "breached: " + ", ".join(f"{c['function']} {c['metric']}" for c in breached)
    )
    run.extra_checks.append(
        CheckResult(
            check["id"],
            "sim",
            check["title"],
            PASSED if not breached else FAILED,
            evidence,
            {"slo": data["slo"]["checks"]},
        )
    )
    return evidence


def _calibrated_prediction(
    run: Run, out: Path, overrides: list[str], data: dict[str, Any]
) -> dict[str, Any] | None:
    """The model calibrated from the load test itself, on the load test's own workload.

    Only when the target sent its Server-Timing split (the reference gateway does):
    `gateproof sim calibrate OUT --write` fills in overhead and hold_overhead, then
    `gateproof sim` predicts the same short run. None when either step gives nothing.
    """
    if not any(f.get("server_timing") for f in data["functions"].values()):
        return None
    calibrated = out / "calibrated.yaml"
    sim_out = out / "calibrated-sim"
    calibrate = [*run.gateproof, "sim", "calibrate", str(out), "--write", str(calibrated)]
    if run_child(calibrate, run.mapping.root, capture=True)[0] != 0:
        return None
    simulate = [*run.gateproof, "sim", str(calibrated), *overrides, "--replications", "3",
                "--out", str(sim_out), "--quiet"]  # fmt: skip
    run_child(simulate, run.mapping.root, capture=True)  # exit 1 is an SLO breach: still read
    path = sim_out / "sim.json"
    if not path.exists():
        return None
    predicted = json.loads(path.read_text())["functions"]
    return {
        name: {q: round(1000 * f[f"latency_{q}"]["mean"], 2) for q in ("p50", "p95", "p99")}
        for name, f in predicted.items()
    }


def step_load(run: Run) -> str:
    """The mapping's short load test (`gateproof load`): measured latencies and its SLO gate."""
    spec = run.mapping.load
    if not spec:
        return "skipped: the mapping names no load test"
    scenario = spec["scenario"]
    out = (run.out / "load").resolve()
    where = (
        ["--host", spec["host"]] if spec.get("host") else ["--target", spec.get("target", "local")]
    )
    overrides = [arg for value in spec.get("set", []) for arg in ("--set", str(value))]
    # the sim step predicts; the load step only measures
    command = [
        *run.gateproof,
        "load",
        scenario,
        *where,
        *overrides,
        "--no-predict",
        "--out",
        str(out),
    ]
    path = out / "load.json"
    path.unlink(missing_ok=True)
    code, stderr = run_child(command, run.mapping.root, capture=True)
    title = f"a short load test of {scenario} meets its SLOs and the error contract"
    if not path.exists():
        reason = (stderr.strip().splitlines() or [f"exit {code}"])[-1]
        run.extra_checks.append(CheckResult("load-slo", "load", title, NOT_CHECKED, reason))
        return f"gateproof load failed: {reason}"
    data = json.loads(path.read_text())
    run.measured = {
        "scenario": data["scenario"],
        "functions": {
            name: {q: round(1000 * f[q], 2) for q in ("p50", "p95", "p99") if f.get(q) is not None}
            for name, f in data["functions"].items()
        },
        "calibrated": _calibrated_prediction(run, out, overrides, data),
    }
    overall = data["overall"]
    broken = [c for c in data["slo"]["checks"] if not c["ok"]]
    held = data["slo"]["met"] and data["contract"]["held"] and data["complete"]
    evidence = (
        f"{overall['requests']} requests at {overall['achieved_rate']:.1f} req/s "
        f"(target {overall['target_rate']:.1f}); "
        + ("SLOs met" if not broken else "broken: " + ", ".join(
            f"{c['function']} {c['metric']}" for c in broken))
        + ("" if data["contract"]["held"] else "; error contract broken")
    )  # fmt: skip
    run.extra_checks.append(
        CheckResult(
            "load-slo",
            "load",
            title,
            PASSED if held else FAILED,
            evidence,
            {"slo": data["slo"]["checks"], "contract": data["contract"]},
        )
    )
    return evidence


STEPS: list[tuple[str, Callable[[Run], str]]] = [
    ("audit", step_audit),
    ("stress", step_stress),
    ("sim", step_sim),
    ("load", step_load),
]


def module_of(path: str) -> str:
    """The module a file belongs to in the plots: its top directory, or itself."""
    return path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")


def coverage_by_module(audit_data: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not audit_data:
        return []
    modules: dict[str, list[int]] = {}
    for f in audit_data["files"]:
        totals = modules.setdefault(module_of(f["path"]), [0, 0, 0, 0])
        totals[0] += f["statements"]
        totals[1] += f["covered_lines"]
        totals[2] += f["branches"]
        totals[3] += f["covered_branches"]
    return [
        {
            "module": name,
            "statements": s,
            "line_percent": round(100 * c / s, 1) if s else None,
            "branch_percent": round(100 * cb / b, 1) if b else None,
        }
        for name, (s, c, b, cb) in sorted(modules.items())
        if s
    ]


def run_phase(run: Run) -> dict[str, Any]:
    """Run the gate's steps and checks; return ``report.json``'s content."""
    started = time.monotonic()
    for index, (name, step) in enumerate(STEPS, start=1):
        run.say(f"[{index}/{len(STEPS)}] {name} ...")
        step_started = time.monotonic()
        summary = step(run)
        seconds = round(time.monotonic() - step_started, 1)
        run.steps.append({"name": name, "seconds": seconds, "summary": summary})
        run.say(f"[{index}/{len(STEPS)}] {name} done in {seconds} s: {summary}")
    results = [run_check(c, run.mapping, run.evidence) for c in run.gate.checks]
    results += run.extra_checks
    counts, verdict = tally(results)
    audit_data = run.evidence.audit
    return {
        "schema": SCHEMA,
        "phase": run.gate.phase,
        "title": run.gate.title,
        "target": run.target,
        "tree": shown(run.mapping.source),
        "root": shown(run.mapping.root),
        "mapping": run.mapping.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - started, 1),
        "verdict": verdict,
        "summary": summary_line(run.gate.phase, run.target, verdict, counts, results),
        "counts": {k.replace(" ", "_"): v for k, v in counts.items()},
        "checks": [r.as_dict() for r in results],
        "steps": run.steps,
        "coverage": {
            "line_percent": audit_data["totals"]["line_percent"] if audit_data else None,
            "branch_percent": audit_data["totals"]["branch_percent"] if audit_data else None,
            "modules": coverage_by_module(audit_data),
        },
        "tests": {
            k: audit_data["suite"][k]
            for k in ("tests", "passed", "failed", "errors", "collection_errors")
        }
        if audit_data
        else None,
        "flakiness": [
            {"check": r.id, **test}
            for r in results
            if r.kind == "stress" and r.verdict != NOT_CHECKED
            for test in r.details["tests"]
        ],
        "latency": {"predicted": run.predicted, "measured": run.measured},
        "audit": "audit/audit.json" if audit_data else None,
    }


def tally(results: list[CheckResult]) -> tuple[dict[str, int], str]:
    """The count of each verdict, and the gate's: failed if any check failed or none passed."""
    counts = {v: sum(r.verdict == v for r in results) for v in (PASSED, FAILED, NOT_CHECKED)}
    return counts, FAILED if counts[FAILED] or not counts[PASSED] else PASSED


def summary_line(
    phase: str, target: str, verdict: str, counts: dict[str, int], results: list[CheckResult]
) -> str:
    """The report's one sentence: the verdict, and the checks that decided it."""
    head = f"Phase {phase} gate on {target}: {verdict.upper()}"
    tail = f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_CHECKED]} not checked"
    failed = [r.id for r in results if r.verdict == FAILED]
    if failed:
        tail += f" (failed: {', '.join(failed)})"
    return f"{head}: {tail}"
