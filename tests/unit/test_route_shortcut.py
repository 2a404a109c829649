"""RouteShortcut serves its routes' endpoints itself and passes every other request on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request, Response

from reference.gateway.api.middleware import GatewayMiddleware
from reference.gateway.api.shortcut import RouteShortcut
from reference.gateway.core.errors import BadRequest
from reference.gateway.main import create_app

router = APIRouter()


@router.post("/functions/{name}/invocations")
async def hot(request: Request) -> Response:
    if request.path_params["name"] == "bad":
        raise BadRequest("that name is refused here")
    body = await request.body()
    return Response(b"hot:" + request.path_params["name"].encode() + b":" + body)


class Inner:
    """The rest of the app: answers 299 and remembers what reached it."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append((scope["method"], scope["path"]))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def client(inner: Inner) -> httpx.AsyncClient:
    app = RouteShortcut(inner, router=router)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw")


async def test_a_matching_request_is_served_by_the_endpoint_with_its_path_params() -> None:
    inner = Inner()
    async with client(inner) as http:
        response = await http.post("/functions/echo/invocations", content=b"payload")
    assert response.status_code == 200 and response.content == b"hot:echo:payload"
    assert inner.paths == []


async def test_other_paths_go_to_the_rest_of_the_app() -> None:
    inner = Inner()
    async with client(inner) as http:
        other_path = await http.post("/functions/echo/invocations/extra")
    assert other_path.status_code == 299
    assert inner.paths == [("POST", "/functions/echo/invocations/extra")]


async def test_another_method_on_a_routes_path_is_405_naming_the_routes_methods() -> None:
    inner = Inner()
    async with client(inner) as http:
        wrong_method = await http.get("/functions/echo/invocations")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert inner.paths == []  # the rest of the app never saw it


async def test_a_gateway_error_from_the_endpoint_is_its_json_error() -> None:
    async with client(Inner()) as http:
        response = await http.post("/functions/bad/invocations")
    assert response.status_code == 422
    assert response.json() == {"code": "bad_request", "message": "that name is refused here"}


async def test_a_matched_request_passes_the_wrapper_and_others_do_not() -> None:
    inner, wrapped = Inner(), []

    def wrap(serve: Any) -> Any:
        async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
            wrapped.append(scope["path"])
            await serve(scope, receive, send)

        return counting

    app = RouteShortcut(inner, router=router, wrap=wrap)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://gw") as http:
        hot = await http.post("/functions/echo/invocations", content=b"x")
        other = await http.get("/elsewhere")
    assert (hot.content, other.status_code) == (b"hot:echo:x", 299)
    assert wrapped == ["/functions/echo/invocations"] and inner.paths == [("GET", "/elsewhere")]


def test_the_gateway_serves_the_shortcut_before_the_framework_inside_its_middleware() -> None:
    """Request id, header checks, metrics and the access log apply to shortcut calls too."""
    app = create_app()
    stack = app.build_middleware_stack()
    assert isinstance(stack, RouteShortcut) and isinstance(stack.serve, GatewayMiddleware)
    assert [m.cls for m in app.user_middleware] == [GatewayMiddleware]  # the other routes


def test_an_endpoint_that_needs_fastapis_parameter_handling_is_refused() -> None:
    needs_params = APIRouter()

    @needs_params.get("/items/{item}")
    async def item(item: int, request: Request) -> Response:
        return Response(str(item))

    with pytest.raises(TypeError, match="must take the Request alone"):
        RouteShortcut(Inner(), router=needs_params)


def test_an_endpoint_whose_one_parameter_is_not_the_request_is_refused() -> None:
    path_param_only = APIRouter()

    @path_param_only.post("/functions/{name}")
    async def by_name(name: str) -> Response:
        return Response(name)

    with pytest.raises(TypeError, match="must take the Request alone"):
        RouteShortcut(Inner(), router=path_param_only)


def test_an_endpoint_with_dependencies_is_refused() -> None:
    with_dependency = APIRouter(dependencies=[Depends(lambda: None)])

    @with_dependency.get("/x")
    async def x(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="has dependencies"):
        RouteShortcut(Inner(), router=with_dependency)
