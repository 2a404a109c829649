"""Reading a child server's output: drained by a thread, scanned for its "listening" line.

Servers started for a run (the gateway, a worker, a benchmark's baselines)
announce their port on a line of their output. The output is read to its end
by a thread, so a chatty child never blocks on a full pipe; only the first
lines are kept for the port and for the error message when it never comes.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import AnyStr

__all__ = ["drain_lines", "wait_for_port"]


def drain_lines(
    stream: Iterable[AnyStr], *, log: Path | None = None, keep: int = 500
) -> queue.Queue[str | None]:
    """The stream's first ``keep`` lines as text (None at its end); all of it copied to ``log``."""
    lines: queue.Queue[str | None] = queue.Queue(maxsize=keep)

    def copy() -> None:
        with open(log, "ab") if log is not None else contextlib.nullcontext() as sink:
            for raw in stream:
                data = raw if isinstance(raw, bytes) else raw.encode()
                if sink is not None:
                    sink.write(data)
                    sink.flush()
                with contextlib.suppress(queue.Full):
                    lines.put_nowait(data.decode(errors="replace"))
        with contextlib.suppress(queue.Full):
            lines.put_nowait(None)

    threading.Thread(target=copy, daemon=True).start()
    return lines


def wait_for_port(
    lines: queue.Queue[str | None], ready: re.Pattern[str], limit: float
) -> tuple[int | None, list[str]]:
    """The port in the first line matching ``ready`` (group 1) within ``limit`` seconds.

    None when the output ended or the time ran out, with the lines seen, for
    the caller's error message.
    """
    deadline = time.monotonic() + limit
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line.rstrip())
        if match := ready.search(line):
            return int(match.group(1)), seen
    return None, seen
