"""gateproof's pool suite, pointed at asyncpool: --pool-impl asyncpool_adapter:make_pool."""

from asyncpool import ContainerPool, Worker

from gateproof.testing.pool_adapter import adapter


@adapter(
    clock="patched",  # the pool reads time.time() itself
    provision_returns="list",  # acquire(provision_callback) wants a list of workers
    adopt_takes="one",
    make_worker=lambda number: Worker(container_id=f"c{number}"),
    methods={"prune_idle": "prune_idle_workers"},
)
def make_pool(function, config, provision, *, clock):
    return ContainerPool(
        function,
        max_capacity=config.max_capacity,
        min_capacity=config.min_capacity,
        acquire_timeout=config.acquire_timeout,
        idle_timeout=config.idle_timeout,
    )
