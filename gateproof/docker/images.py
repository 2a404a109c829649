"""Build the project's images locally, idempotently, with no registry.

``gateproof/base:bookworm`` is a Debian root file system made by
``mmdebstrap`` from the machine's own apt sources and loaded with
``docker import``; every other image (one folder each under ``images/``)
starts ``FROM`` it and is never pulled. Each image carries the hash of its
build context in the label :data:`HASH_LABEL`; a build is skipped when an
image with that name and hash exists.

Python packages reach the images as a copy of the installed distributions of
the build machine's Python 3.11 environment (the venv): the images run the
very versions the unit tests ran, and Debian's python3 is 3.11 too, so
compiled wheels (pydantic-core) load as they are. Debian's own packages are
older majors (pydantic 1, FastAPI 0.92) and would drift from what is tested.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

__all__ = [
    "BASE_IMAGE",
    "BASE_PACKAGES",
    "HASH_LABEL",
    "IMAGE_NAMES",
    "BuildError",
    "BuildResult",
    "build_all",
    "build_base",
    "build_image",
    "image_hash",
    "repo_root",
]

BASE_IMAGE = "gateproof/base:bookworm"
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "redis-server", "ca-certificates")
HASH_LABEL = "org.gateproof.context-hash"
IMAGE_NAMES = ("runtime", "orchestrator", "redis")
IMAGE_PYTHON = (3, 11)  # Debian bookworm's python3
_BUILD_TIMEOUT = 900.0

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """An image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class BuildResult:
    image: str
    digest: str
    built: bool
    seconds: float

    def describe(self) -> str:
        action = f"built in {self.seconds:.1f}s" if self.built else "up to date"
        return f"{self.image}: {action} (context {self.digest[:12]})"


def repo_root() -> Path:
    """The source tree: the images' Dockerfiles live at its top level."""
    return Path(__file__).resolve().parents[2]


def tag(name: str) -> str:
    return f"gateproof/{name}:latest"


def _docker(*args: str, timeout: float = 60.0, input_path: Path | None = None) -> str:
    stdin = input_path.open("rb") if input_path else subprocess.DEVNULL
    try:
        done = subprocess.run(
            ["docker", *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        if input_path:
            stdin.close()  # type: ignore[union-attr]
    if done.returncode != 0:
        raise BuildError(f"`docker {' '.join(args[:3])} ...` failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def image_hash(image: str) -> str | None:
    """The context hash an existing image was built from, or None if it is absent."""
    done = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}',
            image,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        return None
    value = done.stdout.strip()
    return value if value and value != "<no value>" else ""


# -- base image ------------------------------------------------------------


def base_digest() -> str:
    recipe = f"mmdebstrap --variant=apt {BASE_SUITE} {','.join(sorted(BASE_PACKAGES))}"
    return hashlib.sha256(recipe.encode()).hexdigest()


def build_base(*, force: bool = False, log: Log = print) -> BuildResult:
    """``mmdebstrap`` a Debian root file system and ``docker import`` it (about a minute)."""
    digest = base_digest()
    if not force and image_hash(BASE_IMAGE) == digest:
        return BuildResult(BASE_IMAGE, digest, built=False, seconds=0.0)
    if shutil.which("mmdebstrap") is None:
        raise BuildError(
            "mmdebstrap is not installed; run `apt-get install -y mmdebstrap` "
            "(or `gateproof docker up` as root), then `gateproof images` again"
        )
    log(f"{BASE_IMAGE}: mmdebstrap {BASE_SUITE} with {', '.join(BASE_PACKAGES)} ...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gateproof-base-") as tmp:
        tarball = Path(tmp) / "base.tar"
        done = subprocess.run(
            [
                "mmdebstrap",
                "--variant=apt",
                "--quiet",
                f"--include={','.join(BASE_PACKAGES)}",
                "--aptopt=Acquire::Retries 3",
                BASE_SUITE,
                str(tarball),
            ],
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise BuildError(
                f"mmdebstrap failed ({done.returncode}); check the machine's apt sources: "
                f"{done.stderr.strip()[-800:]}"
            )
        _docker(
            "import",
            "--change",
            f"LABEL {HASH_LABEL}={digest}",
            "--change",
            'CMD ["python3"]',
            "-",
            BASE_IMAGE,
            timeout=_BUILD_TIMEOUT,
            input_path=tarball,
        )
    return BuildResult(BASE_IMAGE, digest, built=True, seconds=time.monotonic() - started)


# -- images from images/<name>/ --------------------------------------------


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _closure(names: Iterable[str]) -> list[metadata.Distribution]:
    """Installed distributions ``names`` need at run time (extras left out)."""
    env = default_environment()
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BuildError(
                f"python package {name!r} is not installed in {sys.prefix}; "
                f"install gateproof's dependencies there first"
            ) from None
        seen[name] = dist
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({**env, "extra": ""}):
                todo.append(requirement.name)
    return [seen[name] for name in sorted(seen)]


def _copy_site_packages(names: list[str], target: Path) -> None:
    if names and sys.version_info[:2] != IMAGE_PYTHON:
        raise BuildError(
            f"images run Debian's Python {IMAGE_PYTHON[0]}.{IMAGE_PYTHON[1]} but this is "
            f"{sys.version_info[0]}.{sys.version_info[1]}; run `gateproof images` from a "
            f"Python 3.11 environment"
        )
    target.mkdir(parents=True, exist_ok=True)
    for dist in _closure(names):
        root = Path(str(dist.locate_file("")))
        for relative in dist.files or []:
            parts = Path(str(relative)).parts
            if not parts or parts[0] == ".." or "__pycache__" in parts:
                continue
            source = root / relative
            if source.is_file():
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


def _copy_sources(paths: list[str], root: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in paths:
        source = root / entry
        if not source.exists():
            raise BuildError(f"{entry} is missing from the source tree; an image needs it")
        if source.is_dir():
            shutil.copytree(
                source,
                target / entry,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"),
            )
        else:
            (target / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / entry)


def assemble_context(name: str, root: Path, target: Path) -> None:
    """Lay out the build context of ``images/<name>`` in ``target``."""
    folder = root / "images" / name
    if not (folder / "Dockerfile").exists():
        raise BuildError(f"images/{name}/Dockerfile is missing; known images: {IMAGE_NAMES}")
    shutil.copy2(folder / "Dockerfile", target / "Dockerfile")
    _copy_sources(_lines(folder / "sources.txt"), root, target / "src")
    _copy_site_packages(_lines(folder / "python-deps.txt"), target / "site-packages")


def context_digest(context: Path, base_digest_value: str) -> str:
    """Hash of every file's path and bytes, plus the base it builds on."""
    digest = hashlib.sha256(base_digest_value.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_image(name: str, *, root: Path | None = None, force: bool = False) -> BuildResult:
    """Build ``gateproof/<name>:latest`` unless an image with the same context hash exists."""
    root = root or repo_root()
    image = tag(name)
    with tempfile.TemporaryDirectory(prefix=f"gateproof-{name}-") as tmp:
        context = Path(tmp)
        assemble_context(name, root, context)
        digest = context_digest(context, base_digest())
        if not force and image_hash(image) == digest:
            return BuildResult(image, digest, built=False, seconds=0.0)
        started = time.monotonic()
        _docker(
            "build",
            "--label",
            f"{HASH_LABEL}={digest}",
            "--tag",
            image,
            str(context),
            timeout=_BUILD_TIMEOUT,
        )
    return BuildResult(image, digest, built=True, seconds=time.monotonic() - started)


def build_all(
    names: Iterable[str] = IMAGE_NAMES, *, force: bool = False, log: Log = print
) -> list[BuildResult]:
    """The base image, then each named image; each step is skipped when up to date."""
    results = [build_base(force=force, log=log)]
    log(results[-1].describe())
    for name in names:
        results.append(build_image(name, force=force))
        log(results[-1].describe())
    return results
