"""`gateproof bench docker`: containers and Redis beside their in-process baselines.

Three figures in one run, everything on 127.0.0.1:

* **cold start**: orchestrator provision request to the first successful
  invocation, over N fresh containers (p99 of 20 samples is close to the max);
* **warm invocation**: acquire, POST, release of a warm ``echo`` worker,
  through the Docker backend versus the process backend;
* **rate limiter**: token bucket decisions per second against a real Redis
  (one client, sequential; and 16 concurrent) versus the in-memory bucket.

Needs an engine and the images (``gateproof docker up && gateproof images``).
Every container it makes is labelled ``org.gateproof.suite=bench`` and removed
at the end, also after an error.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gateproof.cli import EnvironmentProblem

if TYPE_CHECKING:
    import httpx

SUITE = "bench"
INVOKE = "/2015-03-31/functions/function/invocations"


def register(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser(
        "docker",
        help="cold start p50/p99, warm invocation docker vs process, Redis vs in-memory limiter",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--containers", type=int, default=20, help="cold starts measured (20)")
    parser.add_argument("--calls", type=int, default=500, help="warm invocations per backend")
    parser.add_argument("--decisions", type=int, default=5000, help="limiter decisions per store")
    parser.set_defaults(func=run)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _ms(samples: list[float]) -> str:
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    return f"p50 {p50:8.2f} ms   p99 {p99:8.2f} ms"


async def _invoke_until_ok(client: httpx.AsyncClient, url: str, deadline: float) -> None:
    import asyncio

    import httpx

    while True:
        try:
            if (await client.post(url + INVOKE, content=b"{}")).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.005)


async def cold_starts(orchestrator_url: str, count: int, token: str) -> list[float]:
    import httpx

    from reference.gateway.services.orchestrator_client import ProvisionClient

    samples = []
    async with (
        ProvisionClient(orchestrator_url, token=token) as provisioner,
        httpx.AsyncClient(trust_env=False, timeout=30) as client,
    ):
        for _ in range(count):
            started = time.monotonic()
            (worker,) = await provisioner.provision("echo", 1, env={"GATEPROOF_FUNCTION": "echo"})
            await _invoke_until_ok(client, worker.url, started + 60)
            samples.append(time.monotonic() - started)
            await provisioner.delete(worker.id)
    return samples


async def warm_calls(backend: object, calls: int) -> list[float]:
    import httpx

    samples = []
    async with backend as pool, httpx.AsyncClient(trust_env=False, timeout=30) as client:  # type: ignore[attr-defined]
        for index in range(calls + 20):
            started = time.perf_counter()
            worker = await pool.acquire_worker("echo")
            response = await client.post(worker.url + INVOKE, content=b'{"n":1}')
            await pool.release_worker("echo", worker)
            if response.status_code != 200:
                raise RuntimeError(f"warm call failed: {response.status_code} {response.text}")
            if index >= 20:  # the first calls warm connections up
                samples.append(time.perf_counter() - started)
    return samples


async def decisions_per_second(
    hit: Callable[[], Awaitable[object]], count: int, concurrency: int = 1
) -> float:
    import asyncio

    async def worker(share: int) -> None:
        for _ in range(share):
            await hit()

    started = time.perf_counter()
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
    return (count // concurrency * concurrency) / (time.perf_counter() - started)


def _ratio(candidate: float, baseline: float) -> str:
    return f"{candidate / baseline:8.2f}x" if baseline else "     n/a"


async def _run(args: argparse.Namespace, orchestrator_url: str, token: str, redis_url: str) -> None:
    from reference.gateway.backends.docker import DockerBackend
    from reference.gateway.backends.process import ProcessBackend
    from reference.gateway.models import FunctionEntity, ScalingConfig
    from reference.gateway.services.token_bucket import (
        MemoryBuckets,
        RedisBuckets,
        Tier,
        redis_client,
    )

    print(f"cold start, provision -> first successful call, {args.containers} containers")
    cold = await cold_starts(orchestrator_url, args.containers, token)
    print(f"  docker (orchestrator)   {_ms(cold)}")

    echo = FunctionEntity(
        name="echo",
        environment={"GATEPROOF_FUNCTION": "echo"},
        scaling=ScalingConfig(max_capacity=1, min_capacity=1, acquire_timeout=30),
    )
    functions = {"echo": echo}
    print(f"warm invocation (acquire + POST + release), {args.calls} calls, one worker")
    docker_warm = await warm_calls(
        DockerBackend(functions, orchestrator_url=orchestrator_url, adopt=False, token=token),
        args.calls,
    )
    process_warm = await warm_calls(ProcessBackend(functions), args.calls)
    print(f"  docker backend          {_ms(docker_warm)}")
    print(f"  process backend         {_ms(process_warm)}")
    p50 = _ratio(percentile(docker_warm, 50), percentile(process_warm, 50))
    p99 = _ratio(percentile(docker_warm, 99), percentile(process_warm, 99))
    print(f"  ratio docker/process    p50 {p50}   p99 {p99}")

    tiers = {"bench": Tier(rate=1e9, burst=1_000_000_000)}
    memory = MemoryBuckets(tiers)
    redis_store = RedisBuckets(redis_client(redis_url, timeout=2.0), tiers, timeout=2.0)
    await redis_store.hit("bench", "warmup")
    n = args.decisions
    memory_rate = await decisions_per_second(lambda: memory.hit("bench", "c"), n * 10)
    redis_rate = await decisions_per_second(lambda: redis_store.hit("bench", "c"), n)
    redis_concurrent = await decisions_per_second(lambda: redis_store.hit("bench", "c"), n, 16)
    await redis_store.aclose()
    print(f"rate limiter decisions/s ({n} against Redis, {n * 10} in memory)")
    print(f"  in-memory bucket        {memory_rate:12,.0f} /s")
    ratio = _ratio(redis_rate, memory_rate)
    print(f"  redis, sequential       {redis_rate:12,.0f} /s   ratio {ratio}")
    print(
        f"  redis, 16 concurrent    {redis_concurrent:12,.0f} /s   "
        f"ratio {_ratio(redis_concurrent, memory_rate)}"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    import docker

    from gateproof.docker.engine import EngineUnavailableError, ensure_engine
    from gateproof.docker.images import IMAGE_NAMES, BuildError, build_all
    from gateproof.docker.redis_server import RedisServer
    from reference.orchestrator.cleanup import SUITE_LABEL, remove_labelled, suite_labels
    from reference.orchestrator.local import OrchestratorProcess

    try:
        ensure_engine(allow_start=False)
        build_all(IMAGE_NAMES, log=lambda line: None)
    except (EngineUnavailableError, BuildError) as error:
        raise EnvironmentProblem(str(error)) from None
    client = docker.from_env()
    labels = suite_labels(SUITE)
    remove_labelled(client, SUITE_LABEL, SUITE)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="gateproof-bench-") as tmp,
            OrchestratorProcess(
                instance="bench", labels=labels, log_path=Path(tmp) / "orchestrator.log"
            ) as orchestrator,
            RedisServer(labels) as redis_server,
        ):
            asyncio.run(_run(args, orchestrator.url, orchestrator.token, redis_server.url))
    finally:
        with contextlib.suppress(Exception):
            remove_labelled(client, SUITE_LABEL, SUITE)
        client.close()
    return 0
