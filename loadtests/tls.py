"""How a load run trusts an https:// host: the system's CAs, ``--ca-cert FILE``, or ``--insecure``.

One function makes the ``ssl.SSLContext`` for both the preflight request and
every Locust process (each builds its own from the run's
:class:`~loadtests.spec.RunSpec`, which carries the options), so what the
preflight checked is what the load uses.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["INSECURE_WARNING", "TlsError", "client_context", "gevent_context"]

INSECURE_WARNING = (
    "WARNING: --insecure: TLS certificates are not verified; anyone between this machine "
    "and the host can read and change the traffic. Prefer --ca-cert FILE."
)


class TlsError(ValueError):
    """The TLS options cannot be used; the message says why."""


def client_context(ca_cert: str | Path | None = None, *, insecure: bool = False) -> ssl.SSLContext:
    """A client context: verifying against ``ca_cert`` (else the system's CAs), or not at all."""
    return _context(ssl.create_default_context, ca_cert, insecure)


def _context(factory: object, ca_cert: str | Path | None, insecure: bool) -> ssl.SSLContext:
    if insecure and ca_cert is not None:
        raise TlsError("--ca-cert and --insecure contradict each other; give one")
    try:
        cafile = str(ca_cert) if ca_cert else None
        context: ssl.SSLContext = factory(cafile=cafile)  # type: ignore[operator]
    except FileNotFoundError:
        raise TlsError(f"--ca-cert {ca_cert}: no such file") from None
    except (ssl.SSLError, OSError) as error:
        raise TlsError(
            f"--ca-cert {ca_cert}: not a PEM file of CA certificates ({error}); "
            f"give the CA bundle that signed the host's certificate"
        ) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def gevent_context(ca_cert: str | None, insecure: bool) -> ssl.SSLContext:
    """The same context for a Locust process, made by gevent's ``ssl`` (which Locust uses)."""
    import gevent.ssl

    return _context(gevent.ssl.create_default_context, ca_cert, insecure)
