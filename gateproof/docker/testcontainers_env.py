"""The two testcontainers settings these machines need, set before testcontainers is imported.

* ``TESTCONTAINERS_RYUK_DISABLED=true``: the reaper image cannot be pulled
  (no registry); we remove our own containers by label instead.
* ``TESTCONTAINERS_CONNECTION_MODE=docker_host``: reach containers through
  the published port on localhost, never through a container network address.

Values already in the environment win.
"""

from __future__ import annotations

import os

__all__ = ["DEFAULTS", "configure_testcontainers"]

DEFAULTS = {
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
}


def configure_testcontainers() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
