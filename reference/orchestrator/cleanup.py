"""Remove containers by label: how suites and benchmarks leave no container behind.

Every container a suite or benchmark makes carries :data:`SUITE_LABEL`; the
reaper image of testcontainers cannot be pulled here, so we remove our own,
at the start (leftovers of a crashed run) and at the end (pass or fail).
"""

from __future__ import annotations

import docker
import docker.errors

__all__ = ["SUITE_LABEL", "remove_labelled", "suite_labels"]

SUITE_LABEL = "org.gateproof.suite"


def suite_labels(suite: str) -> dict[str, str]:
    return {SUITE_LABEL: suite}


def remove_labelled(client: docker.DockerClient, label: str, value: str) -> list[str]:
    """Force-remove every container with ``label=value``; returns their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": f"{label}={value}"}):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as error:
            if "already in progress" not in str(error):
                raise
        removed.append(container.name)
    return removed
