"""gateproof's pool suite, pointed at fifopool: --pool-impl fifopool_adapter:make_pool."""

from fifopool import Worker, WorkerPool

from gateproof.testing.pool_adapter import adapter


@adapter(clock="patched", make_worker=lambda number: Worker(f"w{number}"))
def make_pool(function, config, provision, *, clock):
    return WorkerPool(
        provision,
        size=config.max_capacity,
        warm=config.min_capacity,
        acquire_timeout=config.acquire_timeout,
        idle_timeout=config.idle_timeout,
    )
