"""The chaos run: kill a random worker of the gateway at a fixed interval while the load runs.

A worker is a runtime process under the gateway (process backend) or a
container of the run's orchestrator instance (Docker); it is killed with
SIGKILL, as a crash or an OOM kill would end it. The killer is a thread that
stops when the load stops, and never kills more than the run's duration allows.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["ChaosError", "ChaosSpec", "kill_workers"]


class ChaosError(ValueError):
    """A ``--chaos`` value that cannot be run; the message shows the form."""


@dataclass(frozen=True)
class ChaosSpec:
    every_s: float

    @classmethod
    def parse(cls, text: str) -> ChaosSpec:
        kind, _, every = text.partition(":")
        try:
            seconds = float(every)
        except ValueError:
            seconds = 0.0
        if kind != "kill-workers" or not seconds > 0:
            raise ChaosError(
                f"--chaos {text!r}: write kill-workers:EVERY_S, e.g. kill-workers:2 "
                f"(kill a random worker every 2 seconds)"
            )
        return cls(seconds)


@dataclass
class Kills:
    """What the killer did: one entry per kill, ``(seconds into the run, worker)``."""

    kills: list[tuple[float, str]] = field(default_factory=list)
    misses: int = 0  # rounds with no worker to kill

    def as_dict(self, every_s: float) -> dict[str, object]:
        return {
            "kind": "kill-workers",
            "every_s": every_s,
            "killed": len(self.kills),
            "rounds_without_worker": self.misses,
            "kills": [{"at": round(at, 3), "worker": worker} for at, worker in self.kills],
        }


def kill_pid(pid: str) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(pid), signal.SIGKILL)


def kill_container(name: str) -> None:
    import docker

    client = docker.from_env()
    try:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.containers.get(name).kill()
    finally:
        client.close()


@contextlib.contextmanager
def kill_workers(
    spec: ChaosSpec,
    workers: Callable[[], list[str]],
    kill: Callable[[str], None],
    *,
    limit_s: float,
    seed: int = 0,
) -> Iterator[Kills]:
    """Kill one of ``workers()`` every ``spec.every_s`` seconds until the block ends."""
    done = threading.Event()
    kills = Kills()
    rng = random.Random(seed)
    started = time.monotonic()

    def loop() -> None:
        rounds = int(limit_s / spec.every_s) + 1  # bounded even if the block never ends
        for _ in range(rounds):
            if done.wait(spec.every_s):
                return
            candidates = workers()
            if not candidates:
                kills.misses += 1
                continue
            victim = rng.choice(candidates)
            kill(victim)
            kills.kills.append((time.monotonic() - started, victim))

    thread = threading.Thread(target=loop, name="gateproof-chaos", daemon=True)
    thread.start()
    try:
        yield kills
    finally:
        done.set()
        thread.join(30)
