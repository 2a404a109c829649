"""One replication of a scenario: arrivals, the pool, service, faults and the breaker.

The model uses the gateway's own :class:`CircuitBreaker` with the SimPy clock
injected and :class:`sim.pool.SimPool`, which mirrors the gateway's pool, so
the model cannot drift from the implementation. A request is handled the way
the gateway's invoker handles it: the breaker may reject it at once; otherwise
it waits for a worker (an acquire timeout or a failed provision is recorded as
*ignored* by the breaker),
holds the worker for its service time (plus any latency fault) and the
function's ``hold_overhead`` (the gateway's exchange with the worker: the
worker is busy but not serving), and its outcome (success,
error, or a crashed worker that is evicted) goes to the breaker. A call that
runs past the function's ``timeout_seconds`` ends there, as the invoker's
504: its worker is evicted and the breaker records a failure; it counts as an
error and, separately, as a *worker timeout* (acquire timeouts are
``timeouts``).

Requests are objects with callbacks on SimPy timeouts, not processes: the
per-request path is a handful of attribute updates, two histogram records and
two scheduled events. Statistics count requests that arrive after the
warm-up; the time series covers the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from reference.gateway.core.breaker import BreakerState, CircuitBreaker
from scenarios.schema import ErrorFault, FunctionSpec, LatencyFault, Scenario, WorkerCrashFault
from sim.distributions import arrival_times, sampler, uniform
from sim.histogram import LatencyHistogram
from sim.pool import SimPool

__all__ = ["MAX_SERIES_POINTS", "Trace", "TraceRecord", "run_replication"]

MAX_SERIES_POINTS = 3600  # time-series buckets are widened beyond this, so memory stays flat
_MAX_TRANSITIONS = 1000
_STATE_CODE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

# per-bucket counters of the time series, in this order
# (errors include worker timeouts; timeouts are acquire timeouts)
_COUNTERS = (
    "arrivals",
    "served",
    "errors",
    "timeouts",
    "rejections",
    "cold_starts",
    "worker_timeouts",
)
_ARRIVALS, _SERVED, _ERRORS, _TIMEOUTS, _REJECTIONS, _COLD, _WORKER_TIMEOUTS = range(7)

# the counts of a function's summary (and of the overall one), in this order
_COUNTS = (
    "arrivals",
    "served",
    "errors",
    "timeouts",
    "worker_timeouts",
    "rejections",
    "cold_starts",
)
# count -> its rate, a fraction of the arrivals
_RATES = {
    "errors": "error_rate",
    "timeouts": "timeout_rate",
    "worker_timeouts": "worker_timeout_rate",
    "rejections": "rejection_rate",
    "cold_starts": "cold_start_rate",
}


@dataclass(slots=True)
class TraceRecord:
    """One request's fate, kept only when a trace is asked for (model-vs-pool checks)."""

    function: str
    arrival: float
    outcome: str = "pending"  # served, error, worker_timeout, timeout, rejected, provision_error
    wait: float | None = None
    service: float | None = None  # held, as drawn: a worker timeout cut it at timeout_seconds


@dataclass
class Trace:
    """Every request's fate and every cold start drawn, to replay on the real pool."""

    requests: list[TraceRecord] = field(default_factory=list)
    cold_starts: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class _Series:
    bucket: float
    count: int
    counters: list[list[int]] = field(default_factory=list)
    latency_sum: list[float] = field(default_factory=list)
    latency_max: list[float] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    breaker: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counters = [[0] * self.count for _ in _COUNTERS]
        self.latency_sum = [0.0] * self.count
        self.latency_max = [0.0] * self.count


class _Request:
    __slots__ = ("arrival", "deadline", "epoch", "fn", "record", "worker")

    def __init__(self, fn: _FunctionModel, arrival: float) -> None:
        self.fn = fn
        self.arrival = arrival
        self.deadline = arrival + fn.acquire_timeout
        self.record: TraceRecord | None = None
        self.epoch = fn.breaker.epoch if fn.breaker is not None else 0  # as the invoker

    def granted(self, worker: int, fresh: bool) -> None:
        fn = self.fn
        env = fn.env
        now = env.now
        self.worker = worker
        service = fn.service()
        if fn.latency_faults:
            service += fn.extra_latency(now)
        if fn.hold_overhead is not None:
            service += fn.hold_overhead()  # the worker is held, as for service
        if self.record is not None:
            self.record.wait = now - self.arrival
            self.record.service = service
        done = self.finish
        if service > fn.worker_timeout:  # the invoker gives up on the call at its timeout
            service = fn.worker_timeout
            done = self.worker_timed_out
        if self.arrival >= fn.warmup:
            wait = now - self.arrival
            if wait > 0.0:
                fn.wait_record(wait)
            else:
                fn.zero_waits += 1
            if fresh:
                fn.cold_starts += 1
                fn.series.counters[_COLD][fn.bucket_of(now)] += 1
            fn.busy_time += service
        env.timeout(service).callbacks.append(done)

    def finish(self, _event: simpy.Event) -> None:
        fn = self.fn
        now = fn.env.now
        failed = False
        if fn.may_fail:
            failed = fn.uniform() < _fault_rate(fn.error_faults, now, fn.error_rate)
            if fn.crash_faults and fn.uniform() < _fault_rate(fn.crash_faults, now, 0.0):
                fn.pool.evict(self.worker)
                failed = True
            else:
                fn.pool.release(self.worker)
        else:
            fn.pool.release(self.worker)
        breaker = fn.breaker
        if breaker is not None:
            if failed:
                breaker.record_failure(self.epoch)
            else:
                breaker.record_success(self.epoch)
        self._account(now, failed)
        if self.record is not None:
            self.record.outcome = "error" if failed else "served"

    def worker_timed_out(self, _event: simpy.Event) -> None:
        """The call ran into ``timeout_seconds``: a 504, the worker evicted, a breaker failure."""
        fn = self.fn
        now = fn.env.now
        fn.pool.evict(self.worker)
        if fn.breaker is not None:
            fn.breaker.record_failure(self.epoch)
        self._account(now, True)
        fn.series.counters[_WORKER_TIMEOUTS][fn.bucket_of(now)] += 1
        if self.arrival >= fn.warmup:
            fn.worker_timeouts += 1
        if self.record is not None:
            self.record.outcome = "worker_timeout"

    def _account(self, now: float, failed: bool) -> None:
        fn = self.fn
        latency = now - self.arrival
        if fn.overhead is not None:
            latency += fn.overhead()
        index = int(now * fn.inverse_bucket)
        if index > fn.last_bucket:
            index = fn.last_bucket
        (fn.errors_series if failed else fn.served_series)[index] += 1
        fn.latency_sum[index] += latency
        if latency > fn.latency_max[index]:
            fn.latency_max[index] = latency
        if self.arrival >= fn.warmup:
            fn.latency_record(latency)
            if failed:
                fn.errors += 1
            else:
                fn.served += 1

    def timed_out(self) -> None:
        fn = self.fn
        if fn.breaker is not None:
            fn.breaker.record_ignored(self.epoch)
        fn.series.counters[_TIMEOUTS][fn.bucket_of(fn.env.now)] += 1
        if self.arrival >= fn.warmup:
            fn.timeouts += 1
        if self.record is not None:
            self.record.outcome = "timeout"

    def provision_failed(self) -> None:
        fn = self.fn
        if fn.breaker is not None:
            fn.breaker.record_ignored(self.epoch)  # as the gateway: a backend problem
        fn.series.counters[_ERRORS][fn.bucket_of(fn.env.now)] += 1
        if self.arrival >= fn.warmup:
            fn.errors += 1
            fn.provision_errors += 1
        if self.record is not None:
            self.record.outcome = "provision_error"


class _FunctionModel:
    """Everything one function needs during a replication."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        spec: FunctionSpec,
        scenario: Scenario,
        seeds: np.random.SeedSequence,
        series_bucket: float,
        series_count: int,
        trace: Trace | None,
    ) -> None:
        streams = [np.random.default_rng(s) for s in seeds.spawn(7)]
        self.env = env
        self.name = name
        self.warmup = scenario.warmup
        self.acquire_timeout = spec.scaling.acquire_timeout
        self.worker_timeout = spec.timeout_seconds
        self.service = sampler(spec.service, streams[0])
        # outside the worker (gateway, network, client): latency only, the worker is free
        self.overhead = sampler(spec.overhead, streams[5]) if spec.overhead.mean > 0 else None
        # the worker held beyond its service: latency and utilisation both
        self.hold_overhead = (
            sampler(spec.hold_overhead, streams[6]) if spec.hold_overhead.mean > 0 else None
        )
        self.uniform = uniform(streams[2])
        self.error_rate = spec.error_rate
        provision_fails: Callable[[], bool] | None = None
        if spec.provision_failure_rate > 0:
            draw, rate = uniform(streams[3]), spec.provision_failure_rate
            provision_fails = lambda: draw() < rate  # noqa: E731
        cold_start = sampler(spec.cold_start, streams[1])
        if trace is not None:
            cold_start = _logged(cold_start, trace.cold_starts.setdefault(name, []))
        self.pool = SimPool(env, spec.scaling, cold_start, provision_fails)
        self.pool.warm(spec.scaling.min_capacity)
        self.breaker: CircuitBreaker | None = None
        self.transitions: list[tuple[float, str]] = []
        if scenario.breaker is not None:
            self.breaker = CircuitBreaker(name, scenario.breaker, clock=lambda: env.now)
            self.breaker.listeners.append(self._on_transition)
        mine = [f for f in scenario.faults if f.function in (None, name)]
        self.error_faults = [f for f in mine if isinstance(f, ErrorFault)]
        self.crash_faults = [f for f in mine if isinstance(f, WorkerCrashFault)]
        self.latency_faults = [
            (f.start, f.end, sampler(f.extra, streams[4]))
            for f in mine
            if isinstance(f, LatencyFault)
        ]
        load = scenario.workload.get(name)
        self._arrivals = (
            arrival_times(load.arrivals, scenario.duration, streams[4].spawn(1)[0])
            if load is not None
            else iter(())
        )
        self._trace = trace
        self.series = _Series(series_bucket, series_count)
        self.inverse_bucket = 1.0 / series_bucket
        self.last_bucket = series_count - 1
        self.arrivals_series = self.series.counters[_ARRIVALS]
        self.served_series = self.series.counters[_SERVED]
        self.errors_series = self.series.counters[_ERRORS]
        self.latency_sum = self.series.latency_sum
        self.latency_max = self.series.latency_max
        self.may_fail = bool(self.error_rate or self.error_faults or self.crash_faults)
        self.latency_hist = LatencyHistogram()
        self.wait_hist = LatencyHistogram()
        self.latency_record = self.latency_hist.record
        self.wait_record = self.wait_hist.record
        self.zero_waits = 0
        self.arrivals = self.served = self.errors = self.timeouts = 0
        self.rejections = self.cold_starts = self.provision_errors = 0
        self.worker_timeouts = 0
        self.busy_time = 0.0

    def bucket_of(self, now: float) -> int:
        index = int(now * self.inverse_bucket)
        return index if index < self.last_bucket else self.last_bucket

    def start(self) -> None:
        t = next(self._arrivals, None)
        if t is not None:
            self.env.timeout(t).callbacks.append(self._arrive)

    def _arrive(self, _event: simpy.Event) -> None:
        env = self.env
        now = env.now
        index = int(now * self.inverse_bucket)
        self.arrivals_series[index if index < self.last_bucket else self.last_bucket] += 1
        measured = now >= self.warmup
        if measured:
            self.arrivals += 1
        record = None
        if self._trace is not None:
            record = TraceRecord(self.name, now)
            self._trace.requests.append(record)
        if self.breaker is not None and not self.breaker.allow():
            self.series.counters[_REJECTIONS][self.bucket_of(now)] += 1
            if measured:
                self.rejections += 1
            if record is not None:
                record.outcome = "rejected"
        else:
            request = _Request(self, now)
            request.record = record
            self.pool.acquire(request)
        t = next(self._arrivals, None)
        if t is not None:
            env.timeout(t - now).callbacks.append(self._arrive)

    def extra_latency(self, now: float) -> float:
        return sum(draw() for start, end, draw in self.latency_faults if start <= now < end)

    def _on_transition(self, _old: BreakerState, new: BreakerState, at: float) -> None:
        if len(self.transitions) < _MAX_TRANSITIONS:
            self.transitions.append((at, new.value))

    def sample(self) -> None:
        """Snapshot the gauges of the time series (once per bucket)."""
        series, pool = self.series, self.pool
        series.busy.append(pool.busy)
        series.workers.append(pool.total)
        series.waiting.append(len(pool.waiters))
        state = self.breaker.state if self.breaker is not None else BreakerState.CLOSED
        series.breaker.append(_STATE_CODE[state])

    def summary(self, measured: float) -> dict[str, Any]:
        self.wait_hist.record_zeros(self.zero_waits)
        granted = self.wait_hist.count
        capacity = self.pool.config.max_capacity
        counts = {key: getattr(self, key) for key in _COUNTS}
        return {
            **counts,
            "provisions": self.pool.provisions,
            "pruned": self.pool.pruned,
            "throughput": self.served / measured,
            **_rates(counts),
            "wait_probability": (granted - self.zero_waits) / granted if granted else math.nan,
            "utilisation": self.busy_time / (capacity * measured),
            "mean_workers": self.pool.mean_workers(),
            "peak_workers": self.pool.peak_total,
            "breaker_trips": self.breaker.trips if self.breaker is not None else 0,
            **_histogram_stats("latency", self.latency_hist),
            **_histogram_stats("wait", self.wait_hist),
        }


def _fault_rate(
    faults: list[ErrorFault] | list[WorkerCrashFault], now: float, default: float
) -> float:
    """The rate of the first fault whose window holds ``now``, else ``default``."""
    for fault in faults:
        if fault.start <= now < fault.end:
            return fault.rate
    return default


def _logged(draw: Callable[[], float], log: list[float]) -> Callable[[], float]:
    def logged() -> float:
        value = draw()
        log.append(value)
        return value

    return logged


def _histogram_stats(prefix: str, histogram: LatencyHistogram) -> dict[str, float]:
    values = histogram.percentiles([50, 95, 99])
    return {
        f"{prefix}_mean": histogram.mean,
        f"{prefix}_p50": values[50],
        f"{prefix}_p95": values[95],
        f"{prefix}_p99": values[99],
    }


def run_replication(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    *,
    trace: Trace | None = None,
) -> dict[str, Any]:
    """Simulate the scenario once; returns plain data (picklable, JSON-able).

    Each function draws from its own child of ``seed``, so adding a function
    does not change the random numbers of the others; ``seed`` is not mutated,
    so the same SeedSequence always gives the same run. Pass a :class:`Trace` to
    get one record per request and every cold start (memory then grows with the run).
    """
    seeds = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    env = simpy.Environment()
    duration = scenario.duration
    bucket = max(1.0, math.ceil(duration / MAX_SERIES_POINTS))
    count = math.ceil(duration / bucket)
    names = sorted(scenario.functions)
    # what ``seeds.spawn`` gives on a fresh sequence, without mutating the caller's
    # (a reused SeedSequence must give the same streams, in-process as in a pool)
    children = [
        np.random.SeedSequence(
            seeds.entropy, spawn_key=(*seeds.spawn_key, i), pool_size=seeds.pool_size
        )
        for i in range(len(names))
    ]
    models = {
        name: _FunctionModel(
            env, name, scenario.functions[name], scenario, child, bucket, count, trace
        )
        for name, child in zip(names, children, strict=True)
    }
    for model in models.values():
        model.start()
    env.process(_janitor(env, scenario, list(models.values())))
    env.process(_sampler(env, bucket, count, list(models.values())))
    if scenario.warmup > 0:
        env.process(_end_warmup(env, scenario.warmup, list(models.values())))
    env.run()
    measured = duration - scenario.warmup
    functions = {name: model.summary(measured) for name, model in models.items()}
    if len(models) == 1:
        (only,) = models.values()
        overall = _overall(functions, only.latency_hist, only.wait_hist)
    else:
        overall_latency, overall_wait = LatencyHistogram(), LatencyHistogram()
        for model in models.values():
            overall_latency.merge(model.latency_hist)
            overall_wait.merge(model.wait_hist)
        overall = _overall(functions, overall_latency, overall_wait)
    return {
        "functions": functions,
        "overall": overall,
        "series": {
            "bucket_seconds": bucket,
            "functions": {name: _series_dict(model.series) for name, model in models.items()},
        },
        "transitions": {name: model.transitions for name, model in models.items()},
    }


def _overall(
    functions: dict[str, dict[str, Any]], latency: LatencyHistogram, wait: LatencyHistogram
) -> dict[str, Any]:
    def total(key: str) -> float:
        return sum(f[key] for f in functions.values())

    counts = {key: total(key) for key in _COUNTS}
    return {
        **counts,
        "throughput": total("throughput"),
        **_rates(counts),
        "mean_workers": total("mean_workers"),
        "peak_workers": total("peak_workers"),
        **_histogram_stats("latency", latency),
        **_histogram_stats("wait", wait),
    }


def _rates(counts: dict[str, Any]) -> dict[str, float]:
    """Each count in ``_RATES`` as a fraction of the arrivals (0 when there are none)."""
    arrivals = counts["arrivals"] or 1
    return {rate: counts[key] / arrivals for key, rate in _RATES.items()}


def _series_dict(series: _Series) -> dict[str, list[float]]:
    data: dict[str, list[float]] = {name: series.counters[i] for i, name in enumerate(_COUNTERS)}
    done = [s + e for s, e in zip(data["served"], data["errors"], strict=True)]
    data["latency_mean"] = [
        total / n if n else math.nan for total, n in zip(series.latency_sum, done, strict=True)
    ]
    data["latency_max"] = [
        peak if n else math.nan for peak, n in zip(series.latency_max, done, strict=True)
    ]
    data["busy"] = series.busy
    data["workers"] = series.workers
    data["waiting"] = series.waiting
    data["breaker"] = series.breaker
    return data


def _janitor(env: simpy.Environment, scenario: Scenario, models: list[_FunctionModel]):
    """Prune idle workers and top pools up to ``min_capacity``, as the gateway's janitor does.

    Like the gateway's, it waits for the workers it started (ready or failed)
    before sleeping ``janitor_interval`` again, so a round that tops a pool up
    delays the next one by that cold start.
    """
    while env.now + scenario.janitor_interval < scenario.duration:
        yield env.timeout(scenario.janitor_interval)
        started: list[simpy.Event] = []
        for model in models:
            model.pool.prune_idle()
            started += model.pool.ensure_min()
        if started:
            yield env.all_of(started)


def _sampler(env: simpy.Environment, bucket: float, count: int, models: list[_FunctionModel]):
    for _ in range(count):
        yield env.timeout(bucket)
        for model in models:
            model.sample()


def _end_warmup(env: simpy.Environment, warmup: float, models: list[_FunctionModel]):
    yield env.timeout(warmup)
    for model in models:
        model.pool.reset_area()
