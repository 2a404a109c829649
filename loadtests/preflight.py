"""One request to a ``--host`` before any load: DNS, TCP, TLS, then an HTTP answer.

Why: a run against a host that is not there used to spend its whole duration
failing before it said anything useful. The preflight takes seconds and names
the step that failed and how to check it by hand. It sends the run's first
request (the scenario's first function, with the run's headers and
credential), so a credential the host refuses is caught too: 401 or 403 is the
user's input to fix (exit 2), anything else that fails is the environment's
(exit 3). Any other HTTP answer, even a 5xx, means the host is there.
"""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

__all__ = ["CREDENTIAL_OPTIONS", "PreflightError", "PreflightRequest", "preflight"]

STEP_TIMEOUT_S = 5.0  # each of DNS, TCP and TLS
HTTP_TIMEOUT_S = 15.0  # the answer may be a cold start
CREDENTIAL_OPTIONS = (
    "--token-env VAR (a bearer token), --header 'Name: value' or --credentials FILE"
)


class PreflightError(RuntimeError):
    """The host failed the preflight; ``credentials`` when it refused the run's credential."""

    def __init__(self, message: str, *, credentials: bool = False) -> None:
        super().__init__(message)
        self.credentials = credentials


@dataclass(frozen=True)
class PreflightRequest:
    method: str
    path: str
    body: bytes
    headers: Mapping[str, str]


def preflight(url: str, request: PreflightRequest, context: ssl.SSLContext | None) -> str:
    """Check ``url`` step by step; returns what answered, or raises :class:`PreflightError`.

    ``context`` is the TLS context the load will use (None for http://).
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _resolve(host, port)
    with _connect(address, host, port, url) as sock:
        if parts.scheme == "https":
            assert context is not None
            _handshake(sock, context, host, port)
    return _answer(url, request, context)


def _resolve(host: str, port: int) -> tuple[str, int]:
    found: list[tuple[str, int]] = []
    errors: list[OSError] = []

    def lookup() -> None:
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.append(info[0][4][:2])
        except OSError as error:
            errors.append(error)

    thread = threading.Thread(target=lookup, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(STEP_TIMEOUT_S)
    if errors:
        raise PreflightError(
            f"DNS: cannot resolve {host!r} ({errors[0]}); check the name "
            f"(getent hosts {host}) and the resolver this machine uses"
        )
    if not found:
        raise PreflightError(
            f"DNS: no answer for {host!r} within {STEP_TIMEOUT_S:g} s; check the resolver "
            f"(getent hosts {host})"
        )
    return found[0]


def _connect(address: tuple[str, int], host: str, port: int, url: str) -> socket.socket:
    try:
        return socket.create_connection(address, timeout=STEP_TIMEOUT_S)
    except ConnectionRefusedError:
        raise PreflightError(
            f"TCP: {host}:{port} ({address[0]}) refused the connection: nothing listens there; "
            f"check the port and that the gateway runs (curl -v {url})"
        ) from None
    except TimeoutError:
        raise PreflightError(
            f"TCP: {host}:{port} ({address[0]}) did not accept a connection within "
            f"{STEP_TIMEOUT_S:g} s; check a firewall, VPN or security group (curl -v {url})"
        ) from None
    except OSError as error:
        raise PreflightError(
            f"TCP: cannot connect to {host}:{port} ({address[0]}): {error}; check the network "
            f"route to it (curl -v {url})"
        ) from None


def _handshake(sock: socket.socket, context: ssl.SSLContext, host: str, port: int) -> None:
    try:
        with context.wrap_socket(sock, server_hostname=host):
            return
    except ssl.SSLCertVerificationError as error:
        raise PreflightError(
            f"TLS: the certificate of {host}:{port} is not trusted ({error.verify_message}); "
            f"give the CA that signed it with --ca-cert FILE, or --insecure to skip "
            f"verification (openssl s_client -connect {host}:{port} -showcerts)"
        ) from None
    except (ssl.SSLError, OSError) as error:
        raise PreflightError(
            f"TLS: the handshake with {host}:{port} failed ({error}); is it an https:// port? "
            f"(openssl s_client -connect {host}:{port})"
        ) from None


def _answer(url: str, request: PreflightRequest, context: ssl.SSLContext | None) -> str:
    verify: ssl.SSLContext | bool = context if context is not None else True
    target = f"{request.method} {request.path}"
    try:
        with httpx.Client(verify=verify, timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            reply = client.request(
                request.method, url + request.path, content=request.body, headers=request.headers
            )
    except httpx.TimeoutException:
        raise PreflightError(
            f"HTTP: {target} got no answer within {HTTP_TIMEOUT_S:g} s; check the host's logs "
            f"(curl -v -X {request.method} {url}{request.path})"
        ) from None
    except httpx.HTTPError as error:
        raise PreflightError(
            f"HTTP: {target} failed ({type(error).__name__}: {error}); "
            f"(curl -v -X {request.method} {url}{request.path})"
        ) from None
    if reply.status_code in (401, 403):
        raise PreflightError(
            f"the host answered {reply.status_code} to the run's first request ({target}): "
            f"it refuses the credential sent; give one with {CREDENTIAL_OPTIONS}",
            credentials=True,
        )
    return f"{target} answered {reply.status_code}"
