"""The layers point one way: no package imports one above it, and no two modules import each other.

DESIGN.md's direction, as data: `reference` depends on nothing here,
`scenarios` may use the gateway's config models, `sim` and `loadtests` build on
`scenarios`, `reports` reads the others' outputs (files, not imports), and the
CLI package `gateproof` sits on top. Imports inside functions count too: a lazy
import still ties the layers together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MAY_IMPORT: dict[str, set[str]] = {
    "reference": set(),
    "scenarios": {"reference"},
    "sim": {"reference", "scenarios"},
    "loadtests": {"reference", "scenarios", "sim"},
    "reports": set(),
    "gateproof": {"reference", "scenarios", "sim", "loadtests", "reports"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module name a file imports, with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # `from pkg import module` names a module too
                yield node.lineno, f"{node.module}.{alias.name}"


def _files() -> Iterator[tuple[str, Path]]:
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def test_no_package_imports_a_layer_above_it() -> None:
    offenders = []
    for package, path in _files():
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top in MAY_IMPORT and top != package and top not in MAY_IMPORT[package]:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert offenders == [], "imports against the layers:\n" + "\n".join(sorted(set(offenders)))


def test_no_two_modules_import_each_other() -> None:
    modules = {_module_name(path): path for _, path in _files()}
    graph = {
        name: {imported for _, imported in _imports(path) if imported in modules} - {name}
        for name, path in modules.items()
    }
    circles = sorted(
        f"{a} <-> {b}" for a, targets in graph.items() for b in targets if a < b and a in graph[b]
    )
    assert circles == [], "modules that import each other:\n" + "\n".join(circles)
