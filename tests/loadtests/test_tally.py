"""The tally: every response by status and code, and the gateway's error contract."""

from __future__ import annotations

from loadtests.tally import Tally


def test_gateway_errors_with_a_json_code_and_request_id_keep_the_contract() -> None:
    tally = Tally()
    assert tally.response("echo", 200, b"{}", "id-1") is None
    assert tally.response("echo", 503, b'{"code": "no_capacity", "message": "m"}', "id-2") == (
        "no_capacity"
    )
    assert tally.response("echo", 502, b'{"code": "worker_error", "message": "m"}', "id-3")
    assert tally.statuses == {"echo 200": 1, "echo 503": 1, "echo 502": 1}
    assert tally.codes == {"echo no_capacity": 1, "echo worker_error": 1}
    assert tally.broken == {}


def test_a_500_a_bare_error_body_a_missing_request_id_and_a_dropped_connection_break_it() -> None:
    tally = Tally()
    tally.response("echo", 500, b'{"code": "internal_error", "message": "m"}', "id")
    tally.response("echo", 502, b"Bad Gateway", "id")
    tally.response("echo", 504, b'{"code": "worker_timeout", "message": "m"}', None)
    tally.response("echo", None, None, None, "ConnectionResetError()")
    assert tally.broken == {
        "status_500": 1,
        "error_without_json_code": 1,
        "error_without_request_id": 1,
        "connection_error": 1,
    }
    assert tally.examples["connection_error"] == "ConnectionResetError()"
    assert tally.statuses["echo connection_error"] == 1


def test_a_workers_tally_merges_into_the_masters() -> None:
    master, worker = Tally(), Tally()
    master.arrival(0.002)
    worker.arrival(0.050)
    worker.response("echo", 200, b"{}", "id")
    master.merge(worker.as_dict())
    assert master.arrivals == 2
    assert master.late == 1
    assert master.lag_max == 0.050
    assert master.statuses == {"echo 200": 1}
