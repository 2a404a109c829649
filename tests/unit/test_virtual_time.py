"""Virtual time: timer waits are skipped, waits on real I/O are not, timers keep their order."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from gateproof.testing.controlled_loop import ControlledLoop
from gateproof.testing.shuffle import ShuffledEventLoop
from gateproof.testing.virtual_time import VirtualTimeLoop

LOOPS = [VirtualTimeLoop, lambda: ShuffledEventLoop(3, virtual_time=True), ControlledLoop]


def run(make_loop, main):
    with asyncio.Runner(loop_factory=make_loop) as runner:
        return runner.run(main()), runner.get_loop()


@pytest.mark.parametrize("make_loop", LOOPS, ids=["virtual", "shuffled", "controlled"])
def test_an_hour_of_sleeping_and_a_timeout_take_no_real_time_and_keep_the_loop_clock(make_loop):
    async def main() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(3600)
        timed_out = False
        try:
            async with asyncio.timeout(30):
                await asyncio.Event().wait()
        except TimeoutError:
            timed_out = True
        return loop.time() - started, timed_out

    (elapsed, timed_out), loop = run(make_loop, main)

    assert elapsed == pytest.approx(3630)
    assert timed_out
    assert loop.virtual_seconds == pytest.approx(3630)
    assert loop.real_waits == 0


def test_a_wait_on_a_socket_keeps_real_time_and_is_not_cut_short_by_its_timeout():
    """A reply that takes 50 ms of real time arrives inside a 5 s wait_for, as on a real loop."""
    ours, theirs = socket.socketpair()
    replier = threading.Timer(0.05, theirs.sendall, args=(b"pong",))

    async def main() -> bytes:
        reader, writer = await asyncio.open_connection(sock=ours)
        replier.start()
        try:
            return await asyncio.wait_for(reader.readexactly(4), timeout=5)
        finally:
            writer.close()

    try:
        reply, loop = run(VirtualTimeLoop, main)
    finally:
        replier.join()
        theirs.close()

    assert reply == b"pong"
    assert loop.real_waits >= 1
    assert loop.virtual_seconds == 0  # nothing was skipped while the socket was watched


def test_a_thread_doing_real_work_keeps_real_time():
    async def main() -> str:
        def work() -> str:
            time.sleep(0.05)
            return "done"

        return await asyncio.wait_for(asyncio.to_thread(work), timeout=5)

    result, loop = run(VirtualTimeLoop, main)

    assert result == "done"
    assert loop.real_waits >= 1


def test_once_the_io_is_done_the_clock_is_virtual_again():
    async def main() -> float:
        await asyncio.to_thread(time.sleep, 0.01)
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(600)
        return loop.time() - before

    skipped, loop = run(VirtualTimeLoop, main)

    assert skipped == pytest.approx(600)
    assert loop.virtual_seconds == pytest.approx(600)


@pytest.mark.parametrize("make_loop", LOOPS, ids=["virtual", "shuffled", "controlled"])
def test_timers_due_at_the_same_virtual_instant_fire_in_the_order_they_were_made(make_loop):
    """On a real clock the later call has the later deadline; a virtual clock must agree."""

    async def main() -> list[int]:
        fired: list[int] = []
        loop = asyncio.get_running_loop()
        for number in range(20):
            loop.call_later(1.0, fired.append, number)
        await asyncio.sleep(2)
        return fired

    fired, _ = run(make_loop, main)

    assert fired == list(range(20))


def test_real_time_mode_is_asyncios_own_clock():
    async def main() -> float:
        loop = asyncio.get_running_loop()
        return loop.time() - time.monotonic()

    drift, loop = run(lambda: VirtualTimeLoop(virtual_time=False), main)

    assert abs(drift) < 1.0
    assert loop.virtual_seconds == 0
