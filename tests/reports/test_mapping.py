"""The mapping file: pointing a gate's names at a tree laid out its own way."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import gateproof

from reports.mapping import (
    UNRESOLVED,
    MappingError,
    builtin_mapping,
    default_mapping,
    load_mapping,
)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tree" / "tests").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return path


def test_paths_are_relative_to_the_mapping_file_and_its_root(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, "root: tree\nsource: app\nworkers: 2\n"))
    assert mapping.root == (tmp_path / "tree").resolve()
    assert mapping.source == (tmp_path / "tree" / "app").resolve()
    assert mapping.tests == ["tests"]  # the root's tests/ by default
    assert mapping.workers == "2"


def test_a_class_target_follows_its_file_s_mapping_unless_mapped_whole(tmp_path: Path) -> None:
    mapping = load_mapping(
        write(
            tmp_path,
            "root: tree\ntargets:\n"
            "  services/lambda_invoker.py: app/invoke.py\n"
            "  services/clients.py::HeartbeatClient: app/beat.py::Beat\n"
            "  services/container_cache.py: null\n",
        )
    )
    assert (
        mapping.target("services/lambda_invoker.py::LambdaInvoker")
        == "app/invoke.py::LambdaInvoker"
    )
    assert mapping.target("services/clients.py::HeartbeatClient") == "app/beat.py::Beat"
    assert mapping.target("main.py") == "main.py"  # unmapped: the name stands for itself
    assert mapping.target("services/container_cache.py") is UNRESOLVED
    assert mapping.target("services/container_cache.py::Cache") is UNRESOLVED


def test_selections_take_paths_and_pytest_arguments(tmp_path: Path) -> None:
    mapping = load_mapping(
        write(
            tmp_path,
            "root: tree\nselections:\n"
            "  tests/stress: {paths: [tests/concurrency], args: [-p, no:randomly]}\n"
            "  tests/unit/test_lambda_invoker_isolation.py: null\n",
        )
    )
    assert mapping.selection("tests/stress") == (["tests/concurrency"], ["-p", "no:randomly"])
    assert mapping.selection("tests/unit/test_lambda_invoker_isolation.py") is None
    assert mapping.selection("tests/other") == (["tests/other"], [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("root: tree\ntarget: {}\n", "unknown keys ['target']"),
        ("root: nowhere\n", "is not a directory"),
        ("root: tree\ntargets: [a, b]\n", "`targets` must map gate names"),
        ("root: [unclosed\n", "is not valid YAML"),
        ("root: tree\nload: scenarios/steady.yaml\n", "`load` must be a mapping with `scenario:`"),
    ],
)
def test_a_broken_mapping_says_what_to_change(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MappingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_mapping(write(tmp_path, text))


def test_a_broken_mapping_is_bad_input_for_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, "root: tree\nsurprise: 1\n")
    done = gateproof(
        "report", "--phase", "0", "--target", "tree", "--mapping", str(path), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "unknown keys ['surprise']" in done.stderr and "Traceback" not in done.stderr


def test_the_shipped_mappings_point_at_trees_that_exist() -> None:
    for target in ("reference", "legacy"):
        mapping = builtin_mapping(target)
        assert mapping.source.is_dir()
        assert all((mapping.root / test).exists() for test in mapping.tests)
    reference = builtin_mapping("reference")
    assert reference.target("auth/**") == ["services/auth/**", "api/routers/auth.py"]
    assert all(list((reference.source).glob(glob)) for glob in reference.target("auth/**"))
    assert reference.load is not None
    assert (reference.root / reference.load["scenario"]).is_file()


def test_without_a_mapping_a_gate_s_own_paths_start_at_the_tree_wherever_the_suite_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "their-gateway"
    (tree / "tests" / "stress").mkdir(parents=True)
    (tree / "app").mkdir()
    monkeypatch.chdir(tmp_path)  # the user is above the tree: the suite runs from here
    mapping = default_mapping(Path("their-gateway"))
    assert (mapping.root, mapping.tests) == (tmp_path, ["their-gateway/tests"])
    assert mapping.selection("tests/stress") == (["their-gateway/tests/stress"], [])
    assert mapping.selection("tests/stress::test_a") == (["their-gateway/tests/stress::test_a"], [])
    monkeypatch.chdir(tree)  # from the tree itself, the names are as the gate wrote them
    mapping = default_mapping(Path("."))
    assert (mapping.root, mapping.selection("tests/stress")) == (tree, (["tests/stress"], []))
