"""`gateproof serve`: run the reference gateway on this machine, no Docker needed.

By default workers are runtime subprocesses on 127.0.0.1 (the process
backend) and the sample ``functions.yml`` and ``routing.yml`` are used, so a
fresh clone answers at once::

    gateproof serve --port 8000
    curl -s -XPOST localhost:8000/2015-03-31/functions/echo/invocations -d '{"hi": 1}'

Every ``GATEPROOF_*`` setting of the gateway applies; options win over them.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from gateproof.cli import EXIT_ENVIRONMENT, EXIT_OK, EnvironmentProblem, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the reference gateway (process backend, sample functions) on 127.0.0.1",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any)")
    parser.add_argument("--functions", type=Path, help="functions.yml (default: the sample)")
    parser.add_argument("--routing", type=Path, help="routing.yml (default: the sample)")
    parser.add_argument(
        "--backend", help="where workers run: process (default), inprocess or docker"
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not print the JSON access log"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from reference.gateway.core.factory import UnknownBackendError, create_container
    from reference.gateway.core.settings import GatewaySettings
    from reference.gateway.main import create_app
    from reference.gateway.services.config_file import ConfigFileError

    overrides = {
        key: value
        for key, value in {
            "functions_file": args.functions,
            "routing_file": args.routing,
            "backend": args.backend,
            "access_log": False if args.no_access_log else None,
        }.items()
        if value is not None
    }
    try:
        settings = GatewaySettings(**overrides)
        container = create_container(settings)
    except (ConfigFileError, UnknownBackendError, ValueError) as error:
        raise UsageError(str(error)) from None
    sock = _bind(args.host, args.port)
    app = create_app(settings, container=container)
    config = uvicorn.Config(
        app,
        loop="auto",  # uvloop and httptools (uvicorn[standard]) when installed: C, not Python
        http="auto",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    print(
        f"gateproof serve: gateway on http://{host}:{port} (backend {settings.backend}, "
        f"functions {settings.functions_file}, routing {settings.routing_file}, "
        f"auth {'on' if container.access.enabled else 'off'}); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled with a clean shutdown
    return EXIT_OK if server.started else EXIT_ENVIRONMENT


def _bind(host: str, port: int) -> socket.socket:
    """Bind before starting, so a busy port is reported plainly (and --port 0 works)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP; without it Nagle and delayed ACKs add 40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise EnvironmentProblem(
                f"port {port} on {host} is in use; stop what holds it or pass --port"
            ) from None
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
