"""Credentials per simulated user: one line of a file each, so every user is a client of its own.

A gateway with per-user rate limits (the reference gateway's token buckets)
must see several users, not one token shared by all, or the load test
measures one bucket. ``--credentials FILE`` holds one credential per line:
a bare bearer token, or a header line such as ``X-Api-Key: gpk_...``. Users
take the lines in turn. The file is read where it is used (by each Locust
process), like ``--token-env``: no credential is ever printed, logged or
written into a report, and errors name the line, never its content.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CredentialsError", "read_credentials"]


class CredentialsError(ValueError):
    """The credentials file cannot be used; the message names the file and line."""


def read_credentials(path: Path | str) -> list[dict[str, str]]:
    """The headers of each line, in order; blank lines and ``#`` comments are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CredentialsError(
            f"--credentials {path}: cannot read it ({error.strerror}); check the path"
        ) from None
    found: list[dict[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip() and not any(c.isspace() for c in name.strip()):
            if not value.strip():
                raise CredentialsError(f"--credentials {path}:{number}: the header has no value")
            found.append({name.strip(): value.strip()})
        elif any(c.isspace() for c in line):
            raise CredentialsError(
                f"--credentials {path}:{number}: write a bearer token alone, or 'Name: value'"
            )
        else:
            found.append({"Authorization": f"Bearer {line}"})
    if not found:
        raise CredentialsError(
            f"--credentials {path}: no credentials; put one token or 'Name: value' per line"
        )
    return found
