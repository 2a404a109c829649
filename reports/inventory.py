"""What code exists: every Python file of a tree with its classes, functions and methods.

Read with :mod:`ast`, never imported, so a module that does not import (or
does not even parse) is still listed, with the reason. Test files and
conftest files are kept apart: the audit measures the code under test.
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SKIPPED_DIRS = frozenset(
    {"__pycache__", ".venv", "venv", ".tox", ".nox", "build", "dist", "node_modules", ".git"}
)


@dataclass
class Symbol:
    """A class, function or method, named by its qualified name (``Class.method``)."""

    name: str
    kind: str  # "class", "function" or "method"
    line: int
    end_line: int

    @property
    def lines(self) -> int:
        return self.end_line - self.line + 1


@dataclass
class SourceFile:
    """One Python file, its path relative to the audited directory, and what it defines."""

    path: str
    lines: int
    symbols: list[Symbol] = field(default_factory=list)
    parse_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for symbol, out in zip(self.symbols, data["symbols"], strict=True):
            out["lines"] = symbol.lines
        return data


def is_test_file(path: Path) -> bool:
    """pytest's default naming: ``test_*.py``, ``*_test.py`` and ``conftest.py``."""
    name = path.name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def python_files(directory: Path) -> list[Path]:
    """Every ``.py`` file under ``directory``, minus virtualenvs, caches and hidden dirs."""
    found = []
    for path in sorted(directory.rglob("*.py")):
        parts = path.relative_to(directory).parts[:-1]
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in parts):
            continue
        found.append(path)
    return found


def symbols_of(tree: ast.Module) -> list[Symbol]:
    """Top-level classes and functions, and the methods of classes (nested ones qualified)."""
    symbols: list[Symbol] = []

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                name = f"{prefix}{node.name}"
                symbols.append(Symbol(name, "class", node.lineno, node.end_lineno or node.lineno))
                visit(node.body, f"{name}.", in_class=True)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "method" if in_class else "function"
                name = f"{prefix}{node.name}"
                symbols.append(Symbol(name, kind, node.lineno, node.end_lineno or node.lineno))

    visit(tree.body, "", in_class=False)
    return symbols


def parse(path: Path) -> tuple[ast.Module | None, str | None]:
    """The module's syntax tree, or None and why it could not be read."""
    try:
        return ast.parse(path.read_bytes(), filename=str(path)), None
    except SyntaxError as error:
        return None, f"SyntaxError: {error.msg} (line {error.lineno})"
    except (OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


def source_file(path: Path, directory: Path) -> SourceFile:
    tree, error = parse(path)
    try:
        lines = len(path.read_bytes().splitlines())
    except OSError:
        lines = 0
    return SourceFile(
        path=path.relative_to(directory).as_posix(),
        lines=lines,
        symbols=symbols_of(tree) if tree is not None else [],
        parse_error=error,
    )


def inventory(directory: Path) -> tuple[list[SourceFile], list[str]]:
    """The code files under ``directory`` and, apart, the paths of its test files."""
    code, tests = [], []
    for path in python_files(directory):
        if is_test_file(path):
            tests.append(path.relative_to(directory).as_posix())
        else:
            code.append(source_file(path, directory))
    return code, tests
