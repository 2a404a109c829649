"""functions.yml and routing.yml: what is accepted, and how a broken file is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.gateway.core.errors import (
    InvalidFunctionName,
    MethodNotAllowed,
    RouteNotFound,
    UnknownFunction,
)
from reference.gateway.core.settings import CONFIG_DIR
from reference.gateway.services.config_file import ConfigFileError
from reference.gateway.services.registry import FunctionRegistry, deep_merge, load_functions
from reference.gateway.services.routing import load_routes


def write(tmp_path: Path, text: str, name: str = "functions.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_sample_files_declare_echo_sleep_fail_and_cpu_and_route_to_them() -> None:
    functions = load_functions(CONFIG_DIR / "functions.yml")
    assert set(functions) == {"echo", "sleep", "fail", "cpu"}
    assert all(f.environment["GATEPROOF_FUNCTION"] == name for name, f in functions.items())
    routes = load_routes(CONFIG_DIR / "routing.yml", functions)
    assert {route.function for route in routes.routes} == set(functions)


def test_defaults_are_deep_merged_and_a_functions_own_keys_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
defaults:
  timeout_seconds: 7
  environment: {A: "1"}
  scaling: {max_capacity: 3, acquire_timeout: 2}
functions:
  f:
    environment: {B: "2"}
    scaling: {max_capacity: 9}
  g: {}
""",
    )
    functions = load_functions(path)
    assert functions["f"].scaling.max_capacity == 9
    assert functions["f"].scaling.acquire_timeout == 2  # merged key by key
    assert functions["f"].environment == {"A": "1", "B": "2"}
    assert functions["g"].timeout_seconds == 7 and functions["g"].scaling.max_capacity == 3


def test_deep_merge_does_not_modify_its_inputs() -> None:
    base = {"a": {"x": 1}}
    merged = deep_merge(base, {"a": {"y": 2}})
    assert merged == {"a": {"x": 1, "y": 2}} and base == {"a": {"x": 1}}


def test_env_references_are_substituted_with_fallbacks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "functions:\n  f:\n    image: ${IMG}\n    environment: {X: '${MISSING:-dflt}'}\n",
    )
    f = load_functions(path, env={"IMG": "repo/img:1"})["f"]
    assert f.image == "repo/img:1" and f.environment == {"X": "dflt"}


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("functions:\n  f: {imgae: x}\n", "functions.f.imgae", "unknown key"),
        (
            "functions:\n  f: {scaling: {max_capacty: 2}}\n",
            "functions.f.scaling.max_capacty",
            "unknown key",
        ),
        (
            "functions:\n  f: {scaling: {max_capacity: 0}}\n",
            "functions.f.scaling.max_capacity",
            "greater",
        ),
        ("functions:\n  f: {timeout_seconds: -1}\n", "functions.f.timeout_seconds", "greater"),
        ("functionz: {}\n", "functionz", "unknown key"),
        ("functions:\n  f: {image: '${NOPE}'}\n", "functions.f.image", "NOPE is not set"),
        ("functions:\n  ../x: {}\n", "functions.../x", "name must be"),
        ("functions: {}\n", "functions", "no function"),
    ],
)
def test_a_broken_file_names_the_file_the_key_and_the_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as caught:
        load_functions(path, env={})
    assert caught.value.path == str(path) and caught.value.key == key
    assert reason in caught.value.reason
    assert str(path) in str(caught.value) and key in str(caught.value)


def test_malformed_yaml_and_a_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        load_functions(write(tmp_path, "functions: [unclosed"))
    with pytest.raises(ConfigFileError, match="cannot be read"):
        load_functions(tmp_path / "absent.yml")
    with pytest.raises(ConfigFileError, match="mapping at the top level"):
        load_functions(write(tmp_path, "- a list\n"))


def test_the_registry_tells_unknown_from_malformed_names() -> None:
    registry = FunctionRegistry.from_file(CONFIG_DIR / "functions.yml")
    assert registry.get("echo").name == "echo"
    with pytest.raises(UnknownFunction, match="known: cpu, echo, fail, sleep"):
        registry.get("nope")
    for bad in ("../echo", "a/b", "x\r\ny", "", "a" * 65, "é"):
        with pytest.raises(InvalidFunctionName):
            registry.get(bad)


def test_routes_match_in_order_with_path_parameters(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
routes:
  - {path: /items/special, method: GET, function: b}
  - {path: "/items/{id}", method: GET, function: a}
  - {path: "/files/{rest+}", function: a}
""",
        "routing.yml",
    )
    table = load_routes(path, ["a", "b"])
    assert table.match("/items/special", "GET").route.function == "b"
    found = table.match("/items/42", "get")
    assert found.route.function == "a" and found.path_params == {"id": "42"}
    assert table.match("/files/x/y.txt", "DELETE").path_params == {"rest": "x/y.txt"}
    with pytest.raises(MethodNotAllowed) as refused:  # the path is routed, not for POST
        table.match("/items/42", "POST")
    assert refused.value.allow == ["GET"]
    with pytest.raises(RouteNotFound):
        table.match("/items/4/2", "GET")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("routes:\n  - {path: /x, function: ghost}\n", "routes[0].function"),
        ("routes:\n  - {path: x, function: a}\n", "routes[0].path"),
        ("routes:\n  - {path: /x, method: FETCH, function: a}\n", "routes[0].method"),
        ("routes:\n  - {path: /x, function: a, extra: 1}\n", "routes[0].extra"),
    ],
)
def test_a_broken_routing_file_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text, "routing.yml")
    with pytest.raises(ConfigFileError) as caught:
        load_routes(path, ["a"])
    assert caught.value.key == key and str(path) in str(caught.value)
