"""Find a Docker engine that answers, or start one on a machine that has none.

An engine that already answers (a developer laptop, a CI service) is always
used as is. Only when none answers and we run as root do we install the
Debian packages and start ``dockerd --iptables=false`` ourselves: machines
of this project's kind have no engine and cannot reach a registry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reference.orchestrator.local import wait_until

__all__ = [
    "DEBIAN_PACKAGES",
    "EngineStatus",
    "EngineUnavailableError",
    "enable_hint",
    "engine_answers",
    "ensure_engine",
]

DEBIAN_PACKAGES = ("docker.io", "mmdebstrap")
DEFAULT_LOG = Path("/var/log/gateproof-dockerd.log")
_ANSWER_TIMEOUT = 10.0


class EngineUnavailableError(RuntimeError):
    """No Docker engine answers and none could be started; the message says what to do."""


@dataclass(frozen=True)
class EngineStatus:
    """What :func:`ensure_engine` found or did, for the caller to report."""

    started: bool
    installed: tuple[str, ...]
    log: Path | None
    server_version: str

    def describe(self) -> str:
        if not self.started:
            return f"docker: using the running engine (server {self.server_version})"
        installed = f"installed {', '.join(self.installed)}; " if self.installed else ""
        return (
            f"docker: no engine answered; {installed}started dockerd --iptables=false "
            f"(server {self.server_version}, log {self.log})"
        )


def enable_hint() -> str:
    """The one line that tells a user how to get an engine."""
    return (
        "start Docker (`sudo systemctl start docker`), or as root run `gateproof docker up`, "
        "which installs docker.io and starts dockerd"
    )


def server_version() -> str | None:
    """The engine's version if ``docker info`` answers, else None."""
    if shutil.which("docker") is None:
        return None
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=_ANSWER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def engine_answers() -> bool:
    return server_version() is not None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _missing_packages(packages: tuple[str, ...]) -> tuple[str, ...]:
    missing = []
    for package in packages:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in done.stdout:
            missing.append(package)
    return tuple(missing)


def install_packages(packages: tuple[str, ...] = DEBIAN_PACKAGES) -> tuple[str, ...]:
    """apt-get install the missing ``packages`` (root only); returns what it installed."""
    if shutil.which("dpkg-query") is None:
        return ()
    missing = _missing_packages(packages)
    if not missing:
        return ()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *missing]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise EngineUnavailableError(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()[-400:]}; "
                f"install {' '.join(missing)} by hand, then {enable_hint()}"
            )
    return missing


def start_dockerd(log: Path = DEFAULT_LOG, *, deadline: float = 60.0) -> str:
    """Start ``dockerd --iptables=false`` detached and wait until it answers.

    ``--iptables=false`` because these machines cannot program iptables; ports
    published on 127.0.0.1 still work through Docker's userland proxy.
    """
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailableError(f"dockerd is not installed; {enable_hint()}")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        subprocess.Popen(
            [dockerd, "--iptables=false"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command, as a service would
        )
    version = wait_until(server_version, deadline)
    if version is None:
        raise EngineUnavailableError(
            f"dockerd did not answer within {deadline:g}s; read {log} for the reason"
        )
    return version


def ensure_engine(*, allow_start: bool = True, log: Path = DEFAULT_LOG) -> EngineStatus:
    """An engine that answers: the running one, or (root only) one we install and start.

    Raises :class:`EngineUnavailableError` with instructions when neither works.
    """
    version = server_version()
    if version is not None:
        return EngineStatus(started=False, installed=(), log=None, server_version=version)
    if not allow_start or not _is_root():
        where = (
            "docker is not installed"
            if shutil.which("docker") is None
            else ("no Docker engine answers `docker info`")
        )
        raise EngineUnavailableError(f"{where}; {enable_hint()}")
    installed = install_packages()
    version = start_dockerd(log)
    return EngineStatus(started=True, installed=installed, log=log, server_version=version)
