"""The simulated pool follows the gateway pool's rules, shown on hand-made timelines."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import simpy

from reference.gateway.models.scaling import ScalingConfig
from sim.pool import SimPool


class Caller:
    """A waiter that writes down what happened to it."""

    def __init__(self, env: simpy.Environment, name: str, timeout: float, log: list) -> None:
        self.env, self.name, self.log = env, name, log
        self.deadline = env.now + timeout
        self.worker: int | None = None

    def granted(self, worker: int, fresh: bool) -> None:
        self.worker = worker
        self.log.append((self.env.now, self.name, "got", worker, fresh))

    def timed_out(self) -> None:
        self.log.append((self.env.now, self.name, "timeout"))

    def provision_failed(self) -> None:
        self.log.append((self.env.now, self.name, "provision failed"))


def make_pool(
    env: simpy.Environment,
    cold_starts: list[float],
    *,
    fails: list[bool] | None = None,
    **config: float,
) -> SimPool:
    durations: Iterator[float] = iter(cold_starts)
    failures: Iterator[bool] | None = iter(fails) if fails is not None else None
    provision_fails: Callable[[], bool] | None = (
        (lambda: next(failures)) if failures is not None else None  # type: ignore[arg-type]
    )
    return SimPool(env, ScalingConfig(**config), lambda: next(durations), provision_fails)


def at(env: simpy.Environment, time: float, action: Callable[[], object]) -> None:
    env.timeout(time).callbacks.append(lambda _: action())


def test_an_idle_worker_is_taken_most_recently_released_first() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [], max_capacity=3, min_capacity=3)
    pool.warm(3)
    first = Caller(env, "a", 1, log)
    pool.acquire(first)
    pool.release(first.worker)  # released last: handed out next
    second = Caller(env, "b", 1, log)
    pool.acquire(second)
    assert second.worker == first.worker


def test_waiters_are_served_first_come_first_served_with_no_overtaking() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [], max_capacity=1, min_capacity=1, acquire_timeout=10)
    pool.warm(1)
    holder = Caller(env, "holder", 10, log)
    pool.acquire(holder)
    callers = [Caller(env, name, 10, log) for name in "abc"]
    for caller in callers:
        pool.acquire(caller)
    at(env, 1, lambda: pool.release(holder.worker))
    at(env, 2, lambda: pool.release(callers[0].worker))
    at(env, 3, lambda: pool.release(callers[1].worker))
    env.run()
    assert [entry[1] for entry in log if entry[2] == "got"] == ["holder", "a", "b", "c"]


def test_provisions_start_only_for_uncovered_waiters_and_below_max_capacity() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [1.0] * 10, max_capacity=2, acquire_timeout=10)
    for name in "abc":
        pool.acquire(Caller(env, name, 10, log))
    assert pool.provisioning == 2  # three waiters, room for two
    env.run(until=1.5)
    assert [(entry[1], entry[4]) for entry in log] == [("a", True), ("b", True)]
    assert pool.total == 2 and len(pool.waiters) == 1


def test_the_acquire_timeout_covers_the_cold_start_and_the_provision_serves_the_next_caller():
    env, log = simpy.Environment(), []
    pool = make_pool(env, [3.0], max_capacity=1, acquire_timeout=2)
    pool.acquire(Caller(env, "early", 2, log))
    at(env, 2.5, lambda: pool.acquire(Caller(env, "late", 2, log)))
    env.run()
    assert log == [(2.0, "early", "timeout"), (3.0, "late", "got", 1, True)]
    assert pool.provisions == 1  # the late caller did not start a second cold start


def test_a_provision_nobody_waits_for_parks_its_worker_idle() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [3.0], max_capacity=1, acquire_timeout=1)
    pool.acquire(Caller(env, "a", 1, log))
    env.run()
    assert log == [(1.0, "a", "timeout")]
    assert len(pool.idle) == 1 and pool.idle[0][1] == 3.0


def test_prune_evicts_the_oldest_idle_workers_but_keeps_min_capacity() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [], max_capacity=4, min_capacity=1, idle_timeout=5)
    pool.warm(3)
    callers = [Caller(env, str(i), 1, log) for i in range(3)]
    for caller in callers:
        pool.acquire(caller)
    at(env, 1, lambda: pool.release(callers[0].worker))
    at(env, 2, lambda: pool.release(callers[1].worker))
    at(env, 4, lambda: pool.release(callers[2].worker))
    env.run(until=6.5)
    assert pool.prune_idle() == 1  # idle since 1 s: 5.5 s >= 5
    assert [worker for worker, _ in pool.idle] == [callers[1].worker, callers[2].worker]
    env.run(until=20)
    assert pool.prune_idle() == 1  # the second goes; the third stays for min_capacity
    assert pool.total == 1


def test_a_failed_provision_fails_the_head_waiter_when_provisions_cannot_cover_waiters():
    env, log = simpy.Environment(), []
    pool = make_pool(env, [1.0, 2.0], fails=[True, False], max_capacity=2)
    pool.acquire(Caller(env, "a", 10, log))
    env.run(until=0.5)
    pool.acquire(Caller(env, "b", 10, log))  # two waiters, two provisions
    env.run()
    # at 1.0 one provision is left for two waiters: the head waiter gets the error;
    # the one left covers 'b', so no new provision starts
    assert log == [(1.0, "a", "provision failed"), (2.5, "b", "got", 1, True)]
    assert pool.provisions == 2 and pool.provision_failures == 1


def test_a_failed_provision_is_absorbed_when_other_provisions_cover_every_waiter() -> None:
    env, log = simpy.Environment(), []
    pool = make_pool(env, [1.0, 2.0], fails=[True, False], max_capacity=2)
    pool.acquire(Caller(env, "a", 0.5, log))  # starts the provision that will fail
    at(env, 0.2, lambda: pool.acquire(Caller(env, "b", 10, log)))
    env.run()
    # 'a' timed out, so at 1.0 the provision still running covers 'b': nobody sees the error
    assert log == [(0.5, "a", "timeout"), (2.2, "b", "got", 1, True)]
    assert pool.provisions == 2 and pool.provision_failures == 1
