"""`gateproof docker up`: make sure a Docker engine answers, starting one if we may."""

from __future__ import annotations

import argparse

from gateproof.cli import EnvironmentProblem


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "docker",
        help="bring up a Docker engine (installs and starts dockerd as root when none answers)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up",
        help="use the engine that answers `docker info`, else (root) install and start one",
    )
    up.add_argument(
        "--no-start",
        action="store_true",
        help="only check; never install packages or start dockerd",
    )
    up.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateproof.docker.engine import EngineUnavailableError, ensure_engine

    try:
        status = ensure_engine(allow_start=not args.no_start)
    except EngineUnavailableError as error:
        raise EnvironmentProblem(str(error)) from None
    print(status.describe())
    return 0
