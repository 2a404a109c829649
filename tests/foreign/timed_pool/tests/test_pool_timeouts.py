"""A boundary case of coldpool: callers whose patience runs out as the workers come back."""

import asyncio

from coldpool import PoolTimeout, WorkerPool, sleepy_spawner


async def test_callers_timing_out_as_workers_come_back_leave_every_worker_usable():
    pool = WorkerPool("render", sleepy_spawner(0.5), max_size=3, acquire_timeout=1.0)
    workers = [await pool.acquire() for _ in range(3)]

    async def wait_for_a_worker():
        try:
            return await pool.acquire()
        except PoolTimeout:
            return None

    async def call(worker):
        await asyncio.sleep(1.0)  # as long as a waiting caller's patience
        pool.release(worker)

    got = await asyncio.gather(
        *(wait_for_a_worker() for _ in range(3)), *(call(worker) for worker in workers)
    )
    for worker in got:
        if worker is not None:
            pool.release(worker)

    again = [await pool.acquire() for _ in range(3)]
    assert set(again) == set(workers)
