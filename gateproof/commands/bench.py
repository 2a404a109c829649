"""`gateproof bench TARGET`: print side-by-side figures for one target."""

from __future__ import annotations

import argparse

from gateproof import bench
from gateproof.cli import register_modules


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure a target beside its baseline and print the ratio",
        description=bench.__doc__,
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    register_modules(bench, targets, skip_private=True)  # _modules help the targets
