"""Where a phase gate's targets are in a given tree: the mapping file.

Phase gates name their targets as the refactor plans do (``main.py``,
``services/lambda_invoker.py::LambdaInvoker``, ``auth/**``, the stress
selection ``tests/stress``). A mapping points each name at the tree's own
path, symbol or glob; an unmapped name stands for itself. A target mapped to
``null``, or one that resolves to nothing in the tree, makes its check "not
checked", never "passed".

A mapping file (YAML; paths relative to the file's directory for ``root``,
to ``root`` for ``source``, ``tests`` and selections)::

    root: .                      # where the tree's tests run from (it wins over the default)
    source: app                  # the code the gates look at (default: root)
    tests: [tests/unit]          # the suite run with coverage (default: tests/)
    python: .venv/bin/python     # the tree's interpreter (default: gateproof's)
    workers: "2"                 # pytest-xdist workers for that suite (default: 0)
    targets:
      main.py: app/server.py
      services/lambda_invoker.py::LambdaInvoker: app/invoke.py::Invoker
      auth/**: [app/security/*.py]
      services/container_cache.py: null        # not applicable here
    selections:
      tests/stress: {paths: [tests/concurrency], args: [-p, no:randomly]}
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTIN = Path(__file__).parent / "mappings"
_KEYS = {
    "root",
    "source",
    "tests",
    "python",
    "workers",
    "targets",
    "selections",
    "sim",
    "load",
    "audit_spec",
}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the fix."""


UNRESOLVED = object()


@dataclass
class Mapping:
    """A tree and where the gates' targets are in it."""

    root: Path
    source: Path
    tests: list[str]
    python: str = field(default_factory=lambda: sys.executable)
    workers: str = "0"
    targets: dict[str, Any] = field(default_factory=dict)
    selections: dict[str, Any] = field(default_factory=dict)
    sim: str | None = None
    load: dict[str, Any] | None = None  # {scenario, target, set}: the short load test
    name: str = ""
    names_root: Path | None = None  # where an unmapped selection's path starts (default: root)

    def target(self, name: str) -> Any:
        """The tree's path (or list of globs) for a gate's name; UNRESOLVED when mapped to null."""
        if name in self.targets:
            value = self.targets[name]
            return UNRESOLVED if value is None else value
        if "::" in name:  # the file part may be mapped on its own
            file, symbol = name.split("::", 1)
            mapped = self.target(file)
            if mapped is UNRESOLVED:
                return UNRESOLVED
            return f"{mapped}::{symbol}"
        return name

    def selection(self, name: str) -> tuple[list[str], list[str]] | None:
        """A pytest selection's paths and extra arguments, relative to root; None if unmapped."""
        if name not in self.selections:
            return [self._unmapped(name)], []
        value = self.selections[name]
        if value is None:
            return None
        if isinstance(value, str):
            return [value], []
        return [str(p) for p in value.get("paths", [])], [str(a) for a in value.get("args", [])]

    def _unmapped(self, name: str) -> str:
        """A gate's own path (``tests/stress``), from the tree's top, made relative to root."""
        if self.names_root is None or self.names_root == self.root:
            return name
        file, sep, rest = name.partition("::")
        path = Path(os.path.relpath(self.names_root / file, self.root)).as_posix()
        return path + sep + rest


def _strings(value: Any, key: str, path: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise MappingError(f"{path}: `{key}` must be a path or a list of paths")


def load_mapping(path: Path) -> Mapping:
    """Read a mapping file; bad content raises :class:`MappingError` saying what to change."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise MappingError(f"cannot read mapping {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise MappingError(f"mapping {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise MappingError(f"mapping {path} must be a YAML mapping with `targets:`")
    unknown = set(data) - _KEYS
    if unknown:
        raise MappingError(
            f"mapping {path}: unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}"
        )
    root = (path.parent / str(data.get("root", "."))).resolve()
    if not root.is_dir():
        raise MappingError(f"mapping {path}: root {root} is not a directory")
    source = (root / str(data.get("source", "."))).resolve()
    tests = _strings(
        data.get("tests", ["tests"] if (root / "tests").is_dir() else []), "tests", path
    )
    for key in ("targets", "selections"):
        if not isinstance(data.get(key, {}), dict):
            raise MappingError(f"mapping {path}: `{key}` must map gate names to tree paths")
    load = data.get("load")
    if load is not None and not (isinstance(load, dict) and isinstance(load.get("scenario"), str)):
        raise MappingError(
            f"mapping {path}: `load` must be a mapping with `scenario:` (and optionally "
            f"`target: local|legacy|docker` or `host: URL`, and `set: [PATH=VALUE, ...]`)"
        )
    python = data.get("python")
    if python and "/" in str(python):
        python = str((root / str(python)).resolve())
    return Mapping(
        root=root,
        source=source,
        tests=tests,
        python=python or sys.executable,
        workers=str(data.get("workers", "0")),
        targets=dict(data.get("targets", {})),
        selections=dict(data.get("selections", {})),
        sim=data.get("sim"),
        load=load,
        name=path.stem,
    )


def builtin_mapping(target: str) -> Mapping:
    """The mapping shipped for ``reference`` or ``legacy`` (their tests live in the checkout)."""
    mapping = load_mapping(BUILTIN / f"{target}.yaml")
    missing = [t for t in mapping.tests if not (mapping.root / t).exists()]
    if missing:
        raise MappingError(
            f"--target {target} runs gateproof's own tests ({missing[0]} ...), which only a "
            f"source checkout has: run it from a clone of gateproof"
        )
    return mapping


def default_mapping(tree: Path, *, root: Path | None = None) -> Mapping:
    """No mapping file: the tree's suite runs as ``gateproof audit`` would run it.

    From the current directory when the tree and its tests are under it, else
    from the tree's root; ``root`` chooses (``--root``).
    """
    from reports.audit import find_root, nearest_tests, plan_for

    plan = plan_for(tree, root=root)
    tests = nearest_tests(tree)
    return Mapping(
        root=plan.root,
        source=tree.resolve(),
        tests=plan.tests,
        name="identity",
        names_root=tests.parent if tests else find_root(tree),
    )
