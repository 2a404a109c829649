"""Where a failure happened and what it was, as the report names it."""

import sys
from pathlib import Path

import pytest

from reports.signature import (
    MAX_MESSAGE_CHARS,
    exception_type,
    short_message,
    type_from_crash_line,
    user_location,
)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "app").mkdir()
    return tmp_path


def test_the_deepest_frame_in_the_users_tree_is_the_location(tree):
    frames = [
        (str(tree / "tests" / "test_pool.py"), 12),
        (str(tree / "app" / "pool.py"), 40),
        (str(tree / "app" / "pool.py"), 77),
    ]
    assert user_location(frames, tree, "tests/test_pool.py:10") == "app/pool.py:77"


def test_frames_in_installed_packages_and_the_interpreter_are_passed_over(tree):
    venv_lib = tree / ".venv" / "lib" / "python3.11" / "site-packages" / "lib.py"
    frames = [
        (str(tree / "tests" / "test_pool.py"), 12),
        (str(venv_lib), 5),  # a virtualenv inside the project is still not the user's code
        (str(Path(sys.prefix) / "lib" / "asyncio" / "tasks.py"), 300),
    ]
    assert user_location(frames, tree, "tests/test_pool.py:10") == "tests/test_pool.py:12"


def test_frames_outside_the_rootdir_are_passed_over(tree, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "other.py"
    frames = [(str(tree / "tests" / "test_a.py"), 3), (str(elsewhere), 9)]
    assert user_location(frames, tree, "tests/test_a.py:1") == "tests/test_a.py:3"


def test_the_tests_own_location_stands_in_when_no_frame_qualifies(tree):
    frames = [(str(Path(sys.prefix) / "lib" / "x.py"), 1)]
    assert user_location(frames, tree, "tests/test_a.py:5") == "tests/test_a.py:5"
    assert user_location([], tree, "tests/test_a.py:5") == "tests/test_a.py:5"


def test_the_exception_type_is_the_class_name_as_written():
    class AcquireTimeoutError(TimeoutError):
        pass

    assert exception_type(AcquireTimeoutError("late")) == (
        "test_the_exception_type_is_the_class_name_as_written.<locals>.AcquireTimeoutError"
    )
    assert exception_type(ValueError()) == "ValueError"


def test_long_messages_are_cut_to_a_recognisable_head():
    many_lines = "\n".join(f"line {i}" for i in range(100))
    short = short_message(many_lines)
    assert short.startswith("line 0\nline 1")
    assert "line 99" not in short
    assert short.endswith("...")
    assert len(short_message("x" * 10 * MAX_MESSAGE_CHARS)) <= MAX_MESSAGE_CHARS + 3
    assert short_message("  assert 1 == 2\n") == "assert 1 == 2"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("AssertionError: assert 1 == 2", "AssertionError"),
        ("reference.gateway.services.pool.AcquireTimeoutError: no worker", "AcquireTimeoutError"),
        ("Failed: Timeout >1.0s", "Failed"),
        ("KeyError", "KeyError"),
        ("worker 'gw0' crashed while running 'x'", "Error"),
        ("", "Error"),
    ],
)
def test_the_type_is_read_back_from_pytests_crash_line(line, kind):
    assert type_from_crash_line(line) == kind
