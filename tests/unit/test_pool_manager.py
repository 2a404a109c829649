"""PoolManager: one pool per function, addressed by name."""

from __future__ import annotations

import pytest

from reference.gateway.models.scaling import ScalingConfig
from reference.gateway.services.pool import PoolManager, UnknownFunctionError


def counting_provisioner() -> tuple[PoolManager[str], dict[str, int]]:
    made: dict[str, int] = {}

    async def provision(function: str) -> str:
        made[function] = made.get(function, 0) + 1
        return f"{function}-{made[function]}"

    return PoolManager(provision), made


async def test_an_unknown_function_is_an_error_that_lists_the_known_ones():
    manager, _ = counting_provisioner()
    manager.add("echo", ScalingConfig())
    manager.add("sleep", ScalingConfig())

    with pytest.raises(UnknownFunctionError) as raised:
        await manager.acquire("nope")

    message = str(raised.value)
    assert "'nope'" in message
    assert "echo, sleep" in message
    assert isinstance(raised.value, KeyError)


def test_a_function_can_be_added_once():
    manager, _ = counting_provisioner()
    manager.add("echo", ScalingConfig())

    with pytest.raises(ValueError, match="already has a pool"):
        manager.add("echo", ScalingConfig(max_capacity=9))
    assert manager.pool("echo").config.max_capacity == 5


async def test_each_function_gets_workers_from_its_own_pool():
    manager, made = counting_provisioner()
    manager.add("echo", ScalingConfig(max_capacity=1))
    manager.add("sleep", ScalingConfig(max_capacity=1))

    echo = await manager.acquire("echo")
    sleep = await manager.acquire("sleep")  # echo's full pool does not block it

    assert (echo, sleep) == ("echo-1", "sleep-1")
    manager.release("echo", echo)
    assert await manager.acquire("echo") == "echo-1"
    assert made == {"echo": 1, "sleep": 1}


async def test_start_provisions_every_pools_min_capacity_and_drain_returns_every_worker():
    manager, made = counting_provisioner()
    manager.add("echo", ScalingConfig(min_capacity=2, max_capacity=3))
    manager.add("cpu", ScalingConfig(min_capacity=1, max_capacity=1))
    manager.add("cold", ScalingConfig(min_capacity=0))

    await manager.start()
    busy = await manager.acquire("echo")
    drained = await manager.drain()

    assert made == {"echo": 2, "cpu": 1}
    assert sorted(drained["echo"]) == ["echo-1", "echo-2"] and busy in drained["echo"]
    assert drained["cpu"] == ["cpu-1"]
    assert drained["cold"] == []
    assert all(manager.pool(name).closed for name in manager.functions)


async def test_stats_report_each_pool_by_name():
    manager, _ = counting_provisioner()
    manager.add("echo", ScalingConfig(max_capacity=4))
    manager.add("sleep", ScalingConfig(max_capacity=2))
    held = await manager.acquire("echo")
    idle = await manager.acquire("echo")
    manager.release("echo", idle)

    stats = manager.stats()

    assert set(stats) == {"echo", "sleep"}
    assert (stats["echo"].idle, stats["echo"].busy, stats["echo"].total) == (1, 1, 2)
    assert stats["echo"].max_capacity == 4
    assert stats["sleep"].total == 0
    manager.release("echo", held)


async def test_evict_and_prune_go_to_the_named_pool():
    manager, _ = counting_provisioner()
    manager.add("echo", ScalingConfig(max_capacity=2, idle_timeout=10.0))
    worker = await manager.acquire("echo")
    other = await manager.acquire("echo")
    manager.release("echo", other)

    assert manager.evict("echo", worker) is True
    assert manager.evict("echo", worker) is False
    now = manager.pool("echo").now()
    assert manager.prune_idle(now + 10.0) == {"echo": [other]}
