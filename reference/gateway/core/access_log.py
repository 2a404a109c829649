"""The structured access log: one JSON object per line, one line per request.

Fields: ``ts`` (epoch seconds), ``request_id``, ``method``, ``path``,
``function`` (null when no function was called), ``status``, ``duration_ms``.
The simulator calibrates service times from these lines, so they stay flat
and stable.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

__all__ = ["ACCESS_LOGGER", "configure_access_log", "log_access"]

ACCESS_LOGGER = "gateproof.gateway.access"
_log = logging.getLogger(ACCESS_LOGGER)


def configure_access_log(stream: TextIO | None = None) -> None:
    """Send access lines to ``stream`` (stdout by default) unless a handler is set already."""
    if _log.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    _log.addHandler(handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False


def log_access(
    request_id: str, method: str, path: str, function: str | None, status: int, duration: float
) -> None:
    if not _log.isEnabledFor(logging.INFO):
        return
    record = {
        "ts": round(time.time(), 6),
        "request_id": request_id,
        "method": method,
        "path": path,
        "function": function,
        "status": status,
        "duration_ms": round(duration * 1000, 3),
    }
    _log.info(json.dumps(record, separators=(",", ":")))
