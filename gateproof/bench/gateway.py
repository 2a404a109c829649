"""`gateproof bench gateway`: the reference gateway beside a direct worker and a naive proxy.

Six phases, one load generator, same machine, same run:

* **direct**: one runtime worker (``echo``), called on its invoke path;
* **gateway**: ``gateproof serve`` (process backend, ``echo`` pool kept warm),
  called on ``POST /2015-03-31/functions/echo/invocations``;
* **gateway with JWT auth**: the same with HS256 bearer tokens required, each
  connection sending one valid token (verified once, then cached until it
  expires), so ``auth / gateway`` in CPU per call is what authentication costs;
* **naive proxy**, **ASGI forwarder**, **raw forwarder**: the baselines of
  :mod:`gateproof.bench._baselines`. The ASGI forwarder forwards on the same
  server and transport as the gateway and does nothing else, so
  ``forwarder / direct`` is what forwarding alone reaches here, and
  ``gateway / forwarder`` what the gateway's own work costs: that ratio, and
  the p99 beside the forwarder's, are the targets the gateway is held to.

Each measured server runs on a CPU of its own, everything else on the other
(``--no-pin`` leaves placement to the scheduler; see :func:`_pin` for why).
With ``--breakdown`` the gateway is then measured again with each of its
features switched off in turn (:mod:`gateproof.bench._ablation`), and once
more with all on, so a table can say what each feature costs per call.

The load generator reads its own CPU and the server's over the measured
window, so the report can also say, in CPU per call, how much room the
machine leaves for the gateway's own work at the target rate.

The load generator runs in its own process: raw HTTP/1.1 over keep-alive
connections on uvloop, one request in flight per connection, so it costs the
servers as little CPU as possible. Everything listens on 127.0.0.1 and every
child process is stopped when the run ends, also after an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

INVOKE = "/2015-03-31/functions/{name}/invocations"
TARGET_VS_DIRECT = 0.5  # withdrawn: forwarding alone reaches about 0.3x (docs/benchmarks.md)
TARGET_VS_FORWARDER = 0.5  # the gateway's rate beside the bare ASGI forwarder's
TARGET_P99_VS_FORWARDER = 1.5  # the gateway's p99 at most this times the forwarder's
TARGET_VS_NAIVE = 3.0
TARGET_RSS_MB = 200.0
TARGET_AUTH_OVERHEAD = 0.10  # JWT auth adds at most 10% CPU per call
_BENCH_SECRET = "bench-only-hs256-secret-not-for-use-" + "0" * 16
FLOORS = {  # role in gateproof.bench._baselines: row label
    "asgi-forwarder": "bare ASGI forwarder (uvicorn)",
    "raw-forwarder": "raw asyncio forwarder",
}
_START_LIMIT_S = 30.0


def register(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser(
        "gateway",
        help="req/s, p50/p99 and CPU per call: direct worker vs gateway vs naive proxy "
        "vs forwarding alone",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument(
        "--workers",
        type=int,
        default=8,
        help="warm echo workers in the gateway's pool (8); each serves one call at a time",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the scheduler place every process (by default each measured server gets a "
        "CPU of its own, and the load generator, workers and this command share the others)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also measure the gateway with each feature switched off in turn: "
        "what each costs per call",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --breakdown: measure every row this many times and print the median (1)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is missed (for CI gates)"
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Figures:
    """What one phase measured."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    load_cpu_s: float = 0.0  # CPU the load generator used while measuring
    server_cpu_s: float = 0.0  # CPU the server process used in the same window
    peak_mb: float = 0.0  # the server process's peak resident memory

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_cpu(self) -> float:
        """The share of one CPU the server used: 1.0 is a saturated single-threaded server."""
        return self.server_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def server_us_per_call(self) -> float:
        """Server CPU per answered call, the unit the report's CPU budget is written in."""
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    @property
    def load_us_per_call(self) -> float:
        return self.load_cpu_s / self.requests * 1e6 if self.requests else 0.0


def run(args: argparse.Namespace) -> int:
    from gateproof.cli import EXIT_FAILED, EXIT_OK, UsageError

    if args.duration <= 0 or args.connections < 1 or args.workers < 1 or args.rounds < 1:
        raise UsageError("--duration, --connections, --workers and --rounds must be positive")
    invoke, echo = INVOKE.format(name="function"), INVOKE.format(name="echo")
    args.load_before = os.getloadavg()[0]  # the machine's, before this command adds its own
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    args.pin_cpus = cpus if args.pin and len(cpus) >= 2 else []  # the CPUs to share out, or none
    with _worker() as worker:  # each other server runs for its own phase only
        others = (worker[1],)  # idle but for the forwarders, which call it
        direct = _phase(worker, invoke, args)
        with _gateway(args.workers) as gateway:
            through = _phase(gateway, echo, args, others=others)
        with _gateway(args.workers, auth=True) as gateway:
            token = f"Authorization: Bearer {_bench_token()}"
            authed = _phase(gateway, echo, args, header=token, others=others)
        with _baseline("naive-proxy", worker[0]) as naive_proxy:
            naive = _phase(naive_proxy, "/proxy", args, others=others)
        floors = []
        for role, label in FLOORS.items():
            with _baseline(role, worker[0]) as forwarder:
                floors.append((label, _phase(forwarder, "/", args, others=others)))
        switched = _switched_off(args, echo, others) if args.breakdown else {}
    ok = _report(args, direct, through, naive, floors, authed)
    if switched:
        _print_breakdown(switched, dict(floors).get(FLOORS["asgi-forwarder"]))
    return EXIT_FAILED if args.check and not ok else EXIT_OK


def _switched_off(
    args: argparse.Namespace, path: str, others: tuple[int, ...]
) -> dict[str, list[Figures]]:
    """Per round: the whole gateway, then the gateway with each feature off in turn."""
    from gateproof.bench._ablation import SWITCHES

    runs: dict[str, list[Figures]] = {_WHOLE: []}
    for round_ in range(1, args.rounds + 1):
        with _gateway(args.workers) as gateway:
            runs[_WHOLE].append(_phase(gateway, path, args, others=others))
        for index, (feature, (label, _)) in enumerate(SWITCHES.items(), 1):
            print(f"breakdown round {round_}/{args.rounds}, {index}/{len(SWITCHES)}: "
                  f"without {label}", file=sys.stderr, flush=True)  # fmt: skip
            with _gateway(args.workers, without=feature) as gateway:
                runs.setdefault(label, []).append(_phase(gateway, path, args, others=others))
    return runs


_WHOLE = "nothing (every feature on)"


def _median(runs: list[Figures]) -> Figures:
    """The run with the median CPU per call (a real run, so its rate and p99 go with it)."""
    return sorted(runs, key=lambda figures: figures.server_us_per_call)[(len(runs) - 1) // 2]


def _print_breakdown(runs: dict[str, list[Figures]], forwarder: Figures | None) -> None:
    """What each feature costs: the whole gateway's CPU per call minus the CPU without it."""
    whole_runs = [figures.server_us_per_call for figures in runs[_WHOLE]]
    whole = _median(runs[_WHOLE]).server_us_per_call
    rounds = len(whole_runs)
    print()
    print(
        f"breakdown: the gateway with one feature switched off at a time, same run"
        f"{f', median of {rounds} rounds' if rounds > 1 else ''}"
    )
    print(f"{'switched off':<38}{'req/s':>8}{'p99 ms':>9}{'us/call':>9}{'saves us':>10}")
    saved = 0.0
    for label, figures in ((label, _median(each)) for label, each in runs.items()):
        saves = whole - figures.server_us_per_call
        column = "" if label == _WHOLE else f"{saves:>+10.0f}"
        saved += 0.0 if label == _WHOLE else saves
        print(f"{label:<38}{figures.rate:>8.0f}{figures.p99_ms:>9.2f}"
              f"{figures.server_us_per_call:>9.0f}{column}")  # fmt: skip
    if rounds > 1:
        print(f"the whole gateway ranged over {max(whole_runs) - min(whole_runs):.0f} us/call "
              f"between rounds: a saving within that is noise")  # fmt: skip
    if forwarder is not None:
        own = whole - forwarder.server_us_per_call
        print(f"one at a time the switches save {saved:.0f} us/call in all, of the {own:.0f} us "
              f"the gateway spends beyond forwarding alone (the bare ASGI forwarder's "
              f"{forwarder.server_us_per_call:.0f} us)")  # fmt: skip


def _bench_token() -> str:
    import jwt

    claims = {"sub": "bench", "tier": "default", "exp": int(time.time()) + 3600}
    return jwt.encode(claims, _BENCH_SECRET, algorithm="HS256")


def _phase(
    server: tuple[int, int],
    path: str,
    args: argparse.Namespace,
    header: str = "",
    others: tuple[int, ...] = (),
) -> Figures:
    """Drive the server at ``server`` (port, pid); its CPU and peak memory join the figures.

    With ``args.pin_cpus`` the server runs on a CPU of its own, and ``others`` (the
    processes it calls), its child processes, the load generator and the
    benchmark itself on the rest.
    """
    port, pid = server
    if args.pin_cpus:
        _pin(pid, others, args.pin_cpus)
    with _RssSampler(pid) as sampler:
        figures = _load(port, path, args, pid, header)
    return replace(figures, peak_mb=sampler.peak_mb)


def _report(
    args: argparse.Namespace,
    direct: Figures,
    through: Figures,
    naive: Figures,
    floors: list[tuple[str, Figures]] | None = None,
    authed: Figures | None = None,
) -> bool:
    """Print the table, the targets and the ceilings; True when every target is met."""
    floors = floors or []
    _print_header(args)
    print(
        f"{'target':<32}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'server CPU':>12}{'us/call':>9}"
    )
    rows = [
        ("direct to worker", direct),
        (f"gateway ({args.workers} warm workers)", through),
        *([("gateway with JWT auth", authed)] if authed is not None else []),
        ("naive FastAPI+httpx proxy", naive),
        *floors,
    ]
    for name, figures in rows:
        print(
            f"{name:<32}{figures.rate:>10.0f}{figures.p50_ms:>9.2f}{figures.p99_ms:>9.2f}"
            f"{figures.errors:>8}{figures.server_cpu:>11.0%} {figures.server_us_per_call:>8.0f}"
        )
    vs_direct = _ratio(through, direct)
    vs_naive = _ratio(through, naive) if naive.rate else float("inf")
    errors = sum(figures.errors for _, figures in rows)
    _check("gateway / direct", f"{vs_direct:.2f}x", f">= {TARGET_VS_DIRECT}x", None)
    checks = [
        _check("gateway / naive proxy", f"{vs_naive:.2f}x", f">= {TARGET_VS_NAIVE:g}x",
               vs_naive >= TARGET_VS_NAIVE),
        _check("gateway RSS under load", f"{through.peak_mb:.0f} MB", f"< {TARGET_RSS_MB:g} MB",
               through.peak_mb < TARGET_RSS_MB),
        _check("errors", str(errors), "0", errors == 0),
    ]  # fmt: skip
    forwarder = dict(floors).get(FLOORS["asgi-forwarder"])
    if forwarder is not None:
        vs_forwarder = _ratio(through, forwarder)
        p99 = through.p99_ms / forwarder.p99_ms if forwarder.p99_ms else float("inf")
        checks += [
            _check("gateway / ASGI forwarder", f"{vs_forwarder:.2f}x",
                   f">= {TARGET_VS_FORWARDER}x", vs_forwarder >= TARGET_VS_FORWARDER),
            _check("gateway p99 / forwarder p99", f"{p99:.2f}x",
                   f"<= {TARGET_P99_VS_FORWARDER}x", p99 <= TARGET_P99_VS_FORWARDER),
        ]  # fmt: skip
    if authed is not None and through.server_us_per_call:
        overhead = authed.server_us_per_call / through.server_us_per_call - 1
        checks.append(
            _check("JWT auth CPU per call", f"{overhead:+.0%}",
                   f"<= +{TARGET_AUTH_OVERHEAD:.0%}", overhead <= TARGET_AUTH_OVERHEAD)
        )  # fmt: skip
    _print_ceilings(args, through, direct, floors)
    return all(checks)


def _check(name: str, value: str, target: str, met: bool | None) -> bool:
    """One target line; ``met=None`` is a withdrawn target, shown for comparison only."""
    verdict = "withdrawn" if met is None else "met" if met else "MISSED"
    print(f"{name:<32}{value:>10}   target {target:<10} {verdict}")
    return bool(met)


def _print_header(args: argparse.Namespace) -> None:
    load = getattr(args, "load_before", None) or os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    pinned = ", each server on a CPU of its own" if getattr(args, "pin_cpus", None) else ""
    print(
        f"gateproof bench gateway: echo, {args.connections} connections, "
        f"{args.duration:g} s per phase after {args.warmup:g} s warm-up, 127.0.0.1, "
        f"{cpus} CPUs{pinned}, load average {load:.1f} before the run"
    )
    if load > cpus:
        print(
            f"warning: the load average ({load:.1f}) is above the CPU count ({cpus}): other "
            f"processes compete for the CPUs and the figures below are not representative"
        )


def _print_ceilings(
    args: argparse.Namespace, through: Figures, direct: Figures, floors: list[tuple[str, Figures]]
) -> None:
    """How far forwarding alone gets, and the CPU left for the gateway's own work at the target."""
    for name, figures in floors:
        print(
            f"{name}: {_ratio(figures, direct):.2f}x the direct worker; "
            f"the gateway reaches {_ratio(through, figures):.2f}x of it"
        )
    ceiling = dict(floors).get(FLOORS["asgi-forwarder"])
    if ceiling is None or not direct.rate:
        return
    cpus = len(getattr(args, "pin_cpus", None) or []) or _cpus()  # pinned: this process has one
    budget = cpus / (TARGET_VS_DIRECT * direct.rate) * 1e6
    # The direct phase's costs are the lowest per call (the busier a loop, the more it does
    # per wake-up), so the room left for a gateway is estimated generously.
    load, worker = direct.load_us_per_call, direct.server_us_per_call
    left = budget - load - worker
    forwarding = ceiling.server_us_per_call
    room, own = left - forwarding, through.server_us_per_call - forwarding
    print(
        f"CPU per call at {TARGET_VS_DIRECT}x the direct rate: {budget:.0f} us on {cpus} CPUs; "
        f"the load generator ({load:.0f} us) and a worker ({worker:.0f} us) leave {left:.0f} us "
        f"for a gateway; forwarding alone takes {forwarding:.0f} us of it, leaving {room:.0f} us "
        f"for the gateway's own work (pool, breaker, timeout, request id, header checks, "
        f"metrics, access log), which takes {own:.0f} us"
    )
    if room <= 0:
        print(
            "note: by this run's figures forwarding alone already takes more CPU per call than "
            f"this machine leaves a gateway at {TARGET_VS_DIRECT}x the direct rate: there is no "
            "room for the gateway's own work, in one process or several"
        )
    elif own > room:
        print(
            f"note: to reach {TARGET_VS_DIRECT}x the direct worker on this machine the gateway's "
            f"own work would have to fit in {room:.0f} us of CPU per call, in one process or "
            f"several; by this run's figures it takes {own / room:.1f} times that"
        )


def _pin(server: int, others: tuple[int, ...], cpus: list[int]) -> None:
    """``server`` on the first of ``cpus``, everything else on the rest.

    Why: unpinned, the gateway shares both CPUs with its eight workers and the
    load generator, and where the scheduler puts them decides its CPU per
    call: 195 to 309 us in three runs on a quiet machine. Pinned, four runs
    gave 190 to 205 us, and the forwarders' figures stayed where they were
    unpinned, so pinning steadies the comparison without favouring either side.
    Processes started later (the load generator) inherit the benchmark's own
    set, the rest.
    """
    import psutil

    first, rest = cpus[:1], cpus[1:]
    process = psutil.Process(server)
    process.cpu_affinity(first)
    helpers = [*process.children(recursive=True), *map(psutil.Process, set(others) - {server})]
    for helper in helpers:
        with contextlib.suppress(psutil.NoSuchProcess):
            helper.cpu_affinity(rest)
    os.sched_setaffinity(0, rest)


def _cpus() -> int:
    """The CPUs this process may run on (an affinity mask or a container can narrow them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _ratio(candidate: Figures, baseline: Figures) -> float:
    return candidate.rate / baseline.rate if baseline.rate else 0.0


# -- the processes -------------------------------------------------------------


def _child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: no gateway settings and no proxy (traffic stays local)."""
    from loadtests.child_output import local_child_env

    return local_child_env(**extra)


@contextlib.contextmanager
def _process(
    argv: list[str], env: dict[str, str], ready: re.Pattern[str], stream: str
) -> Iterator[tuple[int, int]]:
    """Start ``argv``, wait for a line matching ``ready`` (group 1: the port), stop it after."""
    process = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out = process.stdout if stream == "stdout" else process.stderr
        assert out is not None
        port = _wait_for_port(process, out, ready)
        yield port, process.pid
    finally:
        _stop(process)


def _wait_for_port(process: subprocess.Popen[str], out: IO[str], ready: re.Pattern[str]) -> int:
    from gateproof.cli import EnvironmentProblem
    from loadtests.child_output import drain_lines, wait_for_port

    port, seen = wait_for_port(drain_lines(out, keep=200), ready, _START_LIMIT_S)
    if port is not None:
        return port
    tail = "\n  ".join(seen[-5:]) or "(no output)"
    raise EnvironmentProblem(
        f"{' '.join(process.args[:4])} did not start within {_START_LIMIT_S:g} s "
        f"(exit status {process.poll()}):\n  {tail}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 2)  # SIGINT: the gateway stops its workers itself
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(5)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _worker() -> contextlib.AbstractContextManager[tuple[int, int]]:
    argv = [sys.executable, "-m", "reference.runtime", "--port", "0", "--exit-with-stdin"]
    ready = re.compile(r'"port": (\d+)')
    return _process(argv, _child_env(GATEPROOF_FUNCTION="echo"), ready, "stdout")


@contextlib.contextmanager
def _gateway(
    workers: int, *, auth: bool = False, without: str | None = None
) -> Iterator[tuple[int, int]]:
    """``gateproof serve``; with ``auth``, bearer JWTs (HS256) are required on every call.

    ``without`` names a feature of :data:`gateproof.bench._ablation.SWITCHES` to switch off.
    """
    functions = (
        "functions:\n  echo:\n    environment: {GATEPROOF_FUNCTION: echo}\n"
        f"    scaling: {{min_capacity: {workers}, max_capacity: {workers}, acquire_timeout: 30}}\n"
    )
    with tempfile.TemporaryDirectory(prefix="gateproof-bench-") as folder:
        (Path(folder) / "functions.yml").write_text(functions)
        (Path(folder) / "routing.yml").write_text("routes: []\n")
        command = (
            ["gateproof"] if without is None else ["gateproof.bench.gateway", f"without:{without}"]
        )
        argv = [
            sys.executable, "-m", *command,
            "serve", "--port", "0",
            "--functions", f"{folder}/functions.yml", "--routing", f"{folder}/routing.yml",
        ]  # fmt: skip
        ready = re.compile(r"gateway on http://127\.0\.0\.1:(\d+)")
        env = _child_env(GATEPROOF_WORKER_READY_TIMEOUT="60")  # cold starts on a busy machine
        if auth:
            env["GATEPROOF_AUTH_JWT_SECRET"] = _BENCH_SECRET
        with _process(argv, env, ready, "stderr") as (port, pid):
            _wait_healthy(port)
            yield port, pid


def _baseline(role: str, upstream: int) -> contextlib.AbstractContextManager[tuple[int, int]]:
    """Start one of :mod:`gateproof.bench._baselines` in front of the worker on ``upstream``."""
    argv = [sys.executable, "-m", "gateproof.bench.gateway", role, str(upstream)]
    return _process(argv, _child_env(), re.compile(r" on port (\d+)"), "stderr")


def _wait_healthy(port: int) -> None:
    """Wait until the gateway's pool is warm (``/health`` answers 200), or say it never was."""
    import httpx

    from gateproof.cli import EnvironmentProblem
    from reference.orchestrator.local import wait_until

    with httpx.Client(trust_env=False, timeout=2) as client:  # no proxy: 127.0.0.1 only

        def healthy() -> bool | None:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return True
            return None

        if wait_until(healthy, _START_LIMIT_S, step=0.1):
            return
    raise EnvironmentProblem(
        f"the gateway on port {port} did not report healthy within {_START_LIMIT_S:g} s; "
        f"run `gateproof serve` to see why its workers do not start"
    )


def _load(
    port: int, path: str, args: argparse.Namespace, server_pid: int, header: str = ""
) -> Figures:
    """Run the load generator in its own process and read its one JSON line."""
    from gateproof.cli import EnvironmentProblem

    argv = [
        sys.executable, "-m", "gateproof.bench.gateway", "load", str(port), path,
        str(args.connections), str(args.warmup), str(args.duration), str(server_pid), header,
    ]  # fmt: skip
    limit = args.warmup + args.duration + 30
    done = subprocess.run(argv, env=_child_env(), capture_output=True, text=True, timeout=limit)
    if done.returncode != 0:
        raise EnvironmentProblem(f"the load generator failed: {done.stderr.strip()[-500:]}")
    return Figures(**json.loads(done.stdout.strip().splitlines()[-1]))


class _RssSampler:
    """Peak resident memory of one process, sampled in a thread while load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _sample(self) -> None:
        import psutil

        process = psutil.Process(self.pid)
        for _ in range(100_000):  # bounded; stops with the phase
            with contextlib.suppress(psutil.Error):
                self.peak_mb = max(self.peak_mb, process.memory_info().rss / 2**20)
            if self._stop.wait(0.2):
                return


# -- child roles: the load generator and the naive proxy ----------------------


def _child_main(argv: list[str]) -> None:
    role = argv[0]
    if role == "load":
        import uvloop

        from gateproof.bench._load import _generate  # asyncio and psutil: only in this child

        port, path, connections, warmup, duration, server_pid = argv[1:7]
        header = argv[7] if len(argv) > 7 else ""
        figures = uvloop.run(
            _generate(
                int(port),
                path,
                int(connections),
                float(warmup),
                float(duration),
                int(server_pid),
                header,
            )
        )
        print(json.dumps(figures))
    elif role.startswith("without:"):
        from gateproof.bench._ablation import serve_without

        sys.exit(serve_without(role.removeprefix("without:"), argv[2:]))
    else:
        from gateproof.bench._baselines import ROLES  # the servers' imports: only in their child

        if role not in ROLES:
            raise SystemExit(f"unknown role {role!r}")
        ROLES[role](int(argv[1]))


if __name__ == "__main__":
    _child_main(sys.argv[1:])
