"""coldpool: a worker pool with cold starts, acquire timeouts and an idle reaper."""

from coldpool.pool import PoolTimeout, Worker, WorkerPool, sleepy_spawner

__all__ = ["PoolTimeout", "Worker", "WorkerPool", "sleepy_spawner"]
