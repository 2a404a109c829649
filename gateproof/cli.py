"""The `gateproof` console script: a thin layer over the packages.

Each subcommand is one module in :mod:`gateproof.commands` exposing
``register(subparsers)``; the module parses arguments and calls the library
functions that pytest and Locust call too. Heavy imports happen inside the
command, so ``gateproof --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from gateproof import __version__, commands
from gateproof.signals import sigterm_as_interrupt

# Exit statuses shared by every command (scripts depend on them).
EXIT_OK = 0
EXIT_FAILED = 1  # the thing under test failed: a run failed, an SLO was breached
EXIT_USAGE = 2  # bad input: a wrong path, a broken scenario file, an unknown option
EXIT_ENVIRONMENT = 3  # the tool could not do its job: pytest crashed, Docker is down


class UsageError(Exception):
    """Bad input from the user; the message says what to do next (exit 2)."""


class EnvironmentProblem(Exception):
    """Something outside gateproof is missing or down; the message says how to fix it (exit 3)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateproof",
        description="Stress test, simulate and run a reference serverless-style gateway.",
    )
    parser.add_argument("--version", action="version", version=f"gateproof {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_modules(commands, subparsers)
    return parser


def register_modules(
    package: ModuleType, subparsers: argparse._SubParsersAction, *, skip_private: bool = False
) -> None:
    """Import each module of ``package`` by name and call its ``register(subparsers)``.

    ``skip_private`` leaves out ``_``-prefixed modules (helpers, not subcommands).
    """
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if skip_private and module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        module.register(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():
            return int(args.func(args) or EXIT_OK)
    except UsageError as error:
        print(f"gateproof {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except EnvironmentProblem as error:
        print(f"gateproof {args.command}: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        print(f"gateproof {args.command}: interrupted", file=sys.stderr)
        return 130
