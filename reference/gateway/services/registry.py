"""The function registry: ``functions.yml`` read once, validated, and looked up by name.

``defaults:`` is deep-merged into every function (so ``scaling:`` keys merge
one by one), then each function is validated as a
:class:`~reference.gateway.models.FunctionEntity`. Any problem stops startup
with the file, the key and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reference.gateway.core.errors import InvalidFunctionName, UnknownFunction
from reference.gateway.models import FUNCTION_NAME_PATTERN, FunctionEntity
from reference.gateway.services.config_file import (
    ConfigFileError,
    describe_validation_error,
    read_yaml,
    substitute_env,
)

__all__ = ["FunctionRegistry", "deep_merge", "load_functions", "validate_function_name"]

_NAME = re.compile(FUNCTION_NAME_PATTERN)


class _FunctionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    functions: dict[str, dict[str, Any]]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_function_name(name: str) -> str:
    """The name itself, or :class:`InvalidFunctionName` (path tricks, control characters)."""
    if not _NAME.fullmatch(name):
        raise InvalidFunctionName(
            f"function name {name!r} is invalid: use 1-64 letters, digits, '-' or '_'"
        )
    return name


def load_functions(
    path: Path | str, env: Mapping[str, str] | None = None
) -> dict[str, FunctionEntity]:
    """Every function declared in ``path``, validated; raises :class:`ConfigFileError`."""
    raw = substitute_env(read_yaml(path), path=path, env=env)
    try:
        parsed = _FunctionsFile.model_validate(raw)
    except ValidationError as error:
        raise describe_validation_error(path, "", error) from None
    functions: dict[str, FunctionEntity] = {}
    for name, spec in parsed.functions.items():
        prefix = f"functions.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigFileError(path, prefix, "name must be 1-64 letters, digits, '-' or '_'")
        if not isinstance(spec, Mapping):
            raise ConfigFileError(path, prefix, "must be a mapping")
        if "name" in spec:
            raise ConfigFileError(path, f"{prefix}.name", "unknown key; the name is the map key")
        try:
            functions[name] = FunctionEntity(name=name, **deep_merge(parsed.defaults, spec))
        except ValidationError as error:
            raise describe_validation_error(path, prefix, error) from None
        except TypeError as error:
            raise ConfigFileError(path, prefix, str(error)) from None
    if not functions:
        raise ConfigFileError(path, "functions", "declares no function; add at least one")
    return functions


class FunctionRegistry:
    """Functions by name, read-only after startup."""

    def __init__(self, functions: Mapping[str, FunctionEntity]) -> None:
        self._functions = dict(functions)

    @classmethod
    def from_file(cls, path: Path | str, env: Mapping[str, str] | None = None) -> FunctionRegistry:
        return cls(load_functions(path, env))

    def get(self, name: str) -> FunctionEntity:
        """The function, or :class:`UnknownFunction` (after checking the name is well formed)."""
        function = self._functions.get(name)
        if function is not None:
            return function
        validate_function_name(name)
        known = ", ".join(sorted(self._functions)) or "none"
        raise UnknownFunction(f"no function named {name!r} (known: {known})")

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def __iter__(self) -> Iterator[FunctionEntity]:
        return iter(self._functions.values())

    def __len__(self) -> int:
        return len(self._functions)

    @property
    def names(self) -> list[str]:
        return list(self._functions)

    def as_mapping(self) -> dict[str, FunctionEntity]:
        return dict(self._functions)
