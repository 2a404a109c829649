"""`gateproof load --target docker`: the same run over the orchestrator and real containers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker

from reference.orchestrator.cleanup import SUITE_LABEL

SCENARIO = """\
name: docker-small
duration: 14
warmup: 2
seed: 5
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 3, acquire_timeout: 5.0, idle_timeout: 300}
    service: {kind: constant, value: 0.010}
workload:
  echo:
    arrivals: {kind: poisson, rate: 30}
    payload: {message: hello}
slo: {p99: 60, error_rate: 1}
"""


def test_killing_worker_containers_under_load_breaks_no_guarantee(
    docker_client: docker.DockerClient, images: None, tmp_path: Path
) -> None:
    (tmp_path / "docker-small.yaml").write_text(SCENARIO)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable, "-m", "gateproof", "load", str(tmp_path / "docker-small.yaml"),
            "--target", "docker", "--chaos", "kill-workers:3", "--no-predict",
            "--out", str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "load.json").read_text())
    assert report["target"] == "docker"
    assert report["chaos"]["killed"] >= 3
    statuses = report["overall"]["responses_by_status"]
    assert statuses.get("200", 0) > 200
    assert set(statuses) - {"200"} <= {"502", "503", "504"}, statuses
    assert report["contract"]["held"] is True
    assert report["after"]["leftovers"] == []
    assert report["after"]["status"]["pools"]["echo"]["total"] <= 4
    left = docker_client.containers.list(all=True, filters={"label": f"{SUITE_LABEL}=load"})
    assert left == []
