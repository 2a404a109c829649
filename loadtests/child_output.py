"""Child servers of a run on 127.0.0.1: their environment, and their output.

A child gets this machine's environment without gateproof's own settings
(``GATEPROOF_*``: the caller sets what the child should see) and without
proxy settings (its traffic stays local), with the project on its path.

Servers started for a run (the gateway, a worker, a benchmark's baselines)
announce their port on a line of their output. The output is read to its end
by a thread, so a chatty child never blocks on a full pipe; only the first
lines are kept for the port and for the error message when it never comes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import AnyStr

__all__ = ["drain_lines", "local_child_env", "wait_for_port"]

_ROOT = str(Path(__file__).resolve().parents[1])


def local_child_env(**extra: str) -> dict[str, str]:
    """The environment of a child server: no ``GATEPROOF_*``, no proxy, then ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GATEPROOF_") and not key.lower().endswith("_proxy")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


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
