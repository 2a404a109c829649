"""`gateproof audit PATH`: what code a gateway tree has, what its own suite tests, what is missing.

Writes ``EXISTING_CODE_AUDIT.md``, ``audit.json`` and ``audit.html`` to
``--out`` (:mod:`reports.audit`). The tree's suite runs in a subprocess with
``--python``, as ``python -m pytest`` from where the user is when PATH and the
tests are under it (else from the tree's root; ``--root DIR`` chooses). A
suite with failing tests or modules that do not import still gives a complete
audit (exit 0: the audit itself succeeded); a missing PATH is bad input
(exit 2); an interpreter that cannot run pytest with pytest-cov is the
environment (exit 3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateproof.cli import EXIT_OK, EnvironmentProblem, UsageError

DEFAULT_OUT = Path("reports/out/audit")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit a gateway tree: files, symbols, coverage per function, failing tests, gaps",
        description=(
            "Run the tree's own tests once under coverage (line, branch, which tests run each "
            "function) and write EXISTING_CODE_AUDIT.md, audit.json and audit.html."
        ),
        epilog="example: gateproof audit reference/gateway --tests tests/unit",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="the code to audit")
    parser.add_argument(
        "--tests",
        nargs="+",
        metavar="TESTS",
        help="test files or directories (default: the nearest tests/ at or above PATH)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="run the suite from DIR (default: here, when PATH and the tests are under it; "
        "else the tree's root)",
    )
    parser.add_argument(
        "--python", help="the tree's interpreter, with pytest and pytest-cov (default: this one)"
    )
    parser.add_argument(
        "--spec", type=Path, help="YAML of expected files and symbols: the gap list"
    )
    parser.add_argument(
        "--workers", default="0", help="pytest-xdist workers for the suite (default: 0, none)"
    )
    parser.add_argument(
        "--subprocesses",
        action="store_true",
        help="also measure Python processes the tests start (coverage.py's patch = subprocess; "
        "slower)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reports.audit import SpecError, audit, plan_for, write_audit

    if not args.path.is_dir():
        raise UsageError(f"{args.path} is not a directory; give the root of the code to audit")
    for test in args.tests or []:
        if not Path(test.split("::")[0]).exists():
            raise UsageError(
                f"--tests {test}: no such file or directory (relative to {Path.cwd()})"
            )
    if args.root is not None and not args.root.is_dir():
        raise UsageError(f"--root {args.root}: not a directory; give where the suite should run")
    if args.root is not None and not args.path.resolve().is_relative_to(args.root.resolve()):
        raise UsageError(f"--root {args.root} does not contain {args.path}; give a parent of it")
    if args.spec is not None and not args.spec.is_file():
        raise UsageError(f"--spec {args.spec}: no such file; give a YAML file with `files:`")
    python = args.python
    if python and "/" in python:
        python = str(Path(python).absolute())
    plan = plan_for(
        args.path,
        tests=args.tests,
        python=python,
        workers=args.workers,
        spec=args.spec,
        root=args.root,
    )
    plan.subprocesses = args.subprocesses
    plan.progress = lambda text: print(f"audit: {text}", file=sys.stderr, flush=True)
    print(
        f"audit: running {' '.join(plan.tests) or 'the suite'} from {plan.root} ...",
        file=sys.stderr,
    )
    try:
        data = audit(plan, args.out)
    except SpecError as error:
        raise UsageError(str(error)) from None
    if data["suite"]["note"].startswith(("interpreter", f"{plan.python} cannot")):
        write_audit(data, args.out)
        raise EnvironmentProblem(data["suite"]["note"])
    paths = write_audit(data, args.out)
    print(data["verdict"])
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return EXIT_OK
