"""Reading the gateway's YAML files, with errors that name the file, the key and the reason.

Both ``functions.yml`` and ``routing.yml`` go through here, so a broken file
fails the same way at startup whichever it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["ConfigFileError", "describe_validation_error", "read_yaml", "substitute_env"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigFileError(ValueError):
    """A configuration file cannot be used; the message says which file, key and why."""

    def __init__(self, path: Path | str, key: str, reason: str) -> None:
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.key = key
        self.reason = reason


def read_yaml(path: Path | str) -> dict[str, Any]:
    """The file's top-level mapping; raises :class:`ConfigFileError` for anything else."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigFileError(
            path, "", f"cannot be read ({error.strerror}); check the path"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigFileError(path, "", f"is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(path, "", "must be a mapping at the top level")
    return data


def substitute_env(
    value: Any, *, path: Path | str, key: str = "", env: Mapping[str, str] | None = None
) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-fallback}`` in every string, recursively."""
    env = os.environ if env is None else env
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, fallback = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if fallback is not None:
                return fallback
            raise ConfigFileError(
                path, key, f"environment variable {name} is not set; set it or write ${{{name}:-x}}"
            )

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {
            k: substitute_env(v, path=path, key=_join(key, k), env=env) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            substitute_env(v, path=path, key=f"{key}[{i}]", env=env) for i, v in enumerate(value)
        ]
    return value


def describe_validation_error(
    path: Path | str, prefix: str, error: ValidationError
) -> ConfigFileError:
    """The first problem pydantic found, as a :class:`ConfigFileError` naming its key."""
    problems = error.errors()
    # A misspelt key also makes the right one "missing": report the misspelling.
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    key = prefix
    for part in first["loc"]:
        key = f"{key}[{part}]" if isinstance(part, int) else _join(key, str(part))
    reason = first["msg"]
    if first["type"] == "extra_forbidden":
        reason = "unknown key; remove it or fix its spelling"
    return ConfigFileError(path, key, reason)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)
