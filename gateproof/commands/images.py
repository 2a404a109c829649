"""`gateproof images`: build the local images (base, runtime, orchestrator, redis)."""

from __future__ import annotations

import argparse

from gateproof.cli import EnvironmentProblem, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "images",
        help="build the project's images locally; skips those already up to date",
        description="Build gateproof/base:bookworm with mmdebstrap, then the images under "
        "images/ FROM it. No registry is used. An image is rebuilt only when its build "
        "context changed.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="images to build (default: all of runtime, orchestrator, redis)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="never start a Docker engine; fail if none answers",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateproof.docker.engine import EngineUnavailableError, ensure_engine
    from gateproof.docker.images import IMAGE_NAMES, BuildError, build_all

    unknown = sorted(set(args.names) - set(IMAGE_NAMES))
    if unknown:
        raise UsageError(
            f"unknown image {', '.join(unknown)}; choose from {', '.join(IMAGE_NAMES)}"
        )
    try:
        status = ensure_engine(allow_start=not args.no_start)
        if status.started:
            print(status.describe())
        build_all(args.names or IMAGE_NAMES, force=args.force)
    except (EngineUnavailableError, BuildError) as error:
        raise EnvironmentProblem(str(error)) from None
    return 0
