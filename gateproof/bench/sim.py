"""`gateproof bench sim`: the capacity model's speed and memory beside their targets.

Three figures in one run: simulated requests per wall second on M/M/5 at
utilisation 0.8 (200k requests) for this model and for Ciw on the same
workload, and their ratio (target >= 1.5x); the wall time of a capacity plan
over 10 pool sizes x 10 replications x 100k requests (target < 60 s on 2
cores); the peak RSS of a 10-million-request run, measured in a child process
(target < 300 MB). With ``--scheduler local:N`` (or a scheduler address) the
same plan also runs on that Dask cluster, timed beside the process pool in the
same run (target: at most 1.2x the process pool's wall time).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from typing import Any

from gateproof.cli import EXIT_FAILED, EXIT_OK, EnvironmentProblem

ARRIVAL_RATE = 4.0  # M/M/5 with mean service 1 s: utilisation 0.8
SERVERS = 5

# VmHWM is this process's own peak; ru_maxrss would carry over the parent's peak
# across fork and exec on Linux, so it is only the fallback elsewhere.
_RSS_CHILD = f"""
import re, resource, sys
from sim.mmc import mmc_scenario
from sim.model import run_replication
requests = int(sys.argv[1])
scenario = mmc_scenario(
    servers={SERVERS}, arrival_rate={ARRIVAL_RATE!r}, duration=requests / {ARRIVAL_RATE!r}
)
result = run_replication(scenario, 1)
try:
    status = open("/proc/self/status").read()
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
except OSError:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result["functions"]["f"]["arrivals"], peak_kb)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help=__doc__.splitlines()[0], description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000, help="model vs Ciw run")
    parser.add_argument("--plan-requests", type=int, default=100_000, help="per replication")
    parser.add_argument("--rss-requests", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, help="processes for the plan (default: cores)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="also run the plan on this Dask cluster: local:N or tcp://host:port",
    )
    parser.set_defaults(func=run)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def model_rate(requests: int) -> tuple[int, float]:
    """Requests completed and wall seconds of one model run of M/M/5 at 0.8."""
    from sim.mmc import mmc_scenario
    from sim.model import run_replication

    scenario = mmc_scenario(
        servers=SERVERS, arrival_rate=ARRIVAL_RATE, duration=requests / ARRIVAL_RATE
    )
    start = time.perf_counter()
    result = run_replication(scenario, 1)
    wall = time.perf_counter() - start
    return int(result["functions"]["f"]["served"]), wall


def ciw_rate(requests: int) -> tuple[int, float, str]:
    """Requests completed and wall seconds of Ciw on the same workload."""
    try:
        import ciw
    except ImportError:
        raise EnvironmentProblem(
            "Ciw is the baseline of this benchmark and is not installed; "
            "install the dev extras (pip install -e '.[dev]')"
        ) from None
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(ARRIVAL_RATE)],
        service_distributions=[ciw.dists.Exponential(1.0)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(1)
    start = time.perf_counter()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(requests / ARRIVAL_RATE)
    wall = time.perf_counter() - start
    return len(simulation.get_all_records()), wall, ciw.__version__


def plan_wall(requests: int, workers: int | None, cluster: Any = None) -> tuple[float, float]:
    """Wall seconds of the plan, and the CPU seconds its local worker processes used."""
    from scenarios.schema import SLO
    from sim.mmc import mmc_scenario
    from sim.planner import plan_capacity

    scenario = mmc_scenario(
        servers=SERVERS, arrival_rate=ARRIVAL_RATE, duration=requests / ARRIVAL_RATE
    ).model_copy(update={"slo": SLO(p99=3.0)})
    before = _children_cpu()
    start = time.perf_counter()
    plan_capacity(
        scenario, sizes=list(range(5, 15)), replications=10, workers=workers, cluster=cluster
    )
    return time.perf_counter() - start, _children_cpu() - before


def dask_plan_wall(requests: int, address: str) -> tuple[float, float, int]:
    """Seconds to bring the cluster up, wall seconds of the plan on it, and its workers."""
    from sim.cluster import Cluster, SchedulerUnreachable, VersionMismatch, connect

    start = time.perf_counter()
    try:
        with connect(address) as client:
            cluster = Cluster(client)
            workers = cluster.workers
            up = time.perf_counter() - start
            seconds, _ = plan_wall(requests, None, cluster)
    except (SchedulerUnreachable, VersionMismatch) as error:
        raise EnvironmentProblem(str(error)) from None
    return up, seconds, workers


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss(requests: int) -> tuple[int, float]:
    """Arrivals simulated and peak RSS (MB) of a child process running one replication."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(requests)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise EnvironmentProblem(f"the memory run failed:\n{done.stderr.strip()}")
    arrivals, kilobytes = done.stdout.split()
    return int(arrivals), int(kilobytes) / 1024


def run(args: argparse.Namespace) -> int:
    results = []
    print(f"M/M/{SERVERS} at utilisation 0.8, {args.requests:,} requests, one core each")
    served, wall = model_rate(args.requests)
    ciw_done, ciw_wall, version = ciw_rate(args.requests)
    ours, theirs = served / wall, ciw_done / ciw_wall
    ratio = ours / theirs
    results.append(ratio >= 1.5)
    print(f"  gateproof model  {ours:>10,.0f} req/s  ({served:,} in {wall:.2f} s)")
    print(f"  Ciw {version:<11} {theirs:>10,.0f} req/s  ({ciw_done:,} in {ciw_wall:.2f} s)")
    print(f"  ratio            {ratio:>10.2f}x      target >= 1.5x   {_verdict(ratio >= 1.5)}")

    cores = args.workers or os.cpu_count() or 1
    print(f"plan: 10 pool sizes x 10 replications x {args.plan_requests:,} requests, {cores} cores")
    load = os.getloadavg()[0]
    seconds, cpu = plan_wall(args.plan_requests, args.workers)
    results.append(seconds < 60)
    print(f"  wall time        {seconds:>10.1f} s      target < 60 s    {_verdict(seconds < 60)}")
    print(
        f"  CPU time         {cpu:>10.1f} s      (load average {load:.1f} at the start: "
        f"on {cores} idle cores the wall time is about {cpu / cores:.0f} s)"
    )
    if args.scheduler:
        up, on_dask, workers = dask_plan_wall(args.plan_requests, args.scheduler)
        ratio = on_dask / seconds
        results.append(ratio <= 1.2)
        print(f"  on Dask ({args.scheduler}, {workers} workers; cluster up in {up:.1f} s)")
        print(f"  wall time        {on_dask:>10.1f} s")
        print(f"  Dask / pool      {ratio:>10.2f}x      target <= 1.2x   {_verdict(ratio <= 1.2)}")

    print(f"peak RSS of a {args.rss_requests:,}-request run (child process)")
    arrivals, megabytes = peak_rss(args.rss_requests)
    results.append(megabytes < 300)
    print(
        f"  peak RSS         {megabytes:>10.0f} MB     target < 300 MB  {_verdict(megabytes < 300)}"
        f"  ({arrivals:,} requests)"
    )
    return EXIT_OK if all(results) else EXIT_FAILED
