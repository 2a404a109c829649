"""`gateproof load SCENARIO`: a scenario as load against staging or a started gateway.

Runs Locust headless in a child process with users and a shape built from the
scenario, writes Locust's CSV and HTML, ``load.json`` and (unless
``--no-predict``) the simulator's prediction beside the measurement, and
gates on the scenario's SLOs: exit 1 with one line per broken SLO, 0 when all
hold. Nothing is sent before the scenario and the host are known to be valid.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError
from gateproof.commands.sim import add_set_option
from loadtests.early_stop import FAILURE_SHARE, WINDOW_S

DEFAULT_OUT = Path("reports/out/load")

DESCRIPTION = """\
Against staging:        gateproof load SCENARIO --host https://staging.example.com
                            [--header 'Name: value' ...] [--token-env VAR]
                            [--credentials FILE]  (one credential per simulated user)
                            [--ca-cert FILE | --insecure]  (an internal CA, or none)
Against a local gateway: gateproof load SCENARIO --target local|legacy|docker
                            [--chaos kill-workers:EVERY_S]
Distributed:            gateproof load SCENARIO --host URL --master --expect-workers N
                        gateproof load SCENARIO --worker --master-host H   (on each machine)

SCENARIO is a YAML file such as scenarios/steady.yaml; --set overrides a field
by its dotted path, as for `gateproof sim` (--set duration=20). The run stops by
itself after the scenario's duration, with at most its peak rate x 2 s users.
Ctrl-C stops the load at once and still writes load.json, marked incomplete.
Before any load a --host gets one preflight request (DNS, TCP, TLS, HTTP); a
run where nearly every call fails for --early-stop-window seconds stops early
(--no-early-stop runs on, for chaos runs); see docs/staging.md.
Exit: 0 every SLO held, 1 an SLO broke (or a chaos guarantee, or the run stopped
early), 2 bad input (or the host refused the credential), 3 the host, the target
or Locust could not run."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load test staging (or a started gateway) with a scenario; SLO gate",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--host", help="base URL of the gateway under load (staging)")
    where.add_argument(
        "--target",
        choices=["local", "legacy", "docker"],
        help="start this gateway on 127.0.0.1 for the run, and stop it after",
    )
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}/")
    parser.add_argument(
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra header on every request (repeatable)",
    )
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="send 'Authorization: Bearer $VAR'; the token is never printed or written",
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        metavar="FILE",
        help="one credential per simulated user, taken in turn: a bearer token or "
        "'Name: value' per line (never printed or written)",
    )
    parser.add_argument(
        "--max-users",
        type=int,
        help="cap the users below what the rate needs (the run says if the rate then falls short)",
    )
    parser.add_argument("--chaos", metavar="kill-workers:EVERY_S", help="kill a random worker")
    parser.add_argument("--processes", type=int, help="Locust worker processes on this machine")
    parser.add_argument("--master", action="store_true", help="be the master of remote workers")
    parser.add_argument("--expect-workers", type=int, default=1, help="master: workers to wait for")
    parser.add_argument(
        "--master-bind-host", default="*", help="master: address to listen on (default: all)"
    )
    parser.add_argument("--worker", action="store_true", help="be a worker of --master-host")
    parser.add_argument("--master-host", help="worker: the master's address")
    parser.add_argument("--master-port", type=int, default=5557, help="default: 5557")
    parser.add_argument("--no-predict", action="store_true", help="skip the simulator's prediction")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca-cert",
        type=Path,
        metavar="FILE",
        help="https: verify the host against this CA bundle (PEM), in every Locust process",
    )
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="https: do not verify the certificate (warned about in the output and load.json)",
    )
    parser.add_argument(
        "--no-early-stop",
        action="store_true",
        help="run to the end even when nearly every call fails (chaos runs)",
    )
    parser.add_argument(
        "--early-stop-window",
        type=float,
        default=WINDOW_S,
        metavar="SECONDS",
        help=f"stop when {FAILURE_SHARE:.0%} of the calls failed for this long "
        f"(default: {WINDOW_S:g})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from loadtests.runner import (
        LoadEnvironmentError,
        LoadInputError,
        LoadOptions,
        run_load,
        run_worker,
    )

    try:
        if args.worker:
            if not args.master_host:
                raise UsageError("--worker needs --master-host (the machine running --master)")
            status = run_worker(
                args.scenario,
                args.overrides,
                args.master_host,
                args.master_port,
                args.out,
                args.max_users,
                ca_cert=args.ca_cert,
                insecure=args.insecure,
            )
            return EXIT_OK if status == 0 else EXIT_FAILED
        options = LoadOptions(
            scenario=args.scenario,
            out=args.out,
            overrides=args.overrides,
            host=args.host,
            target=args.target,
            headers=args.headers,
            token_env=args.token_env,
            credentials=args.credentials,
            processes=args.processes,
            master=args.master,
            expect_workers=args.expect_workers,
            master_bind_host=args.master_bind_host,
            master_port=args.master_port,
            chaos=args.chaos,
            predict=not args.no_predict,
            max_users=args.max_users,
            ca_cert=args.ca_cert,
            insecure=args.insecure,
            early_stop=not args.no_early_stop,
            early_stop_window=args.early_stop_window,
        )
        result = run_load(options, echo=lambda line: print(line, flush=True))
    except LoadInputError as error:
        raise UsageError(str(error)) from None
    except LoadEnvironmentError as error:
        raise EnvironmentProblem(str(error)) from None
    print(format_summary(result))
    if result.predicted is not None:
        from loadtests.compare import format_comparison

        print()
        print(format_comparison(result.predicted))
    print(f"\nwrote {', '.join(str(args.out / f) for f in result.files.values())}")
    failed = False
    for line in result.broken_slos():
        print(line, file=sys.stderr)
        failed = True
    if result.chaos is not None or (result.after or {}).get("leftovers"):
        from loadtests.checks import chaos_breaches

        for line in chaos_breaches(result):
            print(line, file=sys.stderr)
            failed = True
    if result.stopped_early is not None:
        print(f"gateproof load: {result.stopped_early}; load.json says so", file=sys.stderr)
        return EXIT_FAILED
    if not result.complete:
        print(
            "gateproof load: the run did not complete; load.json is marked incomplete",
            file=sys.stderr,
        )
        return 130
    if not failed:
        print("PASSED: every SLO held" + (" and every chaos guarantee" if result.chaos else ""))
    return EXIT_FAILED if failed else EXIT_OK


def format_summary(result: object) -> str:
    """The per-function table printed at the end of a run."""
    from loadtests.results import LoadResult

    assert isinstance(result, LoadResult)
    header = (
        f"{'function':<14}{'requests':>9}{'target/s':>10}{'achieved/s':>11}{'mean ms':>9}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}{'timeouts':>9}"
    )
    lines = [header, "-" * len(header)]
    for name, m in [*result.functions.items(), ("(overall)", result.overall)]:
        lines.append(
            f"{name:<14}{m.requests:>9}{m.target_rate:>10.1f}{m.achieved_rate:>11.1f}"
            f"{_ms(m.mean):>9}{_ms(m.p50):>8}{_ms(m.p95):>8}{_ms(m.p99):>8}"
            f"{m.error_rate:>8.2%}{m.timeout_rate:>9.2%}"
        )
    codes = ", ".join(f"{code} {n}" for code, n in result.overall.codes.items())
    lines.append(f"errors by code: {codes or 'none'}")
    bad = result.overall.bad_gateway()
    lines.append(
        f"502 answers: {bad['total']} ({bad['reached_worker']} from calls that reached a worker, "
        f"{bad['never_reached_worker']} from calls that never reached one, even when retried)"
    )
    lines.append(
        f"arrivals late by more than 10 ms: {result.lag['late_share']:.1%} "
        f"(mean lag {result.lag['mean'] * 1000:.1f} ms, max {result.lag['max'] * 1000:.0f} ms)"
    )
    lines += result.notes
    return "\n".join(lines)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.1f}"
