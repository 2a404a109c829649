"""Which modules of a tree do not import, tried with the tree's interpreter from its root.

A module that fails to import is invisible to coverage (its tests do not even
collect), so the audit names it and the exception. The probe runs in a child
process, started with ``-c`` so the tree's root, not ours, is first on
``sys.path``; the imports' own output is thrown away, and a module that
hangs on import is cut off by the time limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_TIMEOUT_SECONDS = 120.0

_PROBE = r"""
import contextlib, importlib, io, json, os, sys, traceback
sys.path.insert(0, os.path.join(os.getcwd(), "src"))
names = json.loads(sys.stdin.read())
failures = {}
sink = io.StringIO()
for name in names:
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            importlib.import_module(name)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        failures[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
sys.__stdout__.write("\n@@probe@@" + json.dumps(failures))
sys.__stdout__.flush()
os._exit(0)
"""


def module_name(relative: str) -> str | None:
    """The dotted name a file imports as from the tree's root (``src/`` layouts included)."""
    parts = relative.removesuffix(".py").split("/")
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def import_failures(
    root: Path,
    relative_paths: Sequence[str],
    *,
    python: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, str]:
    """Map each file (relative to ``root``) that does not import to the error it raised."""
    names = {name: path for path in relative_paths if (name := module_name(path))}
    if not names:
        return {}
    try:
        done = subprocess.run(
            [python or sys.executable, "-c", _PROBE],
            cwd=root,
            input=json.dumps(list(names)),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return {
            path: f"not probed: importing the tree took over {timeout:g} s"
            for path in names.values()
        }
    except OSError as error:
        return {path: f"not probed: {error}" for path in names.values()}
    _, marker, payload = done.stdout.rpartition("@@probe@@")
    if not marker:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return {path: f"not probed: the probe died ({reason})" for path in names.values()}
    return {names[name]: message for name, message in json.loads(payload).items() if name in names}
