"""`gateproof sim SCENARIO` and `gateproof sim calibrate FILE`.

The first runs the capacity model: replications in parallel, ``sim.json`` and
PNG plots in ``--out``, a summary table and the SLO verdict on stdout (exit 1
on a breach). The second fits a service-time distribution to measured
latencies and prints the scenario block to paste. One positional argument
carries both forms, so a scenario path and the word ``calibrate`` share it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError

DEFAULT_OUT = Path("reports/out/sim")

DESCRIPTION = """\
Simulate a scenario:   gateproof sim SCENARIO [--replications N] [--seed S]
                                         [--set path=value ...] [--out DIR]
Fit service times:     gateproof sim calibrate FILE [--function NAME]
                                         [--family auto|lognormal|gamma|exponential]
Fit the overheads:     gateproof sim calibrate RUN_DIR [--function NAME]
                                         [--write FILE [--scenario SCENARIO]]

SCENARIO is a YAML file such as scenarios/steady.yaml. --set overrides one
field by its dotted path (functions.echo.scaling.max_capacity=20); values are
read as YAML. FILE is a JSON-lines access log with a duration_ms field per line,
or a Locust *_stats_history.csv. RUN_DIR is a `gateproof load` --out folder (or
its load.json): it gives each function's overhead (outside its worker) and
hold_overhead (worker held beyond its service), from the target's Server-Timing
split when it sent one, else the median method (overhead only). --write FILE
writes the run's scenario (or --scenario) with those blocks filled in,
comments kept (see docs/capacity.md)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="simulate a scenario's capacity, or calibrate service times from measurements",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", metavar="SCENARIO|calibrate", help="scenario YAML file")
    parser.add_argument("file", nargs="?", metavar="FILE", help="measurements (calibrate only)")
    add_run_options(parser)
    parser.add_argument(
        "--family",
        default="auto",
        choices=["auto", "lognormal", "gamma", "exponential"],
        help="calibrate: distribution family (default: the best fit)",
    )
    parser.add_argument(
        "--field", default="duration_ms", help="calibrate: JSON field in milliseconds"
    )
    parser.add_argument("--function", help="calibrate: only this function's access-log lines")
    parser.add_argument(
        "--write",
        type=Path,
        metavar="FILE",
        help="calibrate RUN_DIR: write the calibrated scenario to FILE",
    )
    parser.add_argument(
        "--scenario",
        dest="calibrated_scenario",
        type=Path,
        metavar="SCENARIO",
        help="calibrate RUN_DIR --write: the scenario to fill in (default: the run's own)",
    )
    parser.set_defaults(func=run)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `sim` and `plan`."""
    parser.add_argument("--replications", "-n", type=int, help="default: the scenario's")
    parser.add_argument("--seed", type=int, help="default: the scenario's")
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}/")
    parser.add_argument("--workers", type=int, help="processes (default: one per core)")
    parser.add_argument(
        "--scheduler",
        default=os.environ.get("GATEPROOF_SCHEDULER"),
        metavar="ADDRESS",
        help="run the replications on a Dask cluster: tcp://host:8786, or local:N for N "
        "local worker processes (default: $GATEPROOF_SCHEDULER, else this machine's cores)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set PATH=VALUE``, the same for every command that reads a scenario."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field (repeatable)",
    )


@contextmanager
def cluster_for(args: argparse.Namespace) -> Iterator[Any]:
    """The Dask cluster ``--scheduler`` names, or None for the local process pool.

    Dask is imported only when a scheduler is named. A cluster that cannot be
    used is refused before any work is sent (exit 3); afterwards the run says
    how many replications Dask reran because their worker died.
    """
    if not args.scheduler:
        yield None
        return
    from sim.cluster import Cluster, SchedulerUnreachable, VersionMismatch, connect

    try:
        with connect(args.scheduler) as client:
            cluster = Cluster(client)
            workers = cluster.workers
            yield cluster
            print(
                f"ran on the Dask cluster at {args.scheduler} ({workers} workers); "
                f"{cluster.retried} replications rerun after a worker died"
            )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except (SchedulerUnreachable, VersionMismatch) as error:
        raise EnvironmentProblem(str(error)) from None


def load(args: argparse.Namespace) -> Any:
    """The scenario named on the command line, with overrides; bad input is a UsageError."""
    from scenarios.loading import ScenarioError, load_scenario

    if args.replications is not None and args.replications < 1:
        raise UsageError("--replications must be at least 1")
    try:
        return load_scenario(args.scenario, args.overrides)
    except ScenarioError as error:
        raise UsageError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    if args.scenario == "calibrate" and not Path("calibrate").is_file():
        if args.file is None:
            raise UsageError(
                "calibrate needs a FILE: a JSON-lines access log or a Locust "
                "*_stats_history.csv (gateproof sim calibrate access.jsonl)"
            )
        return calibrate(args)
    if args.file is not None:
        raise UsageError(
            f"unexpected argument {args.file!r}: give one scenario, "
            f"or 'calibrate FILE' to fit service times"
        )
    from sim.plots import plot_run
    from sim.replications import simulate
    from sim.report import format_summary
    from sim.results import finite

    scenario = load(args)
    with cluster_for(args) as cluster:
        result = simulate(
            scenario,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            progress=not args.quiet,
            cluster=cluster,
        )
    out = ensure_out(args.out)
    data = result.as_dict()
    (out / "sim.json").write_text(json.dumps(finite(data), indent=1))
    plots = plot_run(data, out)
    print(format_summary(result))
    print(f"wrote {out / 'sim.json'} and {', '.join(p.name for p in plots)}")
    return EXIT_OK if result.slo_met else EXIT_FAILED


def calibrate(args: argparse.Namespace) -> int:
    from sim.calibrate import CalibrationError, calibrate

    try:
        if Path(args.file).is_dir() or Path(args.file).name == "load.json":
            return calibrate_run_dir(args)
        if args.write is not None:
            raise UsageError("--write needs a load run's folder (RUN_DIR), not a latency file")
        fit = calibrate(args.file, family=args.family, field=args.field, function=args.function)
    except CalibrationError as error:
        raise UsageError(str(error)) from None
    print(fit.yaml_block())
    return EXIT_OK


def calibrate_run_dir(args: argparse.Namespace) -> int:
    """Both overheads from a load run; with ``--write``, the calibrated scenario."""
    from sim.calibrate import CalibrationError, calibrate_run
    from sim.calibrated_scenario import write_calibrated

    calibrations = calibrate_run(args.file, args.function)
    for calibration in calibrations:
        print(calibration.yaml_blocks())
    if args.write is None:
        return EXIT_OK
    scenario = args.calibrated_scenario or _run_scenario(Path(args.file))
    if scenario is None:
        raise CalibrationError(
            f"{args.file}: the run does not name its scenario file; pass --scenario SCENARIO"
        )
    written = write_calibrated(scenario, calibrations, args.write)
    print(f"wrote {written} ({scenario} with the fitted blocks)")
    return EXIT_OK


def _run_scenario(run: Path) -> Path | None:
    document = json.loads((run / "load.json" if run.is_dir() else run).read_text())
    name = document.get("scenario_file")
    return Path(name) if name else None


def ensure_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create output directory {out}: {error.strerror}") from None
    return out
