"""`gateproof report --phase N`: run a refactor phase's gate on a tree and write its report.

The gate (``reports/phases/``) runs on ``--target``: ``reference`` (the
embedded default: process backend, no Docker), ``legacy``, or the PATH of a
gateway tree with ``--mapping`` saying where the gate's targets are in it.
It writes ``REPORT.md``, ``report.json``, ``index.html`` and
``gate.junit.xml`` to ``--out``; the verdict table in Markdown goes to
``--summary PATH`` and is appended to ``$GITHUB_STEP_SUMMARY`` when that is
set, and under GitHub Actions each failed check is an ``::error`` annotation.
``--compare A B`` prints what changed between two reports instead;
``--history DIR`` writes ``history.html`` and ``history.json`` from every
report under DIR.

Exit status: 0 the gate passed; 1 a check failed; 2 bad input (an unknown
phase, a broken mapping); 3 the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK, UsageError

DEFAULT_OUT = Path("reports/out/report")
DEFAULT_HISTORY_OUT = Path("reports/out/history")
BUILTIN_TARGETS = ("reference", "legacy")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="run a refactor phase's gate (tests, coverage, stress, checklist); write its report",
        description=__doc__.split("\n\n")[1],
        epilog="examples: gateproof report --phase 0 ; gateproof report --phase 0 --target "
        "legacy ; gateproof report --compare reports/examples/phase0-legacy "
        "reports/examples/phase0-reference ; gateproof report --history reports/examples",
    )
    parser.add_argument("--phase", help="0, 0-direct, 1, 2, 3, 4, or a gate YAML file")
    parser.add_argument(
        "--target", default="reference", help="reference (default), legacy, or a tree's PATH"
    )
    parser.add_argument("--mapping", type=Path, help="YAML saying where the gate's targets are")
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="without --mapping: run the tree's suite from DIR (default: here, when the tree "
        "and its tests are under it; else the tree's root)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"default: {DEFAULT_OUT}/phaseN-TARGET/ (with --history: {DEFAULT_HISTORY_OUT}/)",
    )
    parser.add_argument(
        "--summary",
        type=Path,
        metavar="PATH",
        help="also write the verdict table in Markdown to PATH (the job summary's text)",
    )
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A", "B"), help="show what changed from A to B"
    )
    parser.add_argument(
        "--history",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="write history.html and history.json from every report.json under DIR",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    modes = [name for name in ("phase", "compare", "history") if getattr(args, name)]
    if len(modes) > 1:
        raise UsageError(f"give one of --phase, --compare and --history, not {' and '.join(modes)}")
    if args.summary and not args.phase:
        raise UsageError("--summary goes with --phase: it is the summary of a gate's run")
    if args.compare:
        return compare(*args.compare)
    if args.history:
        return history(args.history, args.out or DEFAULT_HISTORY_OUT)
    if not args.phase:
        raise UsageError("give --phase N (0, 0-direct, 1-4), --compare A B or --history DIR")
    from reports.gates import GateError, load_gate
    from reports.github import publish
    from reports.mapping import MappingError, builtin_mapping, default_mapping, load_mapping
    from reports.phase_report import write_report
    from reports.phase_run import Run, run_phase

    if args.root is not None and (
        args.mapping is not None or args.target in BUILTIN_TARGETS or not args.root.is_dir()
    ):
        raise UsageError(
            f"--root {args.root}: give a directory, and only with --target PATH and no "
            f"--mapping (a mapping file says its own `root:`)"
        )
    try:
        gate = load_gate(args.phase)
        if args.mapping is not None:
            mapping = load_mapping(args.mapping)
        elif args.target in BUILTIN_TARGETS:
            mapping = builtin_mapping(args.target)
        elif Path(args.target).is_dir():
            if args.root is not None and not Path(args.target).resolve().is_relative_to(
                args.root.resolve()
            ):
                raise UsageError(f"--root {args.root} does not contain {args.target}")
            mapping = default_mapping(Path(args.target), root=args.root)
        else:
            raise UsageError(
                f"--target {args.target}: not reference, legacy or a directory; "
                f"give the path of a gateway tree (and --mapping for its layout)"
            )
    except (GateError, MappingError) as error:
        raise UsageError(str(error)) from None
    name = args.target if args.target in BUILTIN_TARGETS else Path(args.target).name
    out = args.out or DEFAULT_OUT / f"phase{gate.phase}-{name}"
    run = Run(gate=gate, mapping=mapping, out=out.resolve(), target=args.target)
    print(f"report: {gate.title} on {args.target} -> {out}", file=sys.stderr)
    report = run_phase(run)
    paths = write_report(report, out)
    print(report["summary"])
    for check in report["checks"]:
        print(f"  {check['verdict'].upper():12} {check['id']}: {check['evidence']}")
    try:
        summaries, annotations = publish(report, os.environ, summary=args.summary)
    except OSError as error:
        raise UsageError(
            f"cannot write the job summary: {error}; the report itself is in {out}"
        ) from None
    for line in annotations:
        print(line)
    print(f"wrote {', '.join(str(p) for p in [*paths, *summaries])}")
    return EXIT_FAILED if report["verdict"] == "failed" else EXIT_OK


def history(dirs: list[Path], out: Path) -> int:
    from reports.history import HistoryError, build_history, write_history

    try:
        data = build_history(dirs)
    except HistoryError as error:
        raise UsageError(str(error)) from None
    paths = write_history(data, out)
    for skipped in data["skipped"]:
        print(f"skipped {skipped['path']}: {skipped['reason']}", file=sys.stderr)
    dated = sum(r["date"] is not None for r in data["reports"])
    print(
        f"{len(data['reports'])} reports ({dated} dated), {len(data['flips'])} checks flipped; "
        f"wrote {', '.join(str(p) for p in paths)}"
    )
    return EXIT_OK


def compare(a: Path, b: Path) -> int:
    from reports.compare import compare as diff
    from reports.compare import compare_markdown
    from reports.phase_report import load_report

    try:
        before, after = load_report(a), load_report(b)
    except (OSError, ValueError) as error:
        raise UsageError(
            f"cannot read a report: {error}; give report directories or report.json files"
        ) from None
    print(compare_markdown(diff(before, after)), end="")
    return EXIT_OK
