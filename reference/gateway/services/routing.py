"""The catch-all's route table: ``routing.yml`` maps (path pattern, method) to a function.

Patterns use API Gateway's syntax: ``{id}`` matches one path segment,
``{proxy+}`` the rest of the path; both land in the event's
``pathParameters``. Method ``ANY`` matches every method. Routes are tried in
file order; the first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference.gateway.core.errors import MethodNotAllowed, RouteNotFound
from reference.gateway.models import FUNCTION_NAME_PATTERN
from reference.gateway.models.function import Access
from reference.gateway.services.config_file import (
    ConfigFileError,
    describe_validation_error,
    read_yaml,
    substitute_env,
)

__all__ = ["Route", "RouteMatch", "RouteTable", "load_routes"]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")


class Route(BaseModel):
    """One line of ``routing.yml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(pattern=r"^/")
    method: Method = "ANY"
    function: str = Field(pattern=FUNCTION_NAME_PATTERN)
    auth: Access | None = Field(default=None, description="who may call (default: the function's)")


class _RoutingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[Route] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    path_params: dict[str, str]


def _compile(pattern: str) -> re.Pattern[str]:
    regex, position = "", 0
    for match in _PARAM.finditer(pattern):
        regex += re.escape(pattern[position : match.start()])
        name, greedy = match.group(1), match.group(2)
        regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        position = match.end()
    regex += re.escape(pattern[position:])
    return re.compile(regex)


class RouteTable:
    """Routes in file order, each compiled once."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: Sequence[Route] = tuple(routes)
        self._compiled = [(_compile(route.path), route) for route in self.routes]

    def match(self, path: str, method: str) -> RouteMatch:
        """The first route for ``path`` and ``method``.

        Raises :class:`MethodNotAllowed` (naming the methods routed) when the
        path is routed for other methods only, else :class:`RouteNotFound`.
        """
        method = method.upper()
        for regex, route in self._compiled:
            if route.method not in ("ANY", method):
                continue
            found = regex.fullmatch(path)
            if found is not None:
                return RouteMatch(route, found.groupdict())
        allow = [route.method for regex, route in self._compiled if regex.fullmatch(path)]
        if allow:
            raise MethodNotAllowed(
                f"{path} is routed for {', '.join(sorted(set(allow)))}, not {method}",
                allow=allow,
            )
        raise RouteNotFound(f"no route for {method} {path}; add one to routing.yml")


def load_routes(path: Path | str, functions: Iterable[str] | None = None) -> RouteTable:
    """The table in ``path``; with ``functions``, every route must name one of them."""
    raw = substitute_env(read_yaml(path), path=path)
    try:
        parsed = _RoutingFile.model_validate(raw)
    except ValidationError as error:
        raise describe_validation_error(path, "", error) from None
    if functions is not None:
        known = set(functions)
        for index, route in enumerate(parsed.routes):
            if route.function not in known:
                raise ConfigFileError(
                    path,
                    f"routes[{index}].function",
                    f"{route.function!r} is not declared in functions.yml "
                    f"(known: {', '.join(sorted(known))})",
                )
    return RouteTable(parsed.routes)
