"""The refactor's structural rules (seed 000's checklist), checked on the source itself."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import reference.gateway.main as main_module
from reference.gateway.services import invoker as invoker_module
from reference.gateway.services.invoker import LambdaInvoker

GATEWAY = Path(main_module.__file__).parent


def _tree(module: object) -> ast.Module:
    return ast.parse(inspect.getsource(module))  # type: ignore[arg-type]


def test_no_lambda_invoker_method_is_longer_than_30_lines() -> None:
    cls = next(
        node
        for node in ast.walk(_tree(invoker_module))
        if isinstance(node, ast.ClassDef) and node.name == LambdaInvoker.__name__
    )
    lengths = {
        node.name: node.end_lineno - node.lineno + 1  # type: ignore[operator]
        for node in cls.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert {"_acquire_worker", "_execute_request", "_validate_response"} <= set(lengths)
    assert max(lengths.values()) <= 30, lengths


def test_the_invoker_never_asks_which_backend_it_holds() -> None:
    source = inspect.getsource(invoker_module)
    for backend in ("InProcessBackend", "ProcessBackend", "DockerBackend", "backends.process"):
        assert backend not in source
    calls = [
        node
        for node in ast.walk(_tree(invoker_module))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "type")
    ]
    assert all("backend" not in ast.unparse(call) for call in calls)


def test_main_holds_no_business_logic() -> None:
    source = (GATEWAY / "main.py").read_text()
    for forbidden in ("json.dumps", "event_builder", "EventBuilder", "invoke_function", "httpx"):
        assert forbidden not in source, forbidden


WEB_FRAMEWORKS = {"fastapi", "starlette"}


def layer_modules(gateway: Path) -> list[Path]:
    """Every module of the service and domain layers, subpackages (services/auth/) included."""
    return sorted([*(gateway / "services").rglob("*.py"), *(gateway / "models").rglob("*.py")])


def web_imports(path: Path) -> set[str]:
    """The web frameworks a module imports, at any depth of its code."""
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    return imported & WEB_FRAMEWORKS


def test_the_service_layer_never_imports_fastapi_or_starlette() -> None:
    modules = layer_modules(GATEWAY)

    assert GATEWAY / "services" / "auth" / "authorizer.py" in modules  # subpackages are read
    offenders = {str(path.relative_to(GATEWAY)): web_imports(path) for path in modules}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_layer_rule_finds_a_web_import_in_a_nested_subpackage(tmp_path: Path) -> None:
    nested = tmp_path / "services" / "auth" / "deep"
    nested.mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (nested / "handler.py").write_text("def f():\n    from starlette.requests import Request\n")

    found = {
        path.relative_to(tmp_path).as_posix(): web_imports(path) for path in layer_modules(tmp_path)
    }

    assert found == {"services/auth/deep/handler.py": {"starlette"}}
