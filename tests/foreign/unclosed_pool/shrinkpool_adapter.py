"""gateproof's pool suite, pointed at shrinkpool: --pool-impl shrinkpool_adapter:make_pool."""

from shrinkpool import Worker, WorkerPool

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
