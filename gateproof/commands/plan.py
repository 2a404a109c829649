"""`gateproof plan SCENARIO`: the smallest pool per function that meets the SLOs.

Prints, per function, p99 and timeout rate against ``max_capacity``, the
chosen ``max_capacity`` (and ``min_capacity`` when the SLO limits cold
starts), writes ``plan.json`` and ``plan.png`` to ``--out``; exit 1 when some
function meets its SLO at none of the sizes tried.

With ``--verify --target local|docker`` the recommendation is then load
tested at N and at N-1 (``--verify-seconds`` each; see docs/capacity.md),
``verify.json`` is written, and the exit status is 1 when N misses its SLO
for real. Verification needs a target whose pool gateproof sizes: ``--host``
is refused (exit 2).
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
    parser.add_argument(
        "--verify",
        action="store_true",
        help="load test the recommended max_capacity N and N-1 on --target (local or docker)",
    )
    parser.add_argument("--target", help="--verify: the gateway to start and size (local, docker)")
    parser.add_argument("--host", help="refused with --verify: gateproof cannot size its pool")
    parser.add_argument(
        "--verify-seconds",
        type=float,
        default=None,
        metavar="S",
        help="--verify: length of each load run, warm-up included (default: 60)",
    )
    parser.set_defaults(func=run)


def check_verify(args: argparse.Namespace) -> None:
    """Bad --verify input is refused before any simulation (exit 2)."""
    from loadtests.verify import VERIFY_TARGETS

    if not args.verify:
        if args.target or args.host or args.verify_seconds is not None:
            raise UsageError("--target, --host and --verify-seconds go with --verify")
        return
    if args.host:
        raise UsageError(
            "plan --verify needs a target whose pool gateproof sizes (--target local or "
            "docker); against --host the pool size is the deployment's, so N and N-1 cannot "
            "be tried: run `gateproof load SCENARIO --host URL` to check a size you deployed"
        )
    if args.target not in VERIFY_TARGETS:
        raise UsageError(f"plan --verify needs --target {' or '.join(VERIFY_TARGETS)}")
    if args.verify_seconds is not None and args.verify_seconds < 5:
        raise UsageError("--verify-seconds must be at least 5")


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
    check_verify(args)
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
    if not ok or not args.verify:
        return EXIT_OK if ok else EXIT_FAILED
    return verify(args, scenario, data, out)


def verify(args: argparse.Namespace, scenario: object, data: dict, out: object) -> int:
    """Load test N and N-1 per function; exit 1 when a recommendation misses for real."""
    from pathlib import Path

    from gateproof.cli import EnvironmentProblem
    from loadtests.runner import LoadEnvironmentError, LoadInputError
    from loadtests.verify import DEFAULT_VERIFY_SECONDS, verify_plan

    recommended = {name: f["max_capacity"] for name, f in data["functions"].items()}
    predicted = {
        name: {p["max_capacity"]: p for p in f["points"]} for name, f in data["functions"].items()
    }
    try:
        verifications = verify_plan(
            Path(args.scenario),
            scenario,  # type: ignore[arg-type]
            recommended,
            target=args.target,
            seconds=args.verify_seconds or DEFAULT_VERIFY_SECONDS,
            out=Path(str(out)) / "verify",
            overrides=args.overrides,
            predicted=predicted,
        )
    except LoadInputError as error:
        raise UsageError(str(error)) from None
    except LoadEnvironmentError as error:
        raise EnvironmentProblem(str(error)) from None
    document = {"scenario": data["scenario"], "target": args.target,
                "functions": [v.as_dict() for v in verifications]}  # fmt: skip
    path = Path(str(out)) / "verify.json"
    path.write_text(json.dumps(document, indent=1, default=str))
    for verification in verifications:
        print(verification.verdict)
    print(f"wrote {path}")
    return EXIT_OK if all(v.holds for v in verifications) else EXIT_FAILED


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"
