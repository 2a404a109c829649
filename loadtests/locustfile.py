"""The Locust side of `gateproof load`: users and a shape built from a scenario.

Locust loads this file in every process of a run (``gateproof load`` starts
it as ``locust -f``; it is never imported by the calling process). The run's
:class:`~loadtests.spec.RunSpec` comes in the ``GATEPROOF_LOAD_SPEC``
environment variable.

* :class:`ScenarioUser` is an open-model arrival stream (see
  :mod:`loadtests.plan`): each arrival picks its function in proportion to the
  scenario's rates and calls the invoke API, or the function's routed path;
* :class:`ScenarioShape` follows the scenario's rate over time (steps, spikes)
  with one user per :data:`~loadtests.plan.HEADROOM_S` of mean gap, resets
  the statistics when the warm-up ends, and ends the run at its duration.

A call the gateway refused without running it (no capacity within the acquire
timeout, breaker open, rate limited) is reported under ``NAME [code]``, so the
row ``NAME`` holds the calls that ran on a worker, as the simulator's latency does.
"""

from __future__ import annotations

import functools
import json
import os
import random
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task
from locust.runners import WorkerRunner

from loadtests.credentials import read_credentials
from loadtests.server_timing import parse_server_timing
from loadtests.spec import RunSpec
from loadtests.tally import BATCHES, CONNECTION_ERROR, REFUSED_CODES, Tally, refused_name
from loadtests.tls import gevent_context

SPEC = RunSpec.from_env()
PLAN = SPEC.plan()
HEADERS = SPEC.request_headers()
CREDENTIALS = read_credentials(SPEC.credentials) if SPEC.credentials else []
TALLY = Tally()
_IDLE_S = 1.0  # a user with no arrival due looks again at least this often
# A server closes a keep-alive connection idle for a few seconds (uvicorn: 5 s); a call
# written into a connection the server is closing would fail as a dropped connection,
# and a POST is never retried. A user idle longer than this opens a new connection.
_REUSE_S = 3.0
_clock: dict[str, float] = {"start": time.monotonic()}
_warm = {"done": PLAN.warmup <= 0}  # this process's tally counts the measured window only
_BATCH_S = max(PLAN.duration - PLAN.warmup, 1e-9) / BATCHES


def _now() -> float:
    """Seconds since the run started, and the tally emptied once the warm-up is over."""
    now = time.monotonic() - _clock["start"]
    if not _warm["done"] and now >= PLAN.warmup:
        _warm["done"] = True
        TALLY.clear()
    return now


class ScenarioUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 120.0
    connection_timeout = 10.0
    # https: verified (Locust's own default is not to), against --ca-cert if given, in every
    # process that loads this file; --insecure turns verification off
    insecure = SPEC.insecure
    ssl_context_factory = functools.partial(gevent_context, SPEC.ca_cert, SPEC.insecure)
    _ids: ClassVar[int] = 0

    def on_start(self) -> None:
        ScenarioUser._ids += 1
        self.rng = random.Random(f"{SPEC.seed}-{os.getpid()}-{ScenarioUser._ids}")
        self.headers = HEADERS  # with --credentials, this user's own, taken in turn
        if CREDENTIALS:
            own = CREDENTIALS[(ScenarioUser._ids - 1) % len(CREDENTIALS)]
            self.headers = {**HEADERS, **own}
        self.due: float | None = None
        self.last_call = 0.0

    @task
    def arrive(self) -> None:
        now = _now()
        if self.due is None:
            self.due = PLAN.next_arrival(now, self.rng)
        if self.due > now:
            gevent.sleep(min(self.due - now, _IDLE_S))
            return
        due, self.due = self.due, None
        TALLY.arrival(now - due)
        self.call(PLAN.pick(due, self.rng), due)
        self.due = PLAN.next_arrival(due, self.rng)  # from the scheduled time: open model

    def call(self, name: str, at: float) -> None:
        spec = PLAN.request(name)
        body = PLAN.body(name, at, self.rng)
        if time.monotonic() - self.last_call > _REUSE_S:
            self.client.client.close()  # the next call connects afresh
        with self.client.request(
            spec.method, spec.path, data=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            status = response.status_code or None
            error = getattr(response, "error", None)  # set when no HTTP response came back
            detail = repr(error) if error is not None else ""
            request_id = response.headers.get("x-request-id") if status else None
            code = TALLY.response(name, status, response.content, request_id, detail)
            ran = bool(status) and code not in REFUSED_CODES
            if code in REFUSED_CODES:  # never ran: its latency is not the function's
                response.request_meta["name"] = refused_name(name, code)
            if at >= PLAN.warmup:
                latency = response.request_meta["response_time"] / 1000 if ran else None
                ok = bool(status) and 200 <= status < 300
                failed = None if ok else code or (str(status) if status else CONNECTION_ERROR)
                index = min(int((at - PLAN.warmup) / _BATCH_S), BATCHES - 1)
                TALLY.batch(name, index, latency, failed)
                split = parse_server_timing(response.headers.get("server-timing")) if ran else {}
                if split:
                    TALLY.server_timing(name, split, response.request_meta["response_time"] / 1000)
            if status and 200 <= status < 300:
                response.success()
                if SPEC.inject:
                    _time_outside(name, response)
            else:
                response.failure(f"HTTP {status or 'none'} {code or detail or ''}".strip())
        self.last_call = time.monotonic()


def _time_outside(name: str, response: Any) -> None:
    """Latency minus the worker's own time (the runtime's ``slept_ms``): overhead plus wait."""
    content = response.content or b""
    if b'"slept_ms"' not in content:
        return
    try:
        slept_ms = float(json.loads(content)["slept_ms"])
    except (ValueError, KeyError, TypeError):
        return
    TALLY.time_outside(name, (response.request_meta["response_time"] - slept_ms) / 1000)


class ScenarioShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        self.warm = PLAN.warmup <= 0

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= PLAN.duration:
            return None
        if not self.warm and t >= PLAN.warmup:
            self.warm = True  # Locust's statistics restart (the tallies restart by themselves)
            if self.runner is not None:
                self.runner.stats.reset_all()
        return PLAN.users(t), PLAN.spawn_rate


@events.test_start.add_listener
def _started(environment: Any, **_: Any) -> None:
    _clock["start"] = time.monotonic()
    _warm["done"] = PLAN.warmup <= 0
    TALLY.clear()


@events.report_to_master.add_listener
def _send(client_id: str, data: dict[str, Any], **_: Any) -> None:
    _now()  # a worker idle at the end of the warm-up still empties its tally
    data["gateproof"] = {**TALLY.as_dict(), "warm": _warm["done"]}
    TALLY.clear()


@events.worker_report.add_listener
def _receive(client_id: str, data: dict[str, Any], **_: Any) -> None:
    report = data.get("gateproof")
    if report is not None and report["warm"]:  # warm-up counts stay out of the report
        TALLY.merge(report)


@events.test_stop.add_listener
def _stopped(environment: Any, **_: Any) -> None:
    _clock.setdefault("stop", time.monotonic())
    _write(environment)


@events.quitting.add_listener
def _quitting(environment: Any, **_: Any) -> None:
    _write(environment)  # again: a master has the workers' last reports by now


def _write(environment: Any) -> None:
    if SPEC.tally_path is None or isinstance(environment.runner, WorkerRunner):
        return
    stop = _clock.get("stop", time.monotonic())
    window = max(0.0, stop - _clock["start"] - PLAN.warmup)
    document = {**TALLY.as_dict(), "window_s": window}
    Path(SPEC.tally_path).write_text(json.dumps(document, indent=1))
