"""Targets a load run starts and stops itself: the reference or legacy gateway, or on Docker.

Each target is a context manager that writes the scenario's functions as the
gateway's own ``functions.yml`` and ``routing.yml``, starts the gateway as a
child process in its own process group on 127.0.0.1, waits until its pools
are warm, and on the way out stops it (SIGINT, then SIGKILL) and checks that
no worker process or container outlived it. ``--host`` runs need none of this.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loadtests.child_output import drain_lines, local_child_env, wait_for_port
from loadtests.plan import runtime_environment
from scenarios.schema import Scenario

__all__ = ["TARGETS", "Gateway", "TargetError", "die_with_parent", "gateway_config", "start_target"]

TARGETS = ("local", "legacy", "docker")
START_LIMIT_S = 120.0  # cold starts of a whole warm pool on a busy machine
_READY = re.compile(r"(?:gateway on|Uvicorn running on) http://127\.0\.0\.1:(\d+)")
_STOP_GRACE_S = 15.0


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None, use_errno=True).prctl
    return None


_prctl = _load_prctl()  # looked up now: nothing may take a lock between fork and exec
_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGINT) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``signum`` when this process dies (``kill -9`` too).

    SIGINT, so a gateway stops its workers and Locust writes its reports even
    when the run that started them was killed (Linux; elsewhere a no-op).
    """
    parent = os.getpid()

    def prepare() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return prepare


class TargetError(RuntimeError):
    """The target could not be started or stopped cleanly; the message says why."""


@dataclass
class Gateway:
    """A running gateway: its URL, its process and (for Docker) its orchestrator's instance."""

    url: str
    process: subprocess.Popen[bytes]
    kind: str
    workdir: Path
    instance: str | None = None
    leftovers: list[str] = field(default_factory=list)  # workers or containers it left behind

    def status(self) -> dict[str, Any] | None:
        """``/api/gateway/status`` (pools and breakers), or None if it does not answer."""
        import httpx

        with contextlib.suppress(httpx.HTTPError, ValueError):
            reply = httpx.get(f"{self.url}/api/gateway/status", timeout=5, trust_env=False)
            if reply.status_code == 200:
                return reply.json()
        return None

    def worker_pids(self) -> list[int]:
        """The runtime worker processes below the gateway (process backend)."""
        import psutil

        pids = []
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "reference.runtime" in " ".join(child.cmdline()):
                        pids.append(child.pid)
        return pids


def gateway_config(scenario: Scenario) -> tuple[str, str]:
    """The scenario's functions as ``functions.yml`` and its routed paths as ``routing.yml``."""
    functions = {
        name: {
            "image": "gateproof/runtime:latest",
            "timeout_seconds": spec.timeout_seconds,
            "scaling": spec.scaling.model_dump(),
            "environment": runtime_environment(scenario, name),
        }
        for name, spec in scenario.functions.items()
    }
    routes = [
        {"path": load.path, "method": load.method.upper(), "function": name}
        for name, load in scenario.workload.items()
        if load.path is not None
    ]
    return yaml.safe_dump({"functions": functions}), yaml.safe_dump({"routes": routes})


def _gateway_env(scenario: Scenario, workdir: Path, **extra: str) -> dict[str, str]:
    """The gateway's environment: the scenario's breaker and janitor, and no proxy."""
    env = local_child_env()
    env["GATEPROOF_FUNCTIONS_FILE"] = str(workdir / "functions.yml")
    env["GATEPROOF_ROUTING_FILE"] = str(workdir / "routing.yml")
    env["GATEPROOF_WORKER_READY_TIMEOUT"] = "60"
    env["GATEPROOF_PRUNE_INTERVAL"] = f"{scenario.janitor_interval:g}"
    if scenario.breaker is not None:
        for key, value in scenario.breaker.model_dump().items():
            env[f"GATEPROOF_BREAKER__{key.upper()}"] = str(value)
    env.update(extra)
    return env


@contextlib.contextmanager
def start_target(kind: str, scenario: Scenario, out: Path) -> Iterator[Gateway]:
    """Start ``kind`` (local, legacy, docker) for ``scenario``; its access log goes to ``out``."""
    if kind not in TARGETS:
        raise ValueError(f"unknown target {kind!r}; choose one of {', '.join(TARGETS)}")
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gateproof-load-")))
        functions, routing = gateway_config(scenario)
        (workdir / "functions.yml").write_text(functions)
        (workdir / "routing.yml").write_text(routing)
        extra: dict[str, str] = {}
        instance = None
        leftovers: list[str] = []
        if kind == "docker":
            instance = f"gateproof-load-{uuid.uuid4().hex[:8]}"
            orchestrator = _start_orchestrator(instance, out)
            stack.callback(lambda: leftovers.extend(_remove_containers(instance)))
            stack.callback(orchestrator.stop)
            extra = {
                "GATEPROOF_BACKEND": "docker",
                "GATEPROOF_DOCKER_ORCHESTRATOR_URL": orchestrator.url,
                # the token this orchestrator serves; never printed (the gateway's env only)
                "GATEPROOF_DOCKER_ORCHESTRATOR_TOKEN": orchestrator.token,
            }
        if kind == "legacy":
            argv = [sys.executable, "-m", "uvicorn", "reference.legacy.main:app"]
            argv += ["--host", "127.0.0.1", "--port", "0", "--no-access-log"]
        else:
            argv = [sys.executable, "-m", "gateproof", "serve", "--port", "0"]
        env = _gateway_env(scenario, workdir, **extra)
        access_log = (out / "access.jsonl").open("wb")
        stack.callback(access_log.close)
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=access_log,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        gateway = Gateway("", process, kind, workdir, instance, leftovers)
        stack.callback(_stop, gateway)
        port = _wait_for_port(process, out / "gateway.log")
        gateway.url = f"http://127.0.0.1:{port}"
        _wait_healthy(gateway)
        yield gateway


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    assert process.stderr is not None
    port, seen = wait_for_port(drain_lines(process.stderr, log=log), _READY, START_LIMIT_S)
    if port is not None:
        return port
    tail = "\n  ".join(seen[-8:]) or "(no output)"
    raise TargetError(
        f"the gateway did not start within {START_LIMIT_S:g} s (exit status "
        f"{process.poll()}):\n  {tail}"
    )


def _wait_healthy(gateway: Gateway) -> None:
    """Wait until every pool holds its ``min_capacity`` (``/health`` answers 200)."""
    import httpx

    deadline = time.monotonic() + START_LIMIT_S
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if gateway.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{gateway.url}/health").status_code == 200:
                    return
            time.sleep(0.1)
    raise TargetError(
        f"the {gateway.kind} gateway on {gateway.url} was not healthy within "
        f"{START_LIMIT_S:g} s (see gateway.log in the output directory)"
    )


def _stop(gateway: Gateway) -> None:
    """Stop the gateway and its workers; record any worker that outlived it, and kill it."""
    import psutil

    process = gateway.process
    workers = []
    with contextlib.suppress(psutil.Error):
        workers = [psutil.Process(pid) for pid in gateway.worker_pids()]
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # the gateway stops its workers itself
        try:
            process.wait(_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    _, alive = psutil.wait_procs(workers, timeout=5)
    for worker in alive:
        gateway.leftovers.append(f"runtime process {worker.pid}")
        with contextlib.suppress(psutil.Error):
            worker.kill()
    if process.stderr is not None:
        process.stderr.close()


def _start_orchestrator(instance: str, out: Path) -> Any:
    from reference.orchestrator.cleanup import suite_labels
    from reference.orchestrator.local import OrchestratorProcess

    orchestrator = OrchestratorProcess(
        instance=instance, labels=suite_labels("load"), log_path=out / "orchestrator.log"
    )
    try:
        return orchestrator.start()
    except RuntimeError as error:
        raise TargetError(
            f"{error}; is a Docker engine up and the runtime image built? "
            f"(gateproof docker up && gateproof images)"
        ) from None


def _remove_containers(instance: str) -> list[str]:
    """Force-remove the run's containers, and name them: a drained gateway leaves none."""
    import docker

    from reference.orchestrator.cleanup import remove_labelled
    from reference.orchestrator.settings import LABEL

    client = docker.from_env()
    try:
        return remove_labelled(client, LABEL, instance)
    finally:
        client.close()


def containers_of(instance: str) -> list[str]:
    """The names of the run's containers still running (the chaos run kills among them)."""
    import docker

    from reference.orchestrator.settings import LABEL

    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(filters={"label": f"{LABEL}={instance}"})]
    finally:
        client.close()
