"""shrinkpool: fifopool's shape, with a drain that shrinks the pool instead of closing it."""

from shrinkpool.pool import PoolDrained, Worker, WorkerPool

__all__ = ["PoolDrained", "Worker", "WorkerPool"]
