"""Run independent replications of a scenario in parallel over the cores.

Seeds come from ``numpy.random.SeedSequence(seed).spawn(n)``: the streams are
statistically independent, and replication i gets the same stream whatever
the number of workers, so results depend only on (scenario, seed, n).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from scenarios.schema import Scenario
from sim.model import run_replication
from sim.results import SimResult, summarise

if TYPE_CHECKING:
    from sim.cluster import Cluster

__all__ = ["run_jobs", "run_replications", "simulate"]


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    *,
    workers: int | None = None,
    progress: bool = False,
    cluster: Cluster | None = None,
) -> list[dict[str, Any]]:
    """Replication results in replication order; in-process when ``workers`` is 1."""
    seeds = np.random.SeedSequence(seed).spawn(replications)
    jobs = [(scenario, child) for child in seeds]
    desc = f"{scenario.name}: replications"
    return run_jobs(jobs, workers=workers, progress=progress, desc=desc, cluster=cluster)


def run_jobs(
    jobs: list[tuple[Scenario, np.random.SeedSequence]],
    *,
    workers: int | None = None,
    progress: bool = False,
    desc: str = "replications",
    cluster: Cluster | None = None,
) -> list[dict[str, Any]]:
    """Run ``run_replication(scenario, seed)`` for each job, results in order.

    Over this machine's cores by default, or on a Dask ``cluster``
    (:mod:`sim.cluster`) when one is given; the results are the same.
    """
    if cluster is not None:
        return cluster.run(jobs, progress=progress, desc=desc)
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    bar = tqdm(
        total=len(jobs), desc=desc, unit="rep", file=sys.stderr, disable=not progress, leave=False
    )
    with bar:
        results = []
        if workers <= 1:
            for scenario, child in jobs:
                results.append(run_replication(scenario, child))
                bar.update()
            return results
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_replication, scenario, child) for scenario, child in jobs]
            for future in futures:
                results.append(future.result())
                bar.update()
        return results


def simulate(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    cluster: Cluster | None = None,
) -> SimResult:
    """The scenario's replications (default: its own count and seed), summarised."""
    count = replications or scenario.replications
    seed = scenario.seed if seed is None else seed
    runs = run_replications(
        scenario, count, seed, workers=workers, progress=progress, cluster=cluster
    )
    return summarise(scenario, seed, runs)
