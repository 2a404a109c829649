"""Read a scenario file, apply ``--set path=value`` overrides, and explain what is wrong.

Validation lives in :mod:`scenarios.schema`; this module only turns YAML and
pydantic errors into messages that name the file, the field path and what is
allowed, so the CLI, pytest and Locust all report a broken file the same way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scenarios.schema import Scenario

__all__ = ["ScenarioError", "apply_overrides", "load_scenario", "parse_scenario"]


class ScenarioError(ValueError):
    """A scenario file (or an override) is invalid; the message says where and why."""


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate one scenario file, after applying ``path=value`` overrides."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(
            f"{path}: cannot read the scenario file ({error.strerror}); "
            f"check the path (scenarios ship in scenarios/*.yaml)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(f"{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping (name:, duration:, ...)")
    data = apply_overrides(data, overrides, source=str(path))
    return parse_scenario(data, source=str(path), base_dir=path.parent)


def parse_scenario(
    data: dict[str, Any], *, source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate a scenario mapping; data files are resolved against ``base_dir``."""
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as error:
        raise ScenarioError(format_errors(source, error)) from None


def apply_overrides(
    data: dict[str, Any], overrides: Iterable[str], *, source: str = "<scenario>"
) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` set (value parsed as YAML)."""
    import copy

    data = copy.deepcopy(data)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {override!r}: write it as path.to.field=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(
                        f"{source}: --set {key}: {where} must be a list index below {len(node)}"
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ScenarioError(
                    f"{source}: --set {key}: {'.'.join(parts[:depth])} is a value, not a mapping"
                )
    return data


def format_errors(source: str, error: ValidationError) -> str:
    """One line per problem: ``file: field.path: message (allowed: ...)``."""
    lines = [f"{source}: invalid scenario ({error.error_count()} problem(s)):"]
    for item in error.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(item["loc"][:-1])
            if allowed:
                message += f"; allowed keys here: {', '.join(allowed)}"
        elif item["type"] == "missing":
            message = "required field is missing"
        if item["type"] not in ("missing", "extra_forbidden", "union_tag_invalid"):
            message += f" (got {item.get('input')!r})"
        lines.append(f"  {loc}: {message}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (best effort, for error messages)."""
    current: Any = Scenario
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _as_model(current, None)
    return list(model.model_fields) if model is not None else []


def _step(annotation: Any, part: Any) -> Any:
    model = _as_model(annotation, part)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    origin = typing.get_origin(annotation)
    if origin is list:
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    if model is not None:
        return model  # a union's tag: the member model is the next level
    return None


def _as_model(annotation: Any, tag: Any) -> type[BaseModel] | None:
    """A model class from an annotation: unwraps Annotated, Optional and tagged unions."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [_as_model(arg, None) for arg in typing.get_args(annotation)]
        members = [member for member in members if member is not None]
        for member in members:
            kind = member.model_fields.get("kind")
            if kind is not None and tag in typing.get_args(kind.annotation):
                return member
        if len(members) == 1:
            return members[0]
    return None
