"""Image builds are idempotent by content: what goes into a context, and its hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateproof.docker.images import (
    IMAGE_NAMES,
    BuildError,
    _closure,
    assemble_context,
    context_digest,
    repo_root,
)


def test_every_image_has_a_dockerfile_from_the_local_base() -> None:
    for name in IMAGE_NAMES:
        dockerfile = (repo_root() / "images" / name / "Dockerfile").read_text()
        assert "FROM gateproof/base:bookworm" in dockerfile
        assert "--pull" not in dockerfile


def test_the_hash_changes_with_any_byte_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    first = context_digest(tmp_path, "base")
    assert context_digest(tmp_path, "base") == first
    (tmp_path / "a.txt").write_text("two")
    assert context_digest(tmp_path, "base") != first
    (tmp_path / "a.txt").write_text("one")
    assert context_digest(tmp_path, "another base") != first


def test_the_orchestrator_context_holds_its_code_and_dependencies(tmp_path: Path) -> None:
    assemble_context("orchestrator", repo_root(), tmp_path)
    assert (tmp_path / "Dockerfile").exists()
    assert (tmp_path / "src/reference/orchestrator/app.py").exists()
    assert not (tmp_path / "src/reference/gateway").exists()
    for package in ("fastapi", "pydantic_core", "uvicorn", "docker", "httpx"):
        assert (tmp_path / "site-packages" / package).is_dir(), package
    assert not list(tmp_path.rglob("__pycache__"))


def test_dependencies_are_resolved_transitively_without_extras() -> None:
    names = {dist.metadata["Name"].lower().replace("_", "-") for dist in _closure(["fastapi"])}
    assert {"fastapi", "starlette", "pydantic", "pydantic-core", "anyio"} <= names


def test_a_package_missing_from_the_environment_says_where_to_install_it() -> None:
    with pytest.raises(BuildError, match="not installed"):
        _closure(["surely-not-a-real-package-name"])
