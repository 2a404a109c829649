"""ProcessBackend: runtime subprocesses as workers, and none left behind, ever."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from gateproof.testing.processes import assert_no_runtime_left, runtime_children
from reference.gateway.backends.base import InvocationBackend, WorkerInfo
from reference.gateway.backends.process import ProcessBackend, WorkerStartError
from reference.gateway.models import FunctionEntity, ScalingConfig
from reference.gateway.services.pool import UnknownFunctionError, WorkerNotCheckedOutError
from reference.runtime import INVOKE_PATH

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_LIMIT_S = 30.0  # a hang-stopper: how long a killed process may take to be gone


READY_S = (
    60.0  # readiness and acquire deadlines as hang-stoppers: spawns on a busy machine are slow
)


def entity(name: str, function: str = "echo", **scaling: float) -> FunctionEntity:
    env = {"GATEPROOF_FUNCTION": function}
    scaling = {"acquire_timeout": READY_S, **scaling}
    return FunctionEntity(name=name, environment=env, scaling=ScalingConfig(**scaling))


def process_backend(functions: dict[str, FunctionEntity], **options: Any) -> ProcessBackend:
    """A backend whose readiness deadline only stops a hang, unless a test sets its own."""
    return ProcessBackend(functions, **{"ready_timeout": READY_S, **options})


def gone(pids: Iterable[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


async def wait_until_gone(pids: Iterable[int], limit: float = EXIT_LIMIT_S) -> bool:
    pids = list(pids)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if gone(pids):
            return True
        await asyncio.sleep(0.05)
    return gone(pids)


@pytest.fixture(autouse=True)
def no_runtime_left_behind() -> Iterator[None]:
    yield
    assert_no_runtime_left()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def invoke(http: httpx.AsyncClient, worker: WorkerInfo, body: bytes) -> httpx.Response:
    return await http.post(worker.url + INVOKE_PATH, content=body)


async def test_a_provisioned_worker_answers_an_echo_invocation(client: httpx.AsyncClient) -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        assert isinstance(backend, InvocationBackend)
        worker = await backend.acquire_worker("echo")
        assert worker.url.startswith("http://127.0.0.1:")
        response = await invoke(client, worker, b'{"hello": "worker"}')
        await backend.release_worker("echo", worker)
    assert response.status_code == 200
    assert response.json() == {"hello": "worker"}


async def test_the_function_environment_picks_the_worker_behaviour_not_the_gateway_env(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEPROOF_FUNCTION", "fail")  # must not leak into workers
    functions = {
        "plain": FunctionEntity(name="plain"),
        "broken": entity("broken", "fail"),
    }
    async with process_backend(functions) as backend:
        plain = await backend.acquire_worker("plain")
        broken = await backend.acquire_worker("broken")
        assert (await invoke(client, plain, b'{"a":1}')).json() == {"a": 1}
        assert (await invoke(client, broken, b"{}")).json()["errorType"] == "InjectedFailure"
        await backend.release_worker("plain", plain)
        await backend.release_worker("broken", broken)


async def test_a_released_worker_is_reused_not_respawned() -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        first = await backend.acquire_worker("echo")
        await backend.release_worker("echo", first)
        second = await backend.acquire_worker("echo")
        await backend.release_worker("echo", second)
        assert second is first
        assert len(backend.child_pids()) == 1


async def test_min_capacity_workers_are_running_before_the_first_call() -> None:
    async with process_backend({"echo": entity("echo", min_capacity=2)}) as backend:
        pids = backend.child_pids()
        assert len(pids) == 2
        assert backend.pools.stats()["echo"].idle == 2
    assert await wait_until_gone(pids)


async def test_a_worker_that_died_while_idle_is_evicted_and_replaced() -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        dead = await backend.acquire_worker("echo")
        await backend.release_worker("echo", dead)
        os.kill(dead.meta["pid"], signal.SIGKILL)
        assert await wait_until(lambda: not backend.is_alive(dead))

        fresh = await backend.acquire_worker("echo")

        assert fresh is not dead
        assert backend.is_alive(fresh)
        assert backend.pools.stats()["echo"].total == 1
        await backend.release_worker("echo", fresh)


async def test_a_worker_that_died_during_a_call_is_evicted_on_release() -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        worker = await backend.acquire_worker("echo")
        os.kill(worker.meta["pid"], signal.SIGKILL)
        assert await wait_until(lambda: not backend.is_alive(worker))

        await backend.release_worker("echo", worker)

        stats = backend.pools.stats()["echo"]
        assert (stats.idle, stats.busy) == (0, 0)
        with pytest.raises(WorkerNotCheckedOutError):
            await backend.release_worker("echo", worker)


async def test_a_crashed_worker_is_evicted_by_the_caller_and_its_process_is_gone(
    client: httpx.AsyncClient,
) -> None:
    functions = {"crashy": entity("crashy", "fail")}
    async with process_backend(functions) as backend:
        worker = await backend.acquire_worker("crashy")
        with pytest.raises(httpx.TransportError):
            await invoke(client, worker, b'{"fail_mode": "crash"}')
        await backend.evict_worker("crashy", worker)
        assert not backend.is_alive(worker)
        assert backend.pools.stats()["crashy"].total == 0


async def test_evicting_a_worker_kills_its_process() -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        worker = await backend.acquire_worker("echo")
        pid = worker.meta["pid"]
        await backend.evict_worker("echo", worker)
        assert await wait_until_gone([pid])
        assert backend.child_pids() == []


@pytest.mark.timeout(120)  # a hang-stopper only: the verdict is the behaviour
async def test_a_worker_that_never_becomes_ready_fails_within_the_deadline_and_is_killed() -> None:
    slow = FunctionEntity(
        name="slow",
        environment={"GATEPROOF_COLD_START_MS": "60000"},
        scaling=ScalingConfig(acquire_timeout=30),
    )
    async with process_backend({"slow": slow}, ready_timeout=0.8) as backend:
        # the readiness deadline, not the 30 s acquire_timeout nor the 60 s cold start, ended it
        with pytest.raises(WorkerStartError, match=r"not ready within 0\.8s"):
            await backend.acquire_worker("slow")
        assert backend.child_pids() == []
        assert runtime_children() == []
        assert backend.pools.stats()["slow"].total == 0


async def test_a_worker_that_exits_before_it_is_ready_reports_its_exit_status() -> None:
    broken = FunctionEntity(name="broken", environment={"GATEPROOF_FUNCTION": "no-such"})
    async with process_backend({"broken": broken}) as backend:
        with pytest.raises(WorkerStartError, match="exited with status 2"):
            await backend.acquire_worker("broken")
        assert backend.child_pids() == []


async def test_a_warm_worker_that_cannot_start_fails_the_backend_start_and_leaves_nothing() -> None:
    broken = FunctionEntity(
        name="broken",
        environment={"GATEPROOF_FUNCTION": "no-such"},
        scaling=ScalingConfig(min_capacity=2, max_capacity=2),
    )
    backend = process_backend({"broken": broken, "echo": entity("echo", min_capacity=1)})
    with pytest.raises(WorkerStartError):
        async with backend:
            pass
    assert backend.child_pids() == []
    assert runtime_children() == []


async def test_an_unknown_function_is_refused_without_spawning() -> None:
    async with process_backend({"echo": entity("echo")}) as backend:
        with pytest.raises(UnknownFunctionError):
            await backend.acquire_worker("nope")
        assert backend.child_pids() == []


async def test_leaving_the_backend_kills_every_child_busy_or_idle() -> None:
    async with process_backend({"echo": entity("echo", max_capacity=3)}) as backend:
        workers = await asyncio.gather(*(backend.acquire_worker("echo") for _ in range(3)))
        await backend.release_worker("echo", workers[0])
        pids = backend.child_pids()
        assert len(set(pids)) == 3
    assert await wait_until_gone(pids)
    assert backend.child_pids() == []


async def test_leaving_while_a_worker_is_still_starting_kills_it_too() -> None:
    slow = FunctionEntity(name="slow", environment={"GATEPROOF_COLD_START_MS": "60000"})
    backend = process_backend({"slow": slow}, ready_timeout=60)
    async with backend:
        waiting = asyncio.create_task(backend.acquire_worker("slow"))
        assert await wait_until(lambda: len(backend.child_pids()) == 1)
        pids = backend.child_pids()
    with pytest.raises(Exception):  # noqa: B017 - the pool fails the waiter as it drains
        await waiting
    assert await wait_until_gone(pids)


async def test_prune_idle_kills_workers_idle_past_their_timeout() -> None:
    config = {"echo": entity("echo", max_capacity=2, idle_timeout=5)}
    async with process_backend(config) as backend:
        first, second = await asyncio.gather(*(backend.acquire_worker("echo") for _ in range(2)))
        await backend.release_worker("echo", first)
        now = asyncio.get_running_loop().time()
        assert await backend.prune_idle(now) == []
        pruned = await backend.prune_idle(now + 6)
        assert pruned == [first]
        assert await wait_until_gone([first.meta["pid"]])
        assert backend.is_alive(second)
        await backend.release_worker("echo", second)


def test_workers_start_serve_and_die_under_uvloop_as_under_uvicorn() -> None:
    import uvloop

    async def scenario() -> tuple[int, list[int]]:
        async with process_backend({"echo": entity("echo")}) as backend:
            worker = await backend.acquire_worker("echo")
            assert os.getpgid(worker.meta["pid"]) == worker.meta["pid"]  # leads its own group
            async with httpx.AsyncClient(timeout=10) as http:
                response = await invoke(http, worker, b'{"loop": "uvloop"}')
            await backend.release_worker("echo", worker)
            return response.status_code, backend.child_pids()

    status, pids = uvloop.run(scenario())
    assert status == 200
    assert asyncio.run(wait_until_gone(pids))


PARENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from reference.gateway.backends.process import ProcessBackend
    from reference.gateway.models import FunctionEntity, ScalingConfig

    async def main():
        functions = {"echo": FunctionEntity(name="echo", scaling=ScalingConfig(max_capacity=2))}
        backend = ProcessBackend(functions, ready_timeout=60)
        await backend.__aenter__()
        workers = [await backend.acquire_worker("echo") for _ in range(2)]
        print(" ".join(str(w.meta["pid"]) for w in workers), flush=True)
        await asyncio.sleep(120)

    if sys.argv[1] == "uvloop":
        import uvloop
        uvloop.run(main())
    else:
        asyncio.run(main())
    """
)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_kill_9_of_the_gateway_process_leaves_no_worker(tmp_path: Path, loop: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT)
    parent = subprocess.Popen(
        [sys.executable, str(script), loop], stdout=subprocess.PIPE, cwd=REPO_ROOT, text=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(pid) for pid in line.split()]
        assert len(pids) == 2 and not gone(pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=EXIT_LIMIT_S)
        assert asyncio.run(wait_until_gone(pids)), "workers outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=EXIT_LIMIT_S)
        if parent.stdout is not None:
            parent.stdout.close()


async def wait_until(condition, limit: float = EXIT_LIMIT_S) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()
