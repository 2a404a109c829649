"""Run inside the audited tree's interpreter: what pytest sees there, then which modules import.

This file is not imported by gateproof: :mod:`reports.import_probe` runs it
with the tree's ``python``, from the directory the suite runs from, with
``sys.path[0]`` set to that directory as ``python -m pytest`` has it. It
reads a JSON request on stdin and writes one JSON answer after a marker on
stdout (the imports' own output goes elsewhere).

First it starts pytest on the suite's arguments and stops it at
``pytest_configure``: by then pytest has chosen its rootdir and config file,
applied the ``pythonpath`` ini option and loaded the initial conftest files,
so ``sys.path`` is the one the suite's tests import with. Then it imports
every audited module with that ``sys.path``. A module that is inside a
regular package whose parent directory is not on that path is not imported
at all: it is named as unreachable, with its top-level package.

It must run on the Pythons a tree may use, so it keeps to the standard
library and to syntax that Python 3.8 reads.
"""

import contextlib
import importlib
import io
import json
import os
import platform
import sys
import traceback

MARKER = "\n@@gateproof-probe@@"


def _real(path):
    return os.path.realpath(path) if path else os.path.realpath(os.getcwd())


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _dotted(path, entry):
    parts = os.path.relpath(path, entry)[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts and all(part.isidentifier() for part in parts):
        return ".".join(parts)
    return None


def module_for(path, entries, source):
    """(dotted name, None) when ``path`` imports from ``entries``; (None, package dir) if not."""
    directory, top = os.path.dirname(path), None
    while os.path.exists(os.path.join(directory, "__init__.py")):
        top, directory = directory, os.path.dirname(directory)
    if top is not None:  # a regular package: it imports only from its parent directory
        return (_dotted(path, directory), None) if directory in entries else (None, top)
    for entry in entries:
        if _inside(path, entry) and path != entry:
            name = _dotted(path, entry)
            if name:
                return name, None
    relative = os.path.relpath(path, os.path.dirname(source)).split(os.sep)
    return None, os.path.join(os.path.dirname(source), relative[0])


def _where(error, root):
    """The deepest frame in the tree's own code: ``path:line: source`` of the failing import."""
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        filename = _real(frame.filename) if not frame.filename.startswith("<") else ""
        if not filename or not _inside(filename, root):
            continue
        if "site-packages" in filename or "dist-packages" in filename:
            continue
        found = f"{os.path.relpath(filename, root)}:{frame.lineno}: {frame.line or ''}"
    return found


def pytest_view(tests, answer):
    """Start pytest on the suite's arguments and keep what it set up before any test."""
    try:
        import pytest
    except ImportError as error:
        answer["note"] = f"pytest does not import here ({error})"
        return None

    class Seen:
        @pytest.hookimpl(trylast=True)
        def pytest_configure(self, config):
            answer["rootdir"] = str(config.rootpath)
            answer["inifile"] = str(config.inipath) if config.inipath else None
            answer["sys_path"] = list(sys.path)
            pytest.exit("probed", returncode=0)

    sink = io.StringIO()
    arguments = [*tests, "-p", "no:cacheprovider", "-s", "-q"]
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            pytest.main(arguments, plugins=[Seen()])
        except BaseException as error:  # a tree's conftest can raise anything
            if isinstance(error, KeyboardInterrupt):
                raise
    if "sys_path" not in answer:
        lines = [line for line in sink.getvalue().strip().splitlines() if line.strip()]
        answer["note"] = f"pytest stopped before its session: {lines[-1] if lines else '?'}"
    return answer.get("sys_path")


def import_all(files, source, entries, root):
    """Import each file by the name it has on ``entries``; what failed, and why."""
    failures = {}
    sink = io.StringIO()
    for path in files:
        name, unreachable = module_for(_real(path), entries, _real(source))
        if name is None:
            if unreachable:  # else no dotted name reaches it (``my-script.py``): not a module
                failures[path] = {"unreachable": unreachable}
            continue
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                importlib.import_module(name)
        except BaseException as error:  # importing a tree can raise anything
            if isinstance(error, KeyboardInterrupt):
                raise
            failures[path] = {
                "module": name,
                "error": f"{type(error).__name__}: {error}".splitlines()[0][:300],
                "missing": error.name if isinstance(error, ModuleNotFoundError) else None,
                "where": _where(error, root),
            }
    return failures


def installed(distributions):
    """Which of the tree's declared distributions this interpreter has."""
    try:
        from importlib import metadata
    except ImportError:
        return {}
    found = {}
    for name in distributions:
        try:
            metadata.version(name)
            found[name] = True
        except Exception:  # PackageNotFoundError, or a broken dist-info
            found[name] = False
    return found


def main():
    request = json.loads(sys.stdin.read())
    root = _real(os.getcwd())
    answer = {
        "python": sys.executable,
        "version": platform.python_version(),
        "cwd": root,
        "rootdir": None,
        "inifile": None,
        "note": "",
    }
    start = list(sys.path)
    seen = pytest_view(request["tests"], answer) or start
    sys.path[:] = seen  # pytest's unconfigure took its `pythonpath` entries away again
    answer["sys_path"] = seen
    entries = [_real(entry) for entry in seen]
    answer["failures"] = import_all(request["files"], request["source"], entries, root)
    answer["installed"] = installed(request["distributions"])
    sys.__stdout__.write(MARKER + json.dumps(answer))
    sys.__stdout__.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
