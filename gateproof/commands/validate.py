"""`gateproof validate SCENARIO`: the model against real load across utilisation.

One calibration run, then a load run and the model at each ``--utilisation``;
prints the verdict and writes ``validation.json``, ``validation.md`` and
``validation.png`` to ``--out`` (see docs/capacity.md). Exit 0 when every
figure agrees within its target, 1 otherwise (inconclusive included), 2 bad
input, 3 the target or Locust could not run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError
from gateproof.commands.sim import add_set_option, ensure_out

DEFAULT_OUT = Path("reports/out/validate")
DEFAULT_UTILISATION = "0.5,0.7,0.85,0.95"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check the model against real load at several utilisations, with intervals",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="base URL of a gateway already running (staging)")
    where.add_argument(
        "--target",
        choices=["local", "docker"],
        help="start this gateway on 127.0.0.1 for each run, and stop it after",
    )
    parser.add_argument(
        "--utilisation",
        default=DEFAULT_UTILISATION,
        help=f"comma-separated pool utilisations to test (default: {DEFAULT_UTILISATION})",
    )
    parser.add_argument("--replications", "-n", type=int, help="model replications per point")
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="RUN_DIR",
        help="fit the model from this earlier load run's folder instead of a new calibration run",
    )
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from loadtests.runner import LoadEnvironmentError, LoadInputError
    from loadtests.validation import parse_utilisations, validate
    from loadtests.validation_report import format_validation, plot_validation
    from sim.results import finite

    if args.replications is not None and args.replications < 2:
        raise UsageError("--replications must be at least 2 (an interval needs two)")
    try:
        utilisations = parse_utilisations(args.utilisation)
        out = ensure_out(args.out)
        validation = validate(
            args.scenario,
            utilisations,
            out=out,
            target=args.target,
            host=args.host,
            overrides=args.overrides,
            replications=args.replications,
            calibration_run=args.calibration,
        )
    except LoadInputError as error:
        raise UsageError(str(error)) from None
    except LoadEnvironmentError as error:
        raise EnvironmentProblem(str(error)) from None
    data = finite(validation.as_dict())
    (out / "validation.json").write_text(json.dumps(data, indent=1) + "\n")
    text = format_validation(validation.as_dict())
    (out / "validation.md").write_text(text)
    plot_validation(validation.as_dict(), out / "validation.png")
    print(text)
    print(f"wrote {out / 'validation.json'}, validation.md, validation.png")
    return EXIT_OK if validation.verdict == "meets the targets" else EXIT_FAILED
