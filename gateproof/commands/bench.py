"""`gateproof bench TARGET`: print side-by-side figures for one target."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

from gateproof import bench


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure a target beside its baseline and print the ratio",
        description=bench.__doc__,
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for module_info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue  # a helper of the targets, not a target
        module = importlib.import_module(f"{bench.__name__}.{module_info.name}")
        module.register(targets)
