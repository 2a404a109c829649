"""The structured access log: one JSON object per line, one line per request.

Fields, in this order: ``ts`` (epoch seconds), ``request_id``, ``method``,
``path``, ``function`` (null when no function was called), ``status``,
``duration_ms``, then the call's split as its ``Server-Timing`` header sends it
(:mod:`reference.gateway.core.timing`): ``queue_ms``, ``hold_ms``, ``svc_ms``,
``gw_ms`` (null where the call did not get that far), and ``retries`` only on a
call that was sent again because its request never reached a worker. The
simulator calibrates service times from these lines, so they stay flat and
stable.

The lines go through the ``gateproof.gateway.access`` logger, so any handler
or filter a deployment attaches sees every one. Only when the logger holds
nothing but the handler :func:`configure_access_log` set (what ``gateproof
serve`` runs) does a line skip the ``logging`` machinery: it is handed to that
handler as text, and the handler writes the lines of one event-loop turn with
one ``write`` and one ``flush``. Why: on the gateway's hot path a log record,
its formatting and a flushed write per call cost more CPU than any other
feature (``gateproof bench gateway --breakdown``). The bytes written are the
same; a line reaches the stream at the end of the loop turn it was made in,
not during it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from json.encoder import encode_basestring_ascii
from typing import TextIO

from reference.gateway.core.timing import CallTiming

__all__ = ["ACCESS_LOGGER", "access_line", "configure_access_log", "log_access"]

ACCESS_LOGGER = "gateproof.gateway.access"
_log = logging.getLogger(ACCESS_LOGGER)


class _TurnBatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes once per event-loop turn instead of once per line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter("%(message)s"))
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.add(self.format(record))
        except Exception:
            self.handleError(record)

    def add(self, line: str) -> None:
        """Queue ``line``; the first line of a loop turn schedules the write at its end."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line)
            if len(self._lines) > 1:
                return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no loop in this thread: write now
            self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            lines, self._lines = self._lines, []
            if lines:
                self.stream.write(self.terminator.join(lines) + self.terminator)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()


_handler: _TurnBatchedHandler | None = None


def configure_access_log(stream: TextIO | None = None) -> None:
    """Send access lines to ``stream`` (stdout by default) unless a handler is set already."""
    global _handler
    if _log.handlers:
        return
    _handler = _TurnBatchedHandler(stream or sys.stdout)
    _log.addHandler(_handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False


def access_line(
    ts: float,
    request_id: str,
    method: str,
    path: str,
    function: str | None,
    status: int,
    duration_ms: float,
    split: tuple[float | None, float | None, float | None, float | None] = (None,) * 4,
    retries: int = 0,
) -> str:
    """One line, as ``json.dumps`` of the fields with ``(",", ":")`` separators writes it.

    ``split`` is ``queue_ms``, ``hold_ms``, ``svc_ms``, ``gw_ms``.
    """
    name = "null" if function is None else encode_basestring_ascii(function)
    queue, hold, svc, gw = (_number(value) for value in split)
    end = f',"retries":{retries}}}' if retries else "}"
    return (
        f'{{"ts":{ts!r},"request_id":{encode_basestring_ascii(request_id)},'
        f'"method":{encode_basestring_ascii(method)},"path":{encode_basestring_ascii(path)},'
        f'"function":{name},"status":{status},"duration_ms":{duration_ms!r},'
        f'"queue_ms":{queue},"hold_ms":{hold},"svc_ms":{svc},"gw_ms":{gw}{end}'
    )


def _number(value: float | None) -> str:
    return "null" if value is None else repr(value)


def log_access(
    request_id: str,
    method: str,
    path: str,
    function: str | None,
    status: int,
    duration: float,
    timing: CallTiming | None = None,
    retries: int = 0,
) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    line = access_line(
        round(time.time(), 6),
        request_id,
        method,
        path,
        function,
        status,
        round(duration * 1000, 3),
        timing.milliseconds() if timing is not None else (None, None, None, None),
        retries,
    )
    handlers = _log.handlers
    if (
        _handler is not None
        and len(handlers) == 1
        and handlers[0] is _handler
        and not _log.filters
        and not _handler.filters
        and _handler.level <= logging.INFO
        and not _log.disabled
    ):
        _handler.add(line)
    else:
        _log.info(line)
