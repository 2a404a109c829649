"""Find runtime worker processes, so a test can assert that none outlived it."""

from __future__ import annotations

import psutil

RUNTIME_MODULE = "reference.runtime"


def runtime_children() -> list[psutil.Process]:
    """Live runtime workers below this process (pytest-xdist peers are not children)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if RUNTIME_MODULE in " ".join(child.cmdline()) and (
                child.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def assert_no_runtime_left() -> None:
    """Kill any runtime worker still running below this process, then fail if there was one.

    Called after each test of a suite that starts workers: a leftover is a bug
    in the code under test, and killing it keeps the next test honest.
    """
    leftovers = runtime_children()
    for child in leftovers:
        child.kill()
    assert not leftovers, f"runtime processes left running: {leftovers}"
