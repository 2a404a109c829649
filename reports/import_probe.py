"""Where and how the tree's suite runs, and which of its modules do not import there.

A module that fails to import is invisible to coverage (its tests do not even
collect), so the audit names it and the exception. The probe
(:mod:`reports.tree_probe`) runs in a child process with the tree's
interpreter, from the directory the suite runs from, with the same
environment: it asks pytest itself for the rootdir, the config file and the
``sys.path`` the tests import with (``pythonpath`` ini option and conftest
directories included), and imports every module with that path. So the
report's header and its list of modules that do not import describe the run
the user gets from ``python -m pytest`` in that directory, not a guess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports import tree_probe

DEFAULT_TIMEOUT_SECONDS = 120.0
SYS_PATH_SHOWN = 5
_BOOT = (
    "import os, sys; p = sys.argv.pop(1); sys.path[0] = os.getcwd(); "
    "exec(compile(open(p).read(), p, 'exec'), {'__name__': '__main__', '__file__': p})"
)


@dataclass
class ImportFailure:
    """One module that did not import: the error, or the package that is not on the path."""

    error: str
    missing: str | None = None  # the module a ModuleNotFoundError names
    where: str | None = None  # ``path:line: source`` of the import that failed, in the tree
    unreachable: str | None = None  # the package directory that is not on sys.path


@dataclass
class TreeView:
    """What the tree's interpreter saw from the suite's directory (see module docstring)."""

    cwd: str
    python: str
    version: str = ""
    rootdir: str | None = None
    inifile: str | None = None
    sys_path: list[str] = field(default_factory=list)
    note: str = ""
    failures: dict[str, ImportFailure] = field(default_factory=dict)
    installed: dict[str, bool] = field(default_factory=dict)


def probe_tree(
    root: Path,
    files: Sequence[str],
    *,
    source: Path,
    tests: Sequence[str],
    python: str | None = None,
    distributions: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> TreeView:
    """Probe the tree from ``root``: files are relative to ``root``, failures keyed the same."""
    python = python or sys.executable
    view = TreeView(cwd=str(root), python=python)
    request = {
        "tests": list(tests),
        "files": [str(root / f) for f in files],
        "source": str(source),
        "distributions": list(distributions),
    }
    try:
        done = subprocess.run(
            [python, "-c", _BOOT, tree_probe.__file__],
            cwd=root,
            env=dict(env) if env is not None else None,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return _not_probed(view, files, f"importing the tree took over {timeout:g} s")
    except OSError as error:
        return _not_probed(view, files, str(error))
    _, marker, payload = done.stdout.rpartition(tree_probe.MARKER.strip())
    if not marker:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return _not_probed(view, files, f"the probe died ({reason})")
    answer: dict[str, Any] = json.loads(payload)
    by_absolute = {str(root / f): f for f in files}
    view.python, view.version = answer["python"], answer["version"]
    view.rootdir, view.inifile = answer["rootdir"], answer["inifile"]
    view.sys_path, view.note = answer["sys_path"], answer["note"]
    view.installed = answer["installed"]
    for path, failure in answer["failures"].items():
        relative = by_absolute.get(path)
        if relative is None:
            continue
        if failure.get("unreachable"):
            package = Path(failure["unreachable"])
            view.failures[relative] = ImportFailure(
                error=f"not on sys.path: its package `{package.name}` is at "
                f"{_relative(package, root)}, whose parent is not on the path the tests use",
                missing=package.name,
                unreachable=_relative(package, root),
            )
        else:
            view.failures[relative] = ImportFailure(
                error=failure["error"], missing=failure["missing"], where=failure["where"]
            )
    return view


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _not_probed(view: TreeView, files: Sequence[str], reason: str) -> TreeView:
    view.note = f"not probed: {reason}"
    view.failures = {f: ImportFailure(error=f"not probed: {reason}") for f in files}
    return view


def shown_path(view: TreeView, count: int = SYS_PATH_SHOWN) -> list[str]:
    """The first ``sys.path`` entries, relative to where the suite ran when inside it."""
    base = Path(view.cwd).resolve()
    shown = []
    for entry in view.sys_path[:count]:
        path = Path(entry or ".").resolve()
        shown.append(path.relative_to(base).as_posix() if path.is_relative_to(base) else entry)
    return shown
