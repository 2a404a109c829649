"""coldpool's own tests, as its authors run them: real sleeps, real timeouts.

About 45 s of waiting per run on a real clock, most of it in the burst test.
The last two tests fail on every run: they pin down known defects.
"""

import asyncio

import pytest
from coldpool import PoolTimeout, Worker, WorkerPool, sleepy_spawner


@pytest.fixture
async def pool():
    pool = WorkerPool("resize", sleepy_spawner(2.0), max_size=2, acquire_timeout=5.0, idle_ttl=4.0)
    yield pool
    await pool.close()


async def test_a_released_worker_is_reused(pool):
    worker = await pool.acquire()
    pool.release(worker)

    assert await pool.acquire() is worker


async def test_a_cold_start_takes_the_spawn_delay(pool):
    loop = asyncio.get_running_loop()
    started = loop.time()

    await pool.acquire()

    assert loop.time() - started >= 2.0


async def test_acquire_times_out_when_every_worker_is_busy(pool):
    await pool.acquire()
    await pool.acquire()

    with pytest.raises(PoolTimeout, match="within 5 s"):
        await pool.acquire()
    assert pool.stats()["waiting"] == 0


async def test_a_cold_start_slower_than_the_timeout_fails_the_caller():
    pool = WorkerPool("ocr", sleepy_spawner(3.0), max_size=1, acquire_timeout=1.0)

    with pytest.raises(PoolTimeout, match="cold start"):
        await pool.acquire()
    assert pool.stats()["starting"] == 0


async def test_idle_workers_are_reaped_after_their_ttl(pool):
    pool.start_reaper()
    worker = await pool.acquire()
    pool.release(worker)

    await asyncio.sleep(6.5)

    assert pool.stats() == {"size": 0, "idle": 0, "starting": 0, "waiting": 0}


async def test_a_burst_is_served_within_the_timeouts():
    pool = WorkerPool("thumbnail", sleepy_spawner(4.0), max_size=3, acquire_timeout=12.0)
    served: list[int] = []

    async def call(number: int, seconds: float) -> None:
        worker = await pool.acquire()
        served.append(number)
        await asyncio.sleep(seconds)  # the call itself
        pool.release(worker)

    # six callers on three workers: three cold starts, three waiting their turn
    await asyncio.gather(*(call(n, 3.0) for n in range(6)))
    # a second burst on warm workers, longer calls
    await asyncio.gather(*(call(n, 5.0) for n in range(6, 12)))
    # one caller too many for a pool busy longer than its patience
    busy = [asyncio.create_task(call(n, 14.0)) for n in range(12, 15)]
    await asyncio.sleep(0)
    with pytest.raises(PoolTimeout):
        await pool.acquire()
    await asyncio.gather(*busy)

    assert sorted(served) == list(range(15))
    assert pool.stats()["idle"] == 3


async def test_stats_count_workers_still_cold_starting(pool):
    starting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(1.0)

    assert pool.stats()["size"] == 1, "a cold-starting worker is part of the pool"
    await starting


async def test_releasing_a_worker_the_pool_never_spawned_is_refused(pool):
    with pytest.raises(ValueError):
        pool.release(Worker("stranger"))
