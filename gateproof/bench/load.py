"""`gateproof bench load`: requests per second of gateproof's Locust users beside plain Locust.

Against one runtime worker's ``echo`` on 127.0.0.1, one Locust process at a
time, the same number of users and seconds each, in alternating rounds (the
ratio is the median of the rounds', so a busy spell of the machine hits both):

* **gateproof**: :class:`loadtests.locustfile.ScenarioUser` with its shape,
  from a scenario asking far more than it can send (every arrival is due at
  once, so the figure is the users' own cost per call: pacing, picking the
  function, the body, the tally and the error contract checks);
* **plain**: a Locust ``FastHttpUser`` that posts the same body in a loop;
* **wrk**, when it is installed (``apt-get install wrk``): what the worker
  serves to a load generator written in C.

Target: gateproof's users reach at least 0.8x plain ``FastHttpUser``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem

TARGET_RATIO = 0.8
PATH = "/2015-03-31/functions/function/invocations"
SCENARIO = """\
name: bench-load
duration: {duration}
warmup: {warmup}
functions:
  function:
    service: {{kind: constant, value: 0}}
workload:
  function:
    arrivals: {{kind: poisson, rate: 1000000}}
    payload: {{message: hello}}
"""
_WARMUP_S = 2


def register(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser(
        "load",
        help="req/s of gateproof's Locust users vs plain FastHttpUser (and wrk) on echo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=32, help="users (connections) each (32)")
    parser.add_argument("--seconds", type=int, default=8, help="measured seconds each (8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import statistics

    from gateproof.bench.gateway import _worker

    print(
        f"gateproof bench load: one Locust process at a time, {args.users} users, "
        f"{args.seconds} s measured each, {args.rounds} alternating rounds, against one "
        f"runtime worker's echo on 127.0.0.1",
        flush=True,
    )
    plains, ours, ratios = [], [], []
    with (
        tempfile.TemporaryDirectory(prefix="gateproof-bench-load-") as folder,
        _worker() as (
            port,
            _pid,
        ),
    ):
        url = f"http://127.0.0.1:{port}"
        work = Path(folder)
        for round_ in range(1, args.rounds + 1):  # alternating: a busy spell hits both
            plains.append(_plain(url, args, work))
            ours.append(_gateproof(url, args, work))
            ratios.append(ours[-1] / plains[-1] if plains[-1] else 0.0)
            print(
                f"  round {round_}: plain FastHttpUser {plains[-1]:>8,.0f} req/s, "
                f"gateproof ScenarioUser {ours[-1]:>8,.0f} req/s, {ratios[-1]:.2f}x",
                flush=True,
            )
        wrk = _wrk(url, args, work)
    plain, mine, ratio = (statistics.median(v) for v in (plains, ours, ratios))
    met = ratio >= TARGET_RATIO
    print(f"  plain FastHttpUser       {plain:>9,.0f} req/s (median)")
    print(
        f"  gateproof ScenarioUser   {mine:>9,.0f} req/s   {ratio:.2f}x plain, median of the "
        f"rounds (target >= {TARGET_RATIO}x: {'met' if met else 'MISSED'})"
    )
    if wrk is None:
        print("  wrk                      not installed (apt-get install wrk)")
    else:
        print(
            f"  wrk                      {wrk:>9,.0f} req/s   gateproof {mine / wrk:.2f}x, "
            f"plain {plain / wrk:.2f}x"
        )
    return EXIT_OK if met else EXIT_FAILED


def _locust(argv: list[str], env: dict[str, str], csv_prefix: Path, limit: float) -> float:
    """Run one Locust process; its Aggregated requests per second."""
    from loadtests.results import read_locust_stats

    command = [sys.executable, "-m", "locust", "--headless", "--only-summary"]
    command += ["--loglevel", "WARNING", "--exit-code-on-error", "0", "--csv", str(csv_prefix)]
    done = subprocess.run(command + argv, env=env, capture_output=True, text=True, timeout=limit)
    rows = read_locust_stats(Path(f"{csv_prefix}_stats.csv"))
    if done.returncode != 0 or "Aggregated" not in rows:
        raise EnvironmentProblem(f"Locust failed (status {done.returncode}): {done.stderr[-800:]}")
    return rows["Aggregated"]["rps"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def _plain(url: str, args: argparse.Namespace, work: Path) -> float:
    from gateproof.bench import _plain_locust

    argv = ["-f", _plain_locust.__file__, "--host", url, "-u", str(args.users)]
    argv += ["-r", str(args.users), "-t", f"{args.seconds + _WARMUP_S}s", "--reset-stats"]
    return _locust(argv, _env(), work / "plain", args.seconds + 60)


def _gateproof(url: str, args: argparse.Namespace, work: Path) -> float:
    from loadtests.runner import LOCUSTFILE
    from loadtests.spec import ENV_VAR, RunSpec

    scenario = work / "bench-load.yaml"
    scenario.write_text(SCENARIO.format(duration=args.seconds + _WARMUP_S, warmup=_WARMUP_S))
    spec = RunSpec(str(scenario), max_users=args.users, tally_path=str(work / "tally.json"))
    env = {**_env(), ENV_VAR: spec.to_env()}
    argv = ["-f", str(LOCUSTFILE), "--host", url]
    return _locust(argv, env, work / "gateproof", args.seconds + 60)


def _wrk(url: str, args: argparse.Namespace, work: Path) -> float | None:
    if shutil.which("wrk") is None:
        return None
    script = work / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = \'{"message": "hello"}\'\n')
    argv = ["wrk", "-t1", f"-c{args.users}", f"-d{args.seconds}s", "-s", str(script), url + PATH]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 60)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    return float(match.group(1)) if match else None
