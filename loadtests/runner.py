"""Run a scenario as load: check the input, start the target, run Locust headless, report.

:func:`run_load` is the one entry point; ``gateproof load`` and the phase
reports call it. Locust always runs as a child process (its gevent patches
never touch the caller) in its own process group, so a Ctrl-C, a failure or
the run's own time limit stops it and everything it started; the report is
still written, marked incomplete. Nothing is sent before the scenario, the
host and the options are known to be valid; then a ``--host`` gets one
preflight request (:mod:`loadtests.preflight`) before any load, and a run in
which nearly every call fails stops early (:mod:`loadtests.early_stop`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.chaos import ChaosError, ChaosSpec
from loadtests.credentials import CredentialsError, read_credentials
from loadtests.early_stop import WINDOW_S, FailureWatch
from loadtests.plan import LoadPlan, PlanError
from loadtests.preflight import PreflightError, PreflightRequest, preflight
from loadtests.results import LoadResult, measure
from loadtests.spec import ENV_VAR, RunSpec
from loadtests.targets import TARGETS, Gateway, TargetError, die_with_parent, start_target
from loadtests.tls import INSECURE_WARNING, TlsError, client_context
from scenarios import ScenarioError, load_scenario
from sim.results import finite

__all__ = [
    "LoadEnvironmentError",
    "LoadInputError",
    "LoadOptions",
    "check_host",
    "run_load",
    "run_worker",
]

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
_GRACE_S = 120.0  # beyond the scenario's duration, before the run is stopped from outside
_STOP_S = 15.0  # a stopped Locust writes its reports within this


class LoadInputError(ValueError):
    """Bad input (scenario, host, option): nothing was sent (exit status 2)."""


class LoadEnvironmentError(RuntimeError):
    """The target or Locust could not run (exit status 3)."""


@dataclass
class LoadOptions:
    scenario: Path
    out: Path
    overrides: list[str] = field(default_factory=list)
    host: str | None = None
    target: str | None = None  # local, legacy, docker
    headers: list[str] = field(default_factory=list)  # "Name: value"
    token_env: str | None = None
    credentials: Path | None = None  # one credential per simulated user, taken in turn
    processes: int | None = None
    master: bool = False
    expect_workers: int = 1
    master_bind_host: str = "*"
    master_port: int = 5557
    chaos: str | None = None
    predict: bool = True
    seed: int | None = None
    max_users: int | None = None
    ca_cert: Path | None = None  # https: the CA bundle to verify the host against
    insecure: bool = False  # https: no verification (warned about in the output and load.json)
    early_stop: bool = True
    early_stop_window: float = WINDOW_S


def check_host(url: str) -> str:
    """An absolute http(s) URL with a valid port; the message says what is wrong.

    Whether the host is there (DNS, TCP, TLS, HTTP) is the preflight's question.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise LoadInputError(
            f"--host {url!r}: give an absolute http:// or https:// URL, "
            f"e.g. https://staging.example.com"
        )
    try:
        port = parsed.port
    except ValueError:
        raise LoadInputError(f"--host {url!r}: the port is not a number from 1 to 65535") from None
    if port == 0:
        raise LoadInputError(f"--host {url!r}: the port is not a number from 1 to 65535")
    return url.rstrip("/")


def _headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise LoadInputError(f"--header {value!r}: write it as 'Name: value'")
        headers[name.strip()] = text.strip()
    return headers


def _check(options: LoadOptions) -> tuple[LoadPlan, RunSpec, ChaosSpec | None]:
    """Everything a run needs, validated before anything is started or sent."""
    try:
        scenario = load_scenario(options.scenario, options.overrides)
    except ScenarioError as error:
        raise LoadInputError(str(error)) from None
    if (options.host is None) == (options.target is None):
        raise LoadInputError("give either --host URL (staging) or --target local|legacy|docker")
    if options.target is not None and options.target not in TARGETS:
        raise LoadInputError(f"--target {options.target!r}: choose one of {', '.join(TARGETS)}")
    if options.host is not None:
        options.host = check_host(options.host)
    if options.max_users is not None and options.max_users < 1:
        raise LoadInputError("--max-users must be at least 1")
    if options.processes is not None and options.processes < 1:
        raise LoadInputError("--processes must be at least 1")
    if options.master and options.expect_workers < 1:
        raise LoadInputError("--expect-workers must be at least 1")
    chaos = None
    if options.chaos is not None:
        if options.target not in ("local", "docker"):
            raise LoadInputError(
                "--chaos kills the gateway's workers: use --target local or docker"
            )
        try:
            chaos = ChaosSpec.parse(options.chaos)
        except ChaosError as error:
            raise LoadInputError(str(error)) from None
    if options.token_env is not None and not os.environ.get(options.token_env):
        raise LoadInputError(
            f"--token-env {options.token_env}: that environment variable is empty or unset; "
            f"export the bearer token in it"
        )
    if options.credentials is not None:
        try:
            read_credentials(options.credentials)
        except CredentialsError as error:
            raise LoadInputError(str(error)) from None
    if options.ca_cert is not None or options.insecure:
        if options.host is None or not options.host.startswith("https://"):
            raise LoadInputError("--ca-cert and --insecure are for an https:// --host")
        try:
            client_context(options.ca_cert, insecure=options.insecure)
        except TlsError as error:
            raise LoadInputError(str(error)) from None
    if options.early_stop_window <= 0:
        raise LoadInputError("--early-stop-window must be a number of seconds above 0")
    spec = RunSpec(
        scenario=str(options.scenario),
        overrides=list(options.overrides),
        inject=options.target is not None,
        headers=_headers(options.headers),
        token_env=options.token_env,
        credentials=None if options.credentials is None else str(options.credentials.resolve()),
        tally_path=str(options.out / "tally.json"),
        seed=scenario.seed if options.seed is None else options.seed,
        max_users=options.max_users,
        ca_cert=None if options.ca_cert is None else str(options.ca_cert.resolve()),
        insecure=options.insecure,
    )
    try:
        plan = LoadPlan(scenario, inject=spec.inject, user_cap=spec.max_users)
    except PlanError as error:
        raise LoadInputError(f"{options.scenario}: {error}") from None
    return plan, spec, chaos


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LoadInputError(f"cannot create output directory {out}: {error.strerror}") from None
    stale_files = ("tally.json", "load.json", "locust_stats.csv", "locust_stats_history.csv")
    logs = ("locust.log", "locust-worker.log", "gateway.log", "access.jsonl", "orchestrator.log")
    for stale in (*stale_files, *logs, "compare.md", "compare.png"):
        (out / stale).unlink(missing_ok=True)


def run_load(options: LoadOptions, *, echo: Callable[[str], None] = print) -> LoadResult:
    """Run the scenario against ``--host`` or a started ``--target``; write and return the report.

    Raises :class:`LoadInputError` before anything is sent when the input is
    bad, :class:`LoadEnvironmentError` when the target or Locust cannot run.
    A Ctrl-C stops the load at once and returns the report marked incomplete.
    """
    plan, spec, chaos = _check(options)
    _prepare_out(options.out)
    scenario = plan.scenario
    where = options.host or f"the {options.target} gateway (started on 127.0.0.1)"
    echo(
        f"gateproof load: {scenario.name} against {where} for {scenario.duration:g} s "
        f"(warm-up {scenario.warmup:g} s), at most {plan.max_users} users"
    )
    if options.insecure:
        echo(INSECURE_WARNING)
    if options.host is not None:
        _preflight(options, spec, plan, echo)
    interrupted, stopped = False, None
    after: dict[str, Any] | None = None
    kills: dict[str, Any] | None = None
    try:
        with _target(options, scenario) as gateway:
            url = options.host or gateway.url  # type: ignore[union-attr]
            if gateway is not None:
                echo(f"gateproof load: host {url} ({gateway.kind} gateway)")
            else:
                echo(f"gateproof load: host {url}")
            with _chaos(chaos, gateway, scenario.duration, spec.seed) as record:
                interrupted, stopped = _run_locust(options, spec, url, plan, echo)
            if chaos is not None and record is not None:
                kills = record.as_dict(chaos.every_s)
            if gateway is not None:
                after = {"status": _settled(gateway)}
        if gateway is not None and after is not None:
            after["leftovers"] = list(gateway.leftovers)
    except TargetError as error:
        raise LoadEnvironmentError(str(error)) from None
    tally = _read_json(options.out / "tally.json")
    result = measure(
        plan,
        options.out / "locust_stats.csv",
        tally or {},
        host=url,
        target=options.target,
        complete=not interrupted and stopped is None and tally is not None,
    )
    result.chaos, result.after, result.stopped_early = kills, after, stopped
    result.scenario_file, result.overrides = str(options.scenario), list(options.overrides)
    result.tls = _tls_report(options)
    if stopped is not None:
        result.notes.append(stopped)
    if options.insecure:
        result.notes.append(INSECURE_WARNING)
    if not result.rate_sustained:
        shortfall = 1 - result.overall.achieved_ratio
        result.notes.append(
            f"target rate not sustained: {result.overall.achieved_rate:.1f} req/s achieved of "
            f"{result.overall.target_rate:.1f} req/s ({shortfall:.0%} short); arrivals were "
            f"late by {result.lag['mean'] * 1000:.1f} ms on average"
        )
    if options.predict and not interrupted and stopped is None:
        from loadtests.compare import comparison, predict

        echo("gateproof load: simulating the same scenario for predicted beside measured ...")
        try:
            result.predicted = comparison(result, predict(result))
        except Exception as error:  # the measurement stands without a prediction
            result.notes.append(f"no prediction: the simulator failed ({error!r})")
        else:
            result.notes += _calibration_hints(result, options.out)
    write_report(result, options.out)
    return result


def _preflight(
    options: LoadOptions, spec: RunSpec, plan: LoadPlan, echo: Callable[[str], None]
) -> None:
    """The run's first request, once, before any load: exit 3 (2 for a credential) on failure."""
    assert options.host is not None
    name = next(iter(plan.scenario.workload))
    planned = plan.request(name)
    headers = spec.request_headers()
    if options.credentials is not None:
        headers = {**headers, **read_credentials(options.credentials)[0]}
    request = PreflightRequest(
        planned.method, planned.path, plan.body(name, 0.0, random.Random(spec.seed)), headers
    )
    context = None
    if options.host.startswith("https://"):
        context = client_context(options.ca_cert, insecure=options.insecure)
    try:
        answer = preflight(options.host, request, context)
    except PreflightError as error:
        if error.credentials:
            raise LoadInputError(f"preflight: {error}") from None
        raise LoadEnvironmentError(
            f"preflight: {error}\n(no load was sent; the host must answer one request first)"
        ) from None
    echo(f"gateproof load: preflight {answer}")


def _tls_report(options: LoadOptions) -> dict[str, Any] | None:
    """How the host's certificate was checked, for load.json (None for http://)."""
    if options.host is None or not options.host.startswith("https://"):
        return None
    return {
        "verify": not options.insecure,
        "ca_cert": None if options.ca_cert is None else str(options.ca_cert),
        "warning": INSECURE_WARNING if options.insecure else None,
    }


def _calibration_hints(result: LoadResult, out: Path) -> list[str]:
    """Where the mean misses by more than 10% and the run measured its overhead, say so."""
    hints = []
    for name, rows in (result.predicted or {}).get("functions", {}).items():
        error = rows["mean"]["error"]
        outside = result.functions[name].outside
        if outside and not math.isnan(error) and abs(error) > 0.10:
            hints.append(
                f"{name}: measured mean {error:+.0%} off the prediction; calls spent a median "
                f"{statistics.median(outside) * 1000:.1f} ms outside their worker: "
                f"`gateproof sim calibrate {out}` fits the overheads to set in the scenario"
            )
    return hints


def write_report(result: LoadResult, out: Path) -> None:
    """``load.json``, and with a prediction ``compare.md`` and ``compare.png``."""
    files = {"load": "load.json", "locust_csv": "locust_stats.csv", "locust_html": "locust.html"}
    if result.predicted is not None:
        from loadtests.compare import format_comparison, plot_comparison

        (out / "compare.md").write_text(format_comparison(result.predicted) + "\n")
        plot_comparison(result.predicted, out / "compare.png")
        files.update(comparison="compare.md", plot="compare.png")
    result.files = files
    (out / "load.json").write_text(json.dumps(finite(result.as_dict()), indent=1) + "\n")


def run_worker(
    scenario: Path,
    overrides: list[str],
    master_host: str,
    master_port: int,
    out: Path,
    max_users: int | None = None,
    ca_cert: Path | None = None,
    insecure: bool = False,
) -> int:
    """A Locust worker of a master elsewhere, which gates the SLOs; returns Locust's status.

    The master's options do not travel to remote workers: ``ca_cert`` and
    ``insecure`` are this worker's own (give the same as the master's).
    """
    try:
        plan = LoadPlan(load_scenario(scenario, overrides), inject=False, user_cap=max_users)
    except (ScenarioError, PlanError) as error:
        raise LoadInputError(str(error)) from None
    try:
        client_context(ca_cert, insecure=insecure)
    except TlsError as error:
        raise LoadInputError(str(error)) from None
    _prepare_out(out)
    spec = RunSpec(
        str(scenario),
        list(overrides),
        seed=plan.scenario.seed,
        max_users=max_users,
        ca_cert=None if ca_cert is None else str(ca_cert.resolve()),
        insecure=insecure,
    )
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    argv += ["--master-host", master_host, "--master-port", str(master_port)]
    argv += ["--loglevel", "WARNING", "--logfile", str(out / "locust-worker.log")]
    with _locust(argv, spec, out / "locust-worker-output.txt") as process:
        try:
            return process.wait(plan.duration + 2 * _GRACE_S)
        except subprocess.TimeoutExpired:
            return 1


# -- the pieces --------------------------------------------------------------


@contextlib.contextmanager
def _target(options: LoadOptions, scenario: Any) -> Iterator[Gateway | None]:
    if options.target is None:
        yield None
        return
    with start_target(options.target, scenario, options.out) as gateway:
        yield gateway


@contextlib.contextmanager
def _chaos(
    chaos: ChaosSpec | None, gateway: Gateway | None, duration: float, seed: int
) -> Iterator[Any]:
    if chaos is None or gateway is None:
        yield None
        return
    from loadtests.chaos import kill_container, kill_pid, kill_workers
    from loadtests.targets import containers_of

    if gateway.instance is not None:
        instance = gateway.instance

        def workers() -> list[str]:
            return containers_of(instance)

        kill = kill_container
    else:

        def workers() -> list[str]:
            return [str(pid) for pid in gateway.worker_pids()]

        kill = kill_pid
    with kill_workers(chaos, workers, kill, limit_s=duration, seed=seed) as kills:
        yield kills


def _settled(gateway: Gateway, limit_s: float = 10.0) -> dict[str, Any] | None:
    """The gateway's status once no call is in flight (pools idle or waiting for none)."""
    deadline = time.monotonic() + limit_s
    status = gateway.status()
    while status is not None and time.monotonic() < deadline:
        pools = status.get("pools", {}).values()
        if all(p.get("busy", 0) == 0 and p.get("waiting", 0) == 0 for p in pools):
            break
        time.sleep(0.2)
        status = gateway.status()
    return status


def _locust_argv(options: LoadOptions, url: str) -> list[str]:
    out = options.out
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url]
    argv += ["--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "locust.html")]
    argv += ["--only-summary", "--loglevel", "WARNING", "--logfile", str(out / "locust.log")]
    argv += ["--exit-code-on-error", "0", "--stop-timeout", "0"]
    if options.processes:
        argv += ["--processes", str(options.processes)]
    if options.master:
        argv += ["--master", "--expect-workers", str(options.expect_workers)]
        argv += ["--expect-workers-max-wait", "120"]
        argv += ["--master-bind-host", options.master_bind_host]
        argv += ["--master-bind-port", str(options.master_port)]
    return argv


@contextlib.contextmanager
def _locust(argv: list[str], spec: RunSpec, output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Locust as a child in its own process group; stopped (and its group killed) on the way out."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env[ENV_VAR] = spec.to_env()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            yield process
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (Locust writes its reports), then SIGKILL for whatever is left of the group.

    SIGINT, not SIGTERM: Locust 2.4x ends at once on SIGTERM without its quitting steps.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(_STOP_S)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # --processes children too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def _run_locust(
    options: LoadOptions, spec: RunSpec, url: str, plan: LoadPlan, echo: Callable[[str], None]
) -> tuple[bool, str | None]:
    """Run Locust to the end of the scenario, Ctrl-C or an early stop.

    Returns (interrupted, why it stopped early); Locust is stopped with SIGINT
    either way, so it writes its reports.
    """
    argv = _locust_argv(options, url)
    limit = plan.duration + _GRACE_S + (120 if options.master else 0)
    watch = FailureWatch(options.early_stop_window) if options.early_stop else None
    started = time.monotonic()
    with _locust(argv, spec, options.out / "locust-output.txt") as process:
        try:
            next_line = next_look = started
            while process.poll() is None:
                now = time.monotonic()
                if now - started > limit:
                    echo(f"gateproof load: Locust still running after {limit:g} s; stopping it")
                    return True, None
                if now >= next_line:
                    echo(_progress(options.out, now - started, plan))
                    next_line = now + 5.0
                if watch is not None and now >= next_look:
                    reason = _look(watch, options.out, now - started)
                    if reason is not None:
                        echo(f"gateproof load: {reason}")
                        return False, reason
                    next_look = now + 1.0
                time.sleep(0.2)
        except KeyboardInterrupt:
            echo("gateproof load: interrupted; stopping the load and writing the report")
            return True, None
    if process.returncode not in (0, None):
        tail = (options.out / "locust-output.txt").read_text(errors="replace")[-1500:]
        raise LoadEnvironmentError(
            f"Locust exited with status {process.returncode}:\n{tail}\n"
            f"(see {options.out / 'locust.log'})"
        )
    return False, None


def _look(watch: FailureWatch, out: Path, elapsed: float) -> str | None:
    """Feed Locust's latest running totals to ``watch``; why to stop, or None."""
    row = _last_aggregated(out / "locust_stats_history.csv")
    if row is None:
        return None
    try:
        calls = int(float(row.get("Total Request Count") or 0))
        failures = int(float(row.get("Total Failure Count") or 0))
    except ValueError:
        return None
    return watch.observe(elapsed, calls, failures)


def _progress(out: Path, elapsed: float, plan: LoadPlan) -> str:
    """One progress line from Locust's latest stats-history row."""
    row = _last_aggregated(out / "locust_stats_history.csv")
    users = row.get("User Count", "0") if row else "0"
    requests = row.get("Total Request Count", "0") if row else "0"
    failures = row.get("Total Failure Count", "0") if row else "0"
    rps = row.get("Requests/s", "0") if row else "0"
    return (
        f"  [{min(elapsed, plan.duration):5.0f}/{plan.duration:g} s] users {users:>4}  "
        f"requests {requests:>7}  failures {failures:>5}  {float(rps or 0):7.1f} req/s"
    )


def _last_aggregated(path: Path) -> dict[str, str] | None:
    if not path.is_file():
        return None
    with contextlib.suppress(OSError, csv.Error):
        with path.open(newline="") as handle:
            last = None
            for row in csv.DictReader(handle):
                if row.get("Name") == "Aggregated":
                    last = row
            return last
    return None


def _read_json(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text())
    return None
