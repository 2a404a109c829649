"""KeepAliveTransport forgets origins with nothing reusable (workers come and go by port)."""

from __future__ import annotations

from reference.gateway.services.transport import KeepAliveTransport, _Connection


def idle_connection() -> _Connection:
    return _Connection()  # never connected: open, keep-alive, just used


def test_an_origin_whose_idle_connections_died_is_dropped_on_checkout() -> None:
    transport = KeepAliveTransport()
    connection = idle_connection()
    transport._checkin(("127.0.0.1", 9001), connection)
    connection.close()  # the worker went away
    assert transport._checkout(("127.0.0.1", 9001)) is None
    assert ("127.0.0.1", 9001) not in transport._idle


def test_dead_origins_are_swept_when_new_ones_arrive() -> None:
    transport = KeepAliveTransport()
    for port in range(10_000, 10_000 + 1000):  # one worker after another, each on a new port
        connection = idle_connection()
        transport._checkin(("127.0.0.1", port), connection)
        connection.close()  # then the worker is evicted
    assert len(transport._idle) < 200  # bounded, not one per worker ever seen


def test_a_sweep_keeps_origins_with_reusable_connections() -> None:
    transport = KeepAliveTransport()
    live = idle_connection()
    transport._checkin(("127.0.0.1", 9000), live)
    for port in range(10_000, 10_000 + 200):
        connection = idle_connection()
        transport._checkin(("127.0.0.1", port), connection)
        connection.close()
    assert transport._checkout(("127.0.0.1", 9000)) is live
