"""Staging that is not there, refuses the credential, fails every call, or has its own CA.

Why: a run against a dead host used to spend its whole duration failing before it
said anything. Now one preflight request (DNS, TCP, TLS, HTTP) comes first and
fails in seconds naming the step (exit 3; a refused credential exit 2), a run
whose calls nearly all fail stops early (exit 1, the reason in load.json), and an
https:// host is verified in every Locust process: against ``--ca-cert``, or not
at all with ``--insecure`` (warned about). The HTTPS gateway here is the reference
gateway under uvicorn with a certificate made for the test by ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from load_helpers import gateproof_load, write_scenario

from loadtests.targets import gateway_config
from loadtests.tls import INSECURE_WARNING
from scenarios import load_scenario

pytestmark = pytest.mark.timeout(240)

ECHO = """\
name: echo-only
duration: 10
warmup: 2
seed: 5
functions:
  echo:
    scaling: {max_capacity: 4, min_capacity: 2, acquire_timeout: 2.0, idle_timeout: 300}
    service: {kind: constant, value: 0.005}
workload:
  echo:
    arrivals: {kind: poisson, rate: 20}
    payload: {message: hello}
slo: {error_rate: 0.5}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def answering(status: int) -> Iterator[tuple[str, list[str]]]:
    """A host on 127.0.0.1 that answers every request with ``status`` and a JSON error."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append(self.path)
            body = json.dumps({"code": "test", "message": "refused"}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("x-request-id", "r")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_port_nobody_listens_on_fails_the_preflight_naming_tcp(tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{_free_port()}"
    run = gateproof_load(write_scenario(tmp_path, ECHO), "--host", host, out=tmp_path / "out")
    assert run.status == 3, run.stdout + run.stderr
    assert "preflight: TCP:" in run.stderr and "refused the connection" in run.stderr
    assert f"curl -v {host}" in run.stderr  # how to check it by hand
    assert not (tmp_path / "out" / "locust-output.txt").exists()  # no load was started


def test_a_name_that_does_not_resolve_fails_the_preflight_naming_dns(tmp_path: Path) -> None:
    host = "http://no-such-host.invalid:8080"
    run = gateproof_load(write_scenario(tmp_path, ECHO), "--host", host, out=tmp_path / "out")
    assert run.status == 3, run.stdout + run.stderr
    assert "preflight: DNS:" in run.stderr and "no-such-host.invalid" in run.stderr


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_credential_exits_2_naming_the_credential_options(
    tmp_path: Path, status: int
) -> None:
    with answering(status) as (host, seen):
        run = gateproof_load(write_scenario(tmp_path, ECHO), "--host", host, out=tmp_path / "out")
    assert run.status == 2, run.stdout + run.stderr
    assert f"answered {status}" in run.stderr and "--token-env" in run.stderr
    assert "--credentials" in run.stderr
    assert seen == ["/2015-03-31/functions/echo/invocations"]  # the preflight, and nothing else


def test_a_run_whose_calls_all_fail_stops_early_with_the_reason_in_load_json(
    tmp_path: Path,
) -> None:
    with answering(500) as (host, seen):
        run = gateproof_load(
            write_scenario(tmp_path, ECHO),
            "--host", host,
            "--set", "duration=120", "--set", "warmup=0",
            "--early-stop-window", "3",
            "--no-predict",
            out=tmp_path / "out",
        )  # fmt: skip
    assert run.status == 1, run.stdout + run.stderr
    report = run.report
    assert report["stopped_early"] and "stopped early" in report["stopped_early"]
    assert report["complete"] is False
    assert report["stopped_early"] in report["notes"]
    assert "stopped early" in run.stderr
    assert len(seen) > 1  # the load ran, then stopped


# -- https ---------------------------------------------------------------------------------


@dataclass
class Https:
    url: str
    ca: Path  # the CA that signed the gateway's certificate
    other_ca: Path  # a CA that did not


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None = None,
    signer: ec.EllipticCurvePrivateKey | None = None, *, ca: bool,
) -> x509.Certificate:  # fmt: skip
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer or key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def make_certificates(folder: Path) -> tuple[Path, Path, Path, Path]:
    """A CA, a server certificate for 127.0.0.1 it signed, and an unrelated CA."""
    ca_key, server_key = _key(), _key()
    ca = _certificate("gateproof test CA", ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    other = _certificate("another CA", _key(), ca=True)
    paths = [folder / name for name in ("ca.pem", "server.pem", "server.key", "other-ca.pem")]
    paths[0].write_bytes(_pem(ca))
    paths[1].write_bytes(_pem(server))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[3].write_bytes(_pem(other))
    return paths[0], paths[1], paths[2], paths[3]


@pytest.fixture(scope="module")
def https_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    """The reference gateway (in-process workers) under uvicorn, serving https on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("https")
    ca, certificate, key, other_ca = make_certificates(folder)
    scenario = write_scenario(folder, ECHO)
    functions, routing = gateway_config(load_scenario(scenario))
    (folder / "functions.yml").write_text(functions)
    (folder / "routing.yml").write_text(routing)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEPROOF_")}
    env |= {
        "GATEPROOF_BACKEND": "inprocess",
        "GATEPROOF_FUNCTIONS_FILE": str(folder / "functions.yml"),
        "GATEPROOF_ROUTING_FILE": str(folder / "routing.yml"),
        "GATEPROOF_ACCESS_LOG": "false",
    }
    argv = [sys.executable, "-m", "uvicorn", "--factory", "reference.gateway.main:create_app"]
    argv += ["--host", "127.0.0.1", "--port", "0", "--no-access-log"]
    argv += ["--ssl-certfile", str(certificate), "--ssl-keyfile", str(key)]
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        port = None
        for _ in range(50):  # bounded: uvicorn's banner is among its first lines
            line = process.stderr.readline()
            found = re.search(r"running on https://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
            if not line:
                break
        assert port is not None, f"uvicorn did not start (exit status {process.poll()})"
        yield Https(f"https://127.0.0.1:{port}", ca, other_ca)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


@pytest.mark.parametrize("ca", [None, "other"], ids=["system-CAs", "another-CA"])
def test_an_untrusted_certificate_fails_the_preflight_naming_the_tls_options(
    tmp_path: Path, https_gateway: Https, ca: str | None
) -> None:
    options = ["--ca-cert", str(https_gateway.other_ca)] if ca else []
    run = gateproof_load(
        write_scenario(tmp_path, ECHO), "--host", https_gateway.url, *options,
        out=tmp_path / "out",
    )  # fmt: skip
    assert run.status == 3, run.stdout + run.stderr
    assert "preflight: TLS:" in run.stderr and "not trusted" in run.stderr
    assert "--ca-cert FILE" in run.stderr and "--insecure" in run.stderr


def test_the_ca_cert_is_verified_against_in_every_locust_process(
    tmp_path: Path, https_gateway: Https
) -> None:
    """Two Locust worker processes: a worker without the CA would fail every call it made."""
    run = gateproof_load(
        write_scenario(tmp_path, ECHO), "--host", https_gateway.url,
        "--ca-cert", str(https_gateway.ca), "--processes", "2", "--no-predict",
        out=tmp_path / "out",
    )  # fmt: skip
    assert run.status == 0, run.stdout + run.stderr[-3000:]
    report = run.report
    statuses = report["overall"]["responses_by_status"]
    assert report["overall"]["requests"] > 0 and set(statuses) == {"200"}, statuses
    assert report["tls"] == {"verify": True, "ca_cert": str(https_gateway.ca), "warning": None}
    assert "WARNING" not in run.stdout


def test_insecure_skips_verification_and_says_so_in_the_output_and_load_json(
    tmp_path: Path, https_gateway: Https
) -> None:
    run = gateproof_load(
        write_scenario(tmp_path, ECHO), "--host", https_gateway.url, "--insecure",
        "--no-predict",
        out=tmp_path / "out",
    )  # fmt: skip
    assert run.status == 0, run.stdout + run.stderr[-3000:]
    assert INSECURE_WARNING in run.stdout
    report = run.report
    assert report["tls"]["verify"] is False and report["tls"]["warning"] == INSECURE_WARNING
    assert INSECURE_WARNING in report["notes"]
    assert set(report["overall"]["responses_by_status"]) == {"200"}


def test_the_locust_users_verify_with_the_runs_ca_in_each_process(
    tmp_path: Path, https_gateway: Https
) -> None:
    """What every Locust process builds from the run's spec (the env variable each one reads)."""
    from loadtests.spec import ENV_VAR, RunSpec

    spec = RunSpec(str(write_scenario(tmp_path, ECHO)), ca_cert=str(https_gateway.ca))
    probe = (
        "import ssl\n"
        "from loadtests.locustfile import ScenarioUser as U\n"
        "c = U.ssl_context_factory()\n"
        "print(U.insecure, c.verify_mode == ssl.CERT_REQUIRED, c.cert_store_stats()['x509_ca'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, ENV_VAR: spec.to_env()},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    insecure, required, cas = done.stdout.split()
    assert (insecure, required, cas) == ("False", "True", "1")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--ca-cert", "missing.pem"], "no such file"),
        (["--ca-cert", "ECHO"], "not a PEM file"),
    ],
)
def test_a_bad_ca_cert_is_refused_before_any_request(
    tmp_path: Path, options: list[str], says: str
) -> None:
    scenario = write_scenario(tmp_path, ECHO)
    options = [str(scenario) if value == "ECHO" else value for value in options]
    with answering(200) as (host, seen):
        run = gateproof_load(
            scenario, "--host", host.replace("http://", "https://"), *options,
            out=tmp_path / "out",
        )  # fmt: skip
    assert run.status == 2, run.stdout + run.stderr
    assert says in run.stderr and seen == []
