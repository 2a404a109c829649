"""`gateproof plan SCENARIO`: the smallest pool per function that meets the SLOs.

Prints, per function, p99 and timeout rate against ``max_capacity``, the
chosen ``max_capacity`` (and ``min_capacity`` when the SLO limits cold
starts), writes ``plan.json`` and ``plan.png`` to ``--out``; exit 1 when some
function meets its SLO at none of the sizes tried.
"""

from __future__ import annotations

import argparse
import json
import math

from gateproof.cli import EXIT_FAILED, EXIT_OK, UsageError
from gateproof.commands.sim import add_run_options, cluster_for, ensure_out, load


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="find the smallest pool per function that meets the scenario's SLOs",
        description=__doc__,
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    parser.add_argument(
        "--sizes",
        help="comma-separated max_capacity values to try (default: 10 around the offered load)",
    )
    add_run_options(parser)
    parser.set_defaults(func=run)


def parse_sizes(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--sizes {text!r}: give whole numbers separated by commas") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--sizes {text!r}: give at least one size, each 1 or more")
    return sizes


def run(args: argparse.Namespace) -> int:
    from sim.planner import plan_capacity
    from sim.plots import plot_plan

    sizes = parse_sizes(args.sizes)
    scenario = load(args)
    with cluster_for(args) as cluster:
        plans = plan_capacity(
            scenario,
            sizes=sizes,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            progress=not args.quiet,
            cluster=cluster,
        )
    data = {
        "scenario": scenario.name,
        "replications": args.replications or scenario.replications,
        "functions": {name: plan.as_dict() for name, plan in plans.items()},
    }
    from sim.results import finite

    out = ensure_out(args.out)
    (out / "plan.json").write_text(json.dumps(finite(data), indent=1))
    png = plot_plan(data, out)
    ok = True
    for name, plan in plans.items():
        entry = data["functions"][name]
        print(f"{name}: offered load {plan.offered_load:.2f} workers; SLO {entry['slo']}")
        print(f"  {'max_capacity':>12}  {'min':>4}  {'p99 ms':>9}  {'timeout %':>9}  meets SLO")
        for point in entry["points"]:
            print(
                f"  {point['max_capacity']:>12}  {point['min_capacity']:>4}  "
                f"{_ms(point['latency_p99']):>9}  {point['timeout_rate'] * 100:>9.3f}  "
                f"{'yes' if point['met'] else 'no'}"
            )
        for point in entry["min_points"]:
            print(
                f"  min_capacity {point['min_capacity']}: cold starts "
                f"{point['cold_start_rate'] * 100:.3f}%  {'yes' if point['met'] else 'no'}"
            )
        if plan.max_capacity is None:
            ok = False
            print(
                f"  => no size tried meets the SLO; try larger --sizes (largest tried: "
                f"{max(p['max_capacity'] for p in entry['points'])})"
            )
        else:
            warm = "" if plan.min_capacity is None else f", min_capacity {plan.min_capacity}"
            print(f"  => max_capacity {plan.max_capacity}{warm}")
    print(f"wrote {out / 'plan.json'} and {png.name}")
    return EXIT_OK if ok else EXIT_FAILED


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"
