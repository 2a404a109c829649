"""The access log writes the same bytes as ``json.dumps`` through ``logging`` would, batched."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from reference.gateway.core import access_log
from reference.gateway.core.access_log import (
    ACCESS_LOGGER,
    access_line,
    configure_access_log,
    log_access,
)

# the split (queue_ms, hold_ms, svc_ms, gw_ms) beside each line's fields
SPLITS = [(0.012, 10.95, 10.0, 0.41), (None, None, None, 0.0), (0.0, 1e-05, None, 3.5), (None,) * 4]
FIELDS = [
    ("3f2a" * 8, "POST", "/2015-03-31/functions/echo/invocations", "echo", 200, 1.234),
    ("client-id.1:2", "GET", '/a"quoted"\\back/slash', None, 404, 0.0),
    ("x", "PATCH", "/ünïcödé/路径/\u2028", "f", 502, 1e-05),
    ("y", "GET", "/ctl/\x01\x1f\t", None, 500, 12345.678),
]


class CountingStream(io.StringIO):
    """A stream that counts its writes, to tell one write per loop turn from one per line."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """The access logger, with no handler before and none left after."""
    log = logging.getLogger(ACCESS_LOGGER)
    saved = (log.handlers[:], log.level, log.propagate, access_log._handler)
    log.handlers.clear()
    access_log._handler = None
    yield log
    log.handlers[:] = saved[0]
    log.setLevel(saved[1])
    log.propagate = saved[2]
    access_log._handler = saved[3]


@pytest.mark.parametrize(("fields", "split"), list(zip(FIELDS, SPLITS, strict=True)))
def test_a_line_is_what_json_dumps_writes_for_the_same_fields(
    fields: tuple[str, str, str, str | None, int, float],
    split: tuple[float | None, float | None, float | None, float | None],
) -> None:
    request_id, method, path, function, status, duration_ms = fields
    record = {
        "ts": 1764412345.123456,
        "request_id": request_id,
        "method": method,
        "path": path,
        "function": function,
        "status": status,
        "duration_ms": duration_ms,
        **dict(zip(("queue_ms", "hold_ms", "svc_ms", "gw_ms"), split, strict=True)),
    }
    expected = json.dumps(record, separators=(",", ":"))
    assert access_line(1764412345.123456, *fields, split) == expected


async def test_lines_of_one_loop_turn_reach_the_stream_in_one_write_at_its_end(
    logger: logging.Logger,
) -> None:
    stream = CountingStream()
    configure_access_log(stream)
    for request_id, method, path, function, status, duration_ms in FIELDS:
        log_access(request_id, method, path, function, status, duration_ms / 1000)
    assert stream.getvalue() == ""  # still this turn
    await asyncio.sleep(0)
    lines = stream.getvalue().splitlines()
    assert stream.writes == 1
    assert [json.loads(line)["path"] for line in lines] == [fields[2] for fields in FIELDS]
    log_access("z", "GET", "/next", None, 200, 0.001)
    await asyncio.sleep(0)
    assert stream.writes == 2 and json.loads(stream.getvalue().splitlines()[-1])["path"] == "/next"


def test_without_a_running_loop_a_line_is_written_at_once(logger: logging.Logger) -> None:
    stream = CountingStream()
    configure_access_log(stream)
    log_access("a", "GET", "/now", None, 200, 0.002)
    line = json.loads(stream.getvalue())
    assert line["path"] == "/now" and line["duration_ms"] == 2.0


async def test_a_handler_a_deployment_adds_gets_every_line_as_a_record(
    logger: logging.Logger,
) -> None:
    stream = CountingStream()
    configure_access_log(stream)
    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(capture)
    log_access("b", "POST", "/seen", "echo", 201, 0.003)
    await asyncio.sleep(0)
    assert [json.loads(record.getMessage())["path"] for record in records] == ["/seen"]
    assert json.loads(stream.getvalue())["status"] == 201  # the configured stream too


async def test_a_filter_on_the_logger_still_decides(logger: logging.Logger) -> None:
    stream = CountingStream()
    configure_access_log(stream)
    logger.addFilter(lambda record: "/health" not in record.getMessage())
    log_access("c", "GET", "/health", None, 200, 0.001)
    log_access("d", "GET", "/kept", None, 200, 0.001)
    await asyncio.sleep(0)
    assert [json.loads(line)["path"] for line in stream.getvalue().splitlines()] == ["/kept"]


async def test_pending_lines_are_written_when_logging_shuts_down(logger: logging.Logger) -> None:
    stream = CountingStream()
    configure_access_log(stream)
    log_access("e", "GET", "/last", None, 200, 0.001)
    assert stream.getvalue() == ""
    assert access_log._handler is not None
    access_log._handler.flush()  # what logging.shutdown() does at interpreter exit
    assert json.loads(stream.getvalue())["path"] == "/last"
