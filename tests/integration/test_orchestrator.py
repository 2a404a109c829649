"""The orchestrator against the real engine: real worker containers, labelled and loopback-only."""

from __future__ import annotations

import contextlib
import json
import threading
import time

import docker
import httpx
import pytest

from reference.orchestrator.local import OrchestratorProcess
from reference.orchestrator.settings import FUNCTION_LABEL, LABEL

INVOKE = "/2015-03-31/functions/function/invocations"


def provision(orchestrator: OrchestratorProcess, **body: object) -> httpx.Response:
    return httpx.post(
        f"{orchestrator.url}/containers/provision",
        json=body,
        timeout=60,
        headers=orchestrator.headers,
    )


def ours(client: docker.DockerClient, instance: str = "itest") -> list:
    return client.containers.list(all=True, filters={"label": f"{LABEL}={instance}"})


def test_provisioned_workers_are_labelled_loopback_only_and_answer(
    orchestrator: OrchestratorProcess, docker_client: docker.DockerClient
) -> None:
    answer = provision(orchestrator, function="echo", count=2)
    assert answer.status_code == 200, answer.text
    workers = answer.json()["workers"]
    assert len(workers) == 2
    for worker in workers:
        assert worker["host"] == "127.0.0.1"
        assert worker["name"].startswith("gp-echo-")
        container = docker_client.containers.get(worker["id"])
        assert container.labels[LABEL] == "itest"
        assert container.labels[FUNCTION_LABEL] == "echo"
        bindings = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
        reply = httpx.post(f"http://127.0.0.1:{worker['port']}{INVOKE}", json={"hi": 1})
        assert reply.json() == {"hi": 1}
    synced = httpx.get(f"{orchestrator.url}/containers/sync", headers=orchestrator.headers).json()[
        "workers"
    ]
    assert {w["id"] for w in synced} == {w["id"] for w in workers}


def test_a_caller_without_the_token_is_refused_and_nothing_starts(
    orchestrator: OrchestratorProcess, docker_client: docker.DockerClient
) -> None:
    before = {c.id for c in ours(docker_client)}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        answer = httpx.post(
            f"{orchestrator.url}/containers/provision",
            json={"function": "echo"},
            headers=headers,
            timeout=60,
        )
        assert answer.status_code == 401 and answer.json()["detail"]["code"] == "unauthorized"
        assert orchestrator.token not in answer.text
    assert {c.id for c in ours(docker_client)} == before


def test_a_worker_that_never_becomes_ready_is_removed_and_the_caller_gets_503(
    orchestrator_factory, docker_client: docker.DockerClient
) -> None:
    orchestrator = orchestrator_factory(ready_timeout=3)
    answer = provision(
        orchestrator, function="echo", count=2, env={"GATEPROOF_COLD_START_MS": "120000"}
    )
    assert answer.status_code == 503
    assert answer.json()["detail"]["code"] == "provision_failed"
    assert "not ready within 3s" in answer.json()["detail"]["message"]
    assert ours(docker_client) == []


def test_a_missing_image_is_never_pulled_and_says_how_to_build_it(
    orchestrator: OrchestratorProcess, docker_client: docker.DockerClient
) -> None:
    answer = provision(orchestrator, function="echo", image="gateproof/absent:latest")
    assert answer.status_code == 422
    assert "gateproof images" in answer.json()["detail"]["message"]
    assert ours(docker_client) == []


def test_ensure_starts_one_worker_then_returns_the_same_one(
    orchestrator: OrchestratorProcess, docker_client: docker.DockerClient
) -> None:
    first = httpx.post(
        f"{orchestrator.url}/containers/ensure",
        json={"function_name": "echo"},
        timeout=60,
        headers=orchestrator.headers,
    ).json()
    second = httpx.post(
        f"{orchestrator.url}/containers/ensure",
        json={"function_name": "echo"},
        timeout=60,
        headers=orchestrator.headers,
    ).json()
    assert first == second
    assert first["host"] == "127.0.0.1" and first["port"] > 0
    assert len(ours(docker_client)) == 1


def test_heartbeat_reports_gone_workers_and_delete_removes_only_ours(
    orchestrator: OrchestratorProcess, docker_client: docker.DockerClient, labels: dict[str, str]
) -> None:
    worker = provision(orchestrator, function="echo").json()["workers"][0]
    stranger = docker_client.containers.run(
        "gateproof/base:bookworm", ["sleep", "60"], detach=True, labels=labels
    )
    beat = httpx.post(
        f"{orchestrator.url}/containers/heartbeat",
        json={"ids": [worker["id"], "nope"]},
        headers=orchestrator.headers,
    ).json()
    assert beat == {"alive": [worker["id"]], "missing": ["nope"]}
    assert (
        httpx.delete(
            f"{orchestrator.url}/containers/{stranger.id}", headers=orchestrator.headers
        ).status_code
        == 404
    )
    assert (
        httpx.delete(
            f"{orchestrator.url}/containers/{worker['id']}", headers=orchestrator.headers
        ).status_code
        == 204
    )
    assert ours(docker_client) == []
    stranger.reload()
    assert stranger.status == "running"


def test_startup_removes_leftovers_with_its_label_and_nothing_else(
    orchestrator_factory, docker_client: docker.DockerClient, labels: dict[str, str]
) -> None:
    def sleeper(extra: dict[str, str]):
        return docker_client.containers.run(
            "gateproof/base:bookworm", ["sleep", "60"], detach=True, labels={**labels, **extra}
        )

    leftover = sleeper({LABEL: "itest-cleanup"})
    stopped_leftover = sleeper({LABEL: "itest-cleanup"})
    stopped_leftover.stop(timeout=0)
    other_instance = sleeper({LABEL: "someone-else"})
    unlabelled = sleeper({})  # only the suite's own label: not the orchestrator's

    orchestrator_factory(instance="itest-cleanup")

    remaining = {c.id for c in docker_client.containers.list(all=True)}
    assert leftover.id not in remaining and stopped_leftover.id not in remaining
    assert other_instance.id in remaining
    assert unlabelled.id in remaining


def test_idle_containers_are_stopped_unless_heartbeats_keep_them(
    orchestrator_factory, docker_client: docker.DockerClient
) -> None:
    orchestrator = orchestrator_factory(idle_timeout=4, reap_interval=0.25)
    kept, idle = provision(orchestrator, function="echo", count=2).json()["workers"]
    stop = threading.Event()

    def heartbeat() -> None:  # its own thread: a slow docker listing must not delay it
        while not stop.wait(0.2):
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    f"{orchestrator.url}/containers/heartbeat",
                    json={"ids": [kept["id"]]},
                    headers=orchestrator.headers,
                )

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    try:
        deadline = time.monotonic() + 40
        while idle["name"] in {c.name for c in ours(docker_client)}:
            assert time.monotonic() < deadline, "an idle container outlived idle_timeout"
            time.sleep(0.25)
        assert kept["name"] in {c.name for c in ours(docker_client)}
    finally:
        stop.set()
        beating.join(5)


@pytest.mark.slow
def test_the_orchestrator_image_provisions_through_the_mounted_socket(
    images: None, docker_client: docker.DockerClient, labels: dict[str, str]
) -> None:
    from reference.orchestrator.local import free_port

    port = free_port()
    manager = docker_client.containers.run(
        "gateproof/orchestrator:latest",
        ["python3", "-m", "reference.orchestrator", "--host", "127.0.0.1", "--port", str(port)],
        detach=True,
        name=f"gp-orchestrator-{port}",
        labels=labels,
        network_mode="host",  # its 127.0.0.1 is the host's: it reaches the published ports
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        environment={
            "GATEPROOF_ORCHESTRATOR_INSTANCE": "itest-image",
            "GATEPROOF_ORCHESTRATOR_EXTRA_LABELS": json.dumps(labels),
            "GATEPROOF_ORCHESTRATOR_TOKEN": "image-token",
        },
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health").is_success:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                manager.reload()
                pytest.fail(f"orchestrator image never answered: {manager.logs()[-800:]!r}")
            time.sleep(0.2)
    stranger = httpx.post(f"{url}/containers/provision", json={"function": "echo"}, timeout=60)
    assert stranger.status_code == 401, stranger.text
    answer = httpx.post(
        f"{url}/containers/provision",
        json={"function": "echo"},
        timeout=60,
        headers={"Authorization": "Bearer image-token"},
    )
    assert answer.status_code == 200, answer.text
    worker = answer.json()["workers"][0]
    assert docker_client.containers.get(worker["id"]).labels[LABEL] == "itest-image"
    reply = httpx.post(f"http://127.0.0.1:{worker['port']}{INVOKE}", json={"from": "image"})
    assert reply.json() == {"from": "image"}
