"""`gateproof bench report`: what the main job and the audit cost, and what coverage adds.

Three figures, each measured here and now:

* the wall time of the main job, ``gateproof report --phase 0`` on the
  reference gateway (target: under 3 minutes on a 2-core machine);
* the wall time of ``gateproof audit`` on the reference tree, with the
  reference mapping's tests;
* the cost of coverage measurement: the reference gateway's unit tests run
  with the audit's coverage options (line, branch, per-test contexts) and
  without, alternating, in one run; the ratio of the medians is the figure
  (target: below 1.5x).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK

MAIN_JOB_TARGET_SECONDS = 180.0
COVERAGE_TARGET_RATIO = 1.5
MAIN_JOB_OUT = Path("reports/out/bench/report-main-job")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="wall time of the main job and of the audit; coverage's cost on the unit suite",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each coverage variant (default: 3)"
    )
    parser.add_argument(
        "--skip-main-job", action="store_true", help="measure only the audit and coverage's cost"
    )
    parser.set_defaults(func=run)


def _summary(out: Path) -> str:
    import json

    try:
        return json.loads((out / "report.json").read_text())["summary"]
    except (OSError, ValueError, KeyError):
        return "no report written"


def _timed(command: list[str], cwd: Path) -> tuple[float, int]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started, done.returncode


def run(args: argparse.Namespace) -> int:
    from reports.mapping import builtin_mapping
    from reports.suite_run import coverage_rc, pytest_command

    mapping = builtin_mapping("reference")
    gateproof = [sys.executable, "-m", "gateproof"]
    ok = True
    with tempfile.TemporaryDirectory(prefix="gateproof-bench-report-") as tmp:
        out = Path(tmp)
        if not args.skip_main_job:
            print("main job: gateproof report --phase 0 ...", file=sys.stderr, flush=True)
            main_out = mapping.root / MAIN_JOB_OUT  # kept: a red gate must be readable
            seconds, code = _timed(
                [*gateproof, "report", "--phase", "0", "--out", str(main_out)], mapping.root
            )
            met = code == 0 and seconds < MAIN_JOB_TARGET_SECONDS
            ok &= met
            verdict = "met" if met else "MISSED"
            print(
                f"main job (gateproof report --phase 0): {seconds:.1f} s, exit {code} "
                f"(target: green in < {MAIN_JOB_TARGET_SECONDS:.0f} s: {verdict})"
            )
            if code != 0:
                print(f"  the gate: {_summary(main_out)} (report in {MAIN_JOB_OUT})")
        print("audit of the reference tree ...", file=sys.stderr, flush=True)
        seconds, code = _timed(
            [
                *gateproof,
                "audit",
                str(mapping.source),
                "--tests",
                *mapping.tests,
                "--workers",
                mapping.workers,
                "--out",
                str(out / "audit"),
            ],
            mapping.root,
        )
        print(f"gateproof audit reference/gateway: {seconds:.1f} s, exit {code}")
        unit = [t for t in mapping.tests if t.startswith("tests/unit/")]
        (out / "cov").mkdir()
        covered = pytest_command(
            sys.executable,
            mapping.root,
            mapping.source,
            unit,
            out / "cov",
            coverage_rc(out / "cov"),
            "0",
        )
        plain = [sys.executable, "-m", "pytest", *unit, "-p", "no:cacheprovider", "-q"]
        with_cov, without = [], []
        for index in range(args.repeat):
            print(
                f"unit suite, run {index + 1}/{args.repeat}: with and without coverage",
                file=sys.stderr,
                flush=True,
            )
            pair = [(plain, without), (covered, with_cov)]
            for command, times in pair if index % 2 == 0 else reversed(pair):  # alternate order
                times.append(_timed(command, mapping.root)[0])
        ratio = statistics.median(with_cov) / statistics.median(without)
        met = ratio < COVERAGE_TARGET_RATIO
        ok &= met
        print(
            f"unit suite ({len(unit)} files), median of {args.repeat}: without coverage "
            f"{statistics.median(without):.1f} s, with line+branch+contexts "
            f"{statistics.median(with_cov):.1f} s: {ratio:.2f}x "
            f"(target < {COVERAGE_TARGET_RATIO}x: {'met' if met else 'MISSED'})"
        )
    return EXIT_OK if ok else EXIT_FAILED
