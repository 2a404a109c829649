"""fifopool: workers handed out in arrival order, on asyncio.Condition."""

from fifopool.pool import PoolClosed, Worker, WorkerPool

__all__ = ["PoolClosed", "Worker", "WorkerPool"]
