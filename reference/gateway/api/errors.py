"""Exception handlers: whatever FastAPI or Starlette raises becomes the gateway's JSON error."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from reference.gateway.api.responses import error_response
from reference.gateway.core.errors import BadRequest, GatewayError, MethodNotAllowed, RouteNotFound

__all__ = ["install_error_handlers"]


class _HTTPError(GatewayError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = {405: "method_not_allowed"}.get(status, f"http_{status}")


async def _gateway_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, GatewayError)
    return error_response(error)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(BadRequest(f"{where}: {first.get('msg', 'invalid request')}"))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_response(RouteNotFound(f"no route for {request.method} {request.url.path}"))
    allow = (error.headers or {}).get("Allow")
    if error.status_code == 405 and allow:
        methods = [method.strip() for method in allow.split(",")]
        return error_response(MethodNotAllowed(str(error.detail), allow=methods))
    return error_response(_HTTPError(error.status_code, str(error.detail)))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
