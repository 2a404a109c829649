"""Random draws for a scenario's distributions and arrival processes.

Draws are made in blocks with numpy and handed out one by one: one numpy call
per few thousand requests keeps the per-request cost of the simulation to a
list step, which matters because the model must outrun Ciw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from scenarios.schema import (
    Arrivals,
    Constant,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Poisson,
    Spikes,
    Steps,
    Trace,
)

__all__ = ["arrival_times", "rate_segments", "sampler", "uniform"]

_BLOCK = 4096


def _blocks(draw: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """A zero-argument sampler that refills from ``draw(_BLOCK)`` when it runs dry."""
    state: list[Callable[[], float]] = [iter(()).__next__]

    def next_value() -> float:
        try:
            return state[0]()
        except StopIteration:
            state[0] = iter(draw(_BLOCK).tolist()).__next__
            return state[0]()

    return next_value


def sampler(spec: Distribution, rng: np.random.Generator) -> Callable[[], float]:
    """A fast zero-argument function returning one draw (seconds) of ``spec``."""
    if isinstance(spec, Constant):
        value = float(spec.value)
        return lambda: value
    if isinstance(spec, Exponential):
        return _blocks(lambda n: rng.exponential(spec.mean, n))
    if isinstance(spec, Lognormal):
        mu, sigma = spec.params
        return _blocks(lambda n: rng.lognormal(mu, sigma, n))
    if isinstance(spec, Gamma):
        return _blocks(lambda n: rng.gamma(spec.shape, spec.scale, n))
    if isinstance(spec, Empirical):
        samples = np.asarray(spec.samples(), dtype=float)
        return _blocks(lambda n: rng.choice(samples, n))
    raise TypeError(f"unknown distribution {spec!r}")


def uniform(rng: np.random.Generator) -> Callable[[], float]:
    """Uniform draws on [0, 1), for error and crash decisions."""
    return _blocks(rng.random)


def rate_segments(arrivals: Arrivals, duration: float) -> list[tuple[float, float, float]]:
    """A piecewise-constant rate as (start, end, rate) segments covering [0, duration)."""
    if isinstance(arrivals, Poisson):
        return [(0.0, duration, arrivals.rate)]
    if isinstance(arrivals, Steps):
        starts = [step.at for step in arrivals.steps if step.at < duration]
        ends = [*starts[1:], duration]
        return [
            (start, end, step.rate)
            for start, end, step in zip(starts, ends, arrivals.steps, strict=False)
        ]
    if isinstance(arrivals, Spikes):
        segments: list[tuple[float, float, float]] = []
        t = 0.0
        for spike in arrivals.spikes:
            start, end = min(spike.start, duration), min(spike.start + spike.duration, duration)
            if start > t:
                segments.append((t, start, arrivals.rate))
            if end > start:
                segments.append((start, end, arrivals.rate * spike.multiplier))
            t = max(t, end)
        if t < duration:
            segments.append((t, duration, arrivals.rate))
        return segments
    raise TypeError(f"{type(arrivals).__name__} has no rate")


def arrival_times(arrivals: Arrivals, duration: float, rng: np.random.Generator) -> Iterator[float]:
    """Absolute arrival times in [0, duration), ascending.

    A piecewise-constant Poisson process is exact by memorylessness: a gap
    that crosses a rate change is dropped and drawn again from the boundary.
    """
    if isinstance(arrivals, Trace):
        for t in arrivals.timestamps():
            if t >= duration:
                return
            yield t
        return
    unit = _blocks(lambda n: rng.exponential(1.0, n))
    for start, end, rate in rate_segments(arrivals, duration):
        if rate <= 0:
            continue
        mean_gap = 1.0 / rate
        t = start
        while True:
            t += unit() * mean_gap
            if t >= end:
                break
            yield t
