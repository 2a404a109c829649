"""Replications on a Dask distributed cluster, for sweeps that outgrow one machine.

Dask is the engine: its scheduler places the replications, reruns those whose
worker died (the scheduler's own rescheduling, bounded by its
``allowed-failures``), and ``as_completed`` feeds the progress bar. This module
only adds what a capacity sweep needs on top:

- refuse, before any work is sent, a scheduler that does not answer or whose
  workers run another version of gateproof or of the libraries the model's
  random numbers depend on (results would silently differ);
- ship each scenario as data (its validated fields and the contents of the
  data files it names), so a worker on another machine needs the installed
  package, not the user's files;
- say how many replications were rerun because their worker died;
- on Ctrl-C, cancel every submitted future so nothing keeps running for us.

Results are bit-for-bit those of the local process pool: a replication's
random numbers depend only on (scenario, seed, replication index).

``address`` is a scheduler address (``tcp://host:8786``) or ``local:N``, which
starts a ``distributed.LocalCluster`` of N single-threaded worker processes on
127.0.0.1 for the duration of the run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from scenarios.schema import Scenario

__all__ = [
    "Cluster",
    "SchedulerUnreachable",
    "VersionMismatch",
    "connect",
    "environment_versions",
]

CONNECT_TIMEOUT_S = 5.0
# what must match between this process and every worker for identical results
PINNED_PACKAGES = ("gateproof", "numpy", "simpy", "hdrhistogram")


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the address; the message says how to start one."""


class VersionMismatch(RuntimeError):
    """A worker runs other versions than this process; the message names them."""


def environment_versions() -> dict[str, str]:
    """Python and the versions the model's results depend on, as this process sees them."""
    versions = {"python": ".".join(map(str, sys.version_info[:2]))}
    for name in PINNED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@contextmanager
def connect(address: str, *, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A ``distributed.Client`` on ``address`` whose workers match our versions.

    Raises :class:`SchedulerUnreachable` or :class:`VersionMismatch` before
    anything is submitted. A ``local:N`` cluster is closed on exit.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerUnreachable(
            "--scheduler needs Dask distributed: pip install 'gateproof[dask]'"
        ) from None

    cluster = None
    if address.startswith("local:"):
        count = _local_workers(address)
        cluster = LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        address = cluster.scheduler_address
    try:
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError):
            raise SchedulerUnreachable(
                f"no Dask scheduler answered at {address} within {timeout:.0f} s; "
                f"start one with `dask scheduler` and workers with `dask worker {address}` "
                f"(see docs/distributed.md), or drop --scheduler to use this machine's cores"
            ) from None
        try:
            _check_workers(client, address)
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _local_workers(address: str) -> int:
    text = address.removeprefix("local:")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--scheduler {address!r}: write local:N with N >= 1 worker processes")
    return int(text)


def _check_workers(client: Any, address: str) -> None:
    """Refuse a cluster with no workers, or whose workers differ in a pinned version."""
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise SchedulerUnreachable(
            f"the Dask scheduler at {address} has no workers; start some with "
            f"`dask worker {address} --nthreads 1`"
        ) from None
    ours = environment_versions()
    theirs: dict[str, dict[str, str]] = client.run(environment_versions)
    problems = []
    for worker, versions in sorted(theirs.items()):
        diff = [
            f"{k} {versions.get(k)} (here {v})" for k, v in ours.items() if versions.get(k) != v
        ]
        if diff:
            problems.append(f"{worker}: {', '.join(diff)}")
    if problems:
        raise VersionMismatch(
            "workers run other versions than this machine, so results would differ: "
            + "; ".join(problems)
            + f". Install the same versions on every worker "
            f"(pip install gateproof=={ours['gateproof']})"
        )


def ship(scenario: Scenario) -> str:
    """The scenario as JSON data, with the contents of every data file it names."""
    data = scenario.model_dump(mode="json")
    files: dict[str, str] = {}
    for node in _walk(data):
        path = node.get("file")
        if isinstance(path, str) and path not in files:
            files[path] = Path(path).read_text()
    return json.dumps({"scenario": data, "files": files}, sort_keys=True)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@functools.lru_cache(maxsize=256)
def unship(payload: str) -> Scenario:
    """The scenario back from :func:`ship`, its data files written to a local cache."""
    shipped = json.loads(payload)
    data = shipped["scenario"]
    local: dict[str, str] = {}
    for path, text in shipped["files"].items():
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / "gateproof-data" / digest
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(path).name
        if not target.is_file():
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_text(text)
            partial.replace(target)
        local[path] = str(target)
    for node in _walk(data):
        if isinstance(node.get("file"), str):
            node["file"] = local[node["file"]]
    return Scenario.model_validate(data)


def replicate(payload: str, seed: np.random.SeedSequence) -> dict[str, Any]:
    """One replication on a worker: what ``run_jobs`` runs in a local process."""
    from sim.model import run_replication

    return run_replication(unship(payload), seed)


class Cluster:
    """Runs replication jobs on a connected client; counts the reruns over its lifetime."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.retried = 0

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def run(
        self,
        jobs: list[tuple[Scenario, np.random.SeedSequence]],
        *,
        progress: bool = False,
        desc: str = "replications",
    ) -> list[dict[str, Any]]:
        """Results in job order, exactly as the local process pool gives them."""
        from distributed import as_completed

        payloads: dict[int, str] = {}
        shipped = [payloads.setdefault(id(scenario), ship(scenario)) for scenario, _ in jobs]
        futures = [
            self.client.submit(replicate, payload, seed, pure=False)
            for payload, (_, seed) in zip(shipped, jobs, strict=True)
        ]
        order = {future.key: index for index, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        bar = tqdm(
            total=len(jobs),
            desc=desc,
            unit="rep",
            file=sys.stderr,
            disable=not progress,
            leave=False,
        )
        try:
            with bar:
                for future in as_completed(futures, loop=self.client.loop):
                    results[order[future.key]] = future.result()
                    bar.update()
            self.retried += _rescheduled(self.client, list(order))
        except BaseException:
            self.client.cancel(futures, force=True)
            raise
        return results


def _rescheduled(client: Any, keys: list[Any]) -> int:
    """Keys the scheduler had to run again because the worker running them was lost."""

    def count(keys: list[Any], dask_scheduler: Any = None) -> int:
        tasks = dask_scheduler.tasks
        return sum(1 for key in keys if key in tasks and tasks[key].suspicious > 0)

    return int(client.run_on_scheduler(count, keys))
