"""One cause, named once: the audit's import and collection failures grouped by what broke them.

Twenty test modules that do not collect because one internal module is
missing are one finding, not twenty. Each failure (a source module that does
not import, a test module that does not collect) is filed under its cause:

* ``missing module``: an internal module that does not exist (``pkg.core.settings``
  when ``pkg.core`` imports): add it, or fix the import;
* ``not on path``: a top-level package that exists in the tree but not on the
  ``sys.path`` the tests import with (an ``app/`` in a subfolder, a ``src/``
  layout): the fix is ``--root DIR`` or pytest's ``pythonpath`` ini option;
* ``third-party``: a top-level module found neither in the tree nor in the
  interpreter: the distribution to install, named from the tree's own declared
  dependencies where one matches;
* ``error``: any other exception, grouped by its message.

Each cause carries the count of modules it blocks and the first place it is
imported (``pkg/main.py:4: from pkg.core.settings import config``).
"""

from __future__ import annotations

import os
import posixpath
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_SKIPPED_DIRS = {"node_modules", "site-packages", "dist-packages", "__pycache__", "build", "dist"}
_MAX_DIRS = 5000
_DETAIL = re.compile(r"\s\(/[^)]*\)$")  # "cannot import name 'x' from 'y' (/abs/path.py)"


@dataclass
class Failure:
    """A module that did not import or collect, as the audit saw it."""

    module: str  # its path, relative to where the suite ran
    error: str
    missing: str | None = None
    where: str | None = None
    unreachable: str | None = None
    is_test: bool = False


def tree_packages(root: Path) -> dict[str, str]:
    """Top-level importable names found anywhere under ``root``: name -> its path there.

    A directory with Python files in it or below it, or a ``NAME.py`` file,
    counts; the first found, walking down in name order, wins. Hidden
    directories, virtualenvs and build output are skipped.
    """
    found: dict[str, str] = {}
    seen = 0
    for directory, dirs, files in os.walk(root):
        seen += 1
        if seen > _MAX_DIRS:
            break
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not (Path(directory, d) / "pyvenv.cfg").exists()
        )
        here = Path(directory)
        if any(f.endswith(".py") for f in files):  # it and the directories above it import
            for package in [here, *here.parents]:
                if package == root or not package.is_relative_to(root):
                    break
                found.setdefault(package.name, package.relative_to(root).as_posix())
        for name in files:
            if name.endswith(".py") and name != "__init__.py":
                stem = name.removesuffix(".py")
                found.setdefault(stem, (here / name).relative_to(root).as_posix())
    return found


def declared_distributions(directories: Iterable[Path]) -> list[str]:
    """Distributions the tree declares: pyproject dependencies and requirements files."""
    names: list[str] = []
    lines: list[str] = []
    for directory in directories:
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                data = {}
            project = data.get("project", {})
            lines += list(project.get("dependencies", []))
            for group in project.get("optional-dependencies", {}).values():
                lines += list(group)
            for group in data.get("dependency-groups", {}).values():
                lines += [item for item in group if isinstance(item, str)]
        for requirements in sorted(directory.glob("requirements*.txt")):
            try:
                lines += requirements.read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            name = Requirement(line).name
        except InvalidRequirement:
            continue
        if name not in names:
            names.append(name)
    return names


def distribution_for(module: str, declared: Sequence[str]) -> str | None:
    """The declared distribution that provides top-level ``module``, by its name.

    Import names and distribution names often differ by a ``py``/``python-``
    prefix or by separators (``yaml``/``PyYAML``, ``jose``/``python-jose``,
    ``dateutil``/``python-dateutil``); a name that differs further
    (``sklearn``/``scikit-learn``) is not guessed.
    """
    wanted = canonicalize_name(module)
    for name in declared:
        tokens = canonicalize_name(name).split("-")
        candidates = {"-".join(tokens), "".join(tokens)}
        if wanted in candidates or any(
            wanted in (c.removeprefix("py"), c.removeprefix("python-")) for c in candidates
        ):
            return name
        if wanted in tokens and tokens[0] in ("python", "py"):
            return name
    return None


def _fix_not_on_path(where: str, root: Path, rootdir: Path, inifile: str | None) -> str:
    parent = posixpath.normpath(posixpath.join(where, ".."))
    entry = Path(os.path.relpath(root / parent, rootdir)).as_posix()
    config = f"`{inifile}`" if inifile else "pytest's configuration"
    option = 'pythonpath = ["' + entry + '"]'
    install = ", or install the tree (`pip install -e .`)" if Path(parent).name == "src" else ""
    return f"Run from `{parent}` (`--root {parent}`), or add `{option}` to {config}{install}"


def _key(failure: Failure, packages: dict[str, str]) -> tuple[str, str]:
    if failure.unreachable:
        return "not on path", failure.missing or Path(failure.unreachable).name
    missing = failure.missing
    if missing:
        top = missing.split(".")[0]
        if missing == top and top in packages:
            return "not on path", top
        if missing != top and top in packages:
            return "missing module", missing
        return "third-party", top
    return "error", _DETAIL.sub("", failure.error)


def root_causes(
    failures: Sequence[Failure],
    *,
    packages: dict[str, str],
    declared: Sequence[str],
    installed: dict[str, bool],
    root: Path,
    rootdir: Path | None = None,
    inifile: str | None = None,
) -> list[dict[str, Any]]:
    """Group ``failures`` by cause, the cause that blocks the most modules first.

    Paths in ``packages`` and in the failures are relative to ``root``, where
    the suite ran; ``rootdir`` is pytest's, which its ``pythonpath`` is relative to.
    """
    groups: dict[tuple[str, str], list[Failure]] = {}
    for failure in failures:
        groups.setdefault(_key(failure, packages), []).append(failure)
    causes = []
    for (kind, name), members in groups.items():
        places = [f.where for f in sorted(members, key=lambda f: (f.is_test, f.module)) if f.where]
        cause: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "blocks": len(members),
            "modules": sorted(f.module for f in members),
            "first_import": places[0] if places else None,
            "error": members[0].error,
            "distribution": None,
            "fix": "",
        }
        if kind == "missing module":
            cause["fix"] = f"`{name}` does not exist in the tree: add it, or change the import"
        elif kind == "not on path":
            where = packages.get(name) or next(f.unreachable for f in members if f.unreachable)
            cause["path"] = where
            fix = _fix_not_on_path(where, root, rootdir or root, inifile)
            cause["fix"] = f"`{name}` is at `{where}`: {fix}"
        elif kind == "third-party":
            distribution = distribution_for(name, declared)
            cause["distribution"] = distribution or name
            cause["fix"] = (
                f"Install `{distribution}` (declared by the tree"
                + (", not installed in this interpreter)" if not installed.get(distribution, True)
                   else ")")
                if distribution
                else f"Install the distribution that provides `{name}` (the tree does not "
                "declare one; it is often named the same)"
            )  # fmt: skip
        causes.append(cause)
    return sorted(causes, key=lambda c: (-c["blocks"], c["kind"], c["name"]))
