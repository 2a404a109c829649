"""``python -m reference.runtime --host 127.0.0.1 --port 9000``: serve one worker.

The function and its behaviour come from ``GATEPROOF_*`` environment
variables (see :mod:`reference.runtime.settings`); ``--function`` overrides
``GATEPROOF_FUNCTION``. ``--port 0`` picks a free port and reports it in the
ready line on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from reference.runtime.settings import FUNCTIONS, RuntimeSettings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reference.runtime",
        description="A Lambda-RIE-compatible worker with built-in test functions.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks one (8080)")
    parser.add_argument("--function", choices=FUNCTIONS, help="overrides GATEPROOF_FUNCTION")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when stdin closes (set by a parent that holds the other end of a pipe)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (warning)")
    args = parser.parse_args(argv)
    try:
        settings = RuntimeSettings.from_env(os.environ)
        if args.function:
            settings = dataclasses.replace(settings, function=args.function)
    except SettingsError as error:
        print(f"runtime: {error}", file=sys.stderr)
        return 2
    from reference.runtime.server import run  # uvicorn is imported only to serve

    return run(
        settings,
        args.host,
        args.port,
        exit_with_stdin=args.exit_with_stdin,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    sys.exit(main())
