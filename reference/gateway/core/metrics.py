"""Prometheus metrics of one gateway, in a registry of its own.

Each app gets its own :class:`CollectorRegistry` (never the global one), so a
test can build many apps in one process. Pool and breaker figures are read at
scrape time from the objects that own them, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reference.gateway.core.breaker import BreakerSnapshot, BreakerState
from reference.gateway.services.pool import PoolStats

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    """Request counters and latency histograms, plus pool and breaker gauges."""

    def __init__(
        self,
        pools: Callable[[], Mapping[str, PoolStats]],
        breakers: Callable[[], Mapping[str, BreakerSnapshot]],
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_requests",
            "Requests answered, by function and status.",
            ["function", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds",
            "Time from request to response, by function.",
            ["function"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "gateway_worker_retries",
            "Calls sent again on another worker because their request never reached the first.",
            ["function"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(pools, breakers))
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, function: str, status: int, seconds: float) -> None:
        # Labelled children cached by (function, status): .labels() is costly per request,
        # and both label sets are bounded (known functions, HTTP statuses).
        children = self._children.get((function, status))
        if children is None:
            children = (self.requests.labels(function, str(status)), self.duration.labels(function))
            self._children[(function, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def retried(self, function: str) -> None:
        """One call of ``function`` sent again (see ``LambdaInvoker``); rare, so not cached."""
        self.retries.labels(function).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(
        self,
        pools: Callable[[], Mapping[str, PoolStats]],
        breakers: Callable[[], Mapping[str, BreakerSnapshot]],
    ) -> None:
        self._pools = pools
        self._breakers = breakers

    def collect(self) -> Iterator[Metric]:
        yield from _pool_metrics(self._pools())
        yield from _breaker_metrics(self._breakers())


def _pool_metrics(pools: Mapping[str, PoolStats]) -> Iterator[Metric]:
    workers = GaugeMetricFamily(
        "gateway_pool_workers", "Workers by state.", labels=["function", "state"]
    )
    waiting = GaugeMetricFamily(
        "gateway_pool_waiting", "Callers waiting for a worker.", labels=["function"]
    )
    capacity = GaugeMetricFamily("gateway_pool_max_capacity", "Pool limit.", labels=["function"])
    for name, stats in pools.items():
        for state in ("idle", "busy", "provisioning"):
            workers.add_metric([name, state], getattr(stats, state))
        waiting.add_metric([name], stats.waiting)
        capacity.add_metric([name], stats.max_capacity)
    yield from (workers, waiting, capacity)


def _breaker_metrics(breakers: Mapping[str, BreakerSnapshot]) -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "gateway_breaker_state", "1 for the breaker's current state.", labels=["function", "state"]
    )
    counts = GaugeMetricFamily(
        "gateway_breaker_calls", "Breaker counters since start.", labels=["function", "outcome"]
    )
    trips = GaugeMetricFamily(
        "gateway_breaker_trips", "Times the breaker opened.", labels=["function"]
    )
    for name, snap in breakers.items():
        for candidate in BreakerState:
            state.add_metric([name, candidate.value], 1.0 if snap.state is candidate else 0.0)
        for outcome in ("successes", "failures", "rejections"):
            counts.add_metric([name, outcome], getattr(snap, outcome))
        trips.add_metric([name], snap.trips)
    yield from (state, counts, trips)
