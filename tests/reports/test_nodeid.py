"""Grouping pytest-repeat's repetitions of a test while keeping the user's parameters."""

import pytest

from reports.nodeid import repetition, strip_repetition


@pytest.mark.parametrize(
    ("nodeid", "test", "index"),
    [
        ("tests/t.py::test_a[3-100]", "tests/t.py::test_a", 3),
        ("tests/t.py::test_a[fast-3-100]", "tests/t.py::test_a[fast]", 3),
        ("tests/t.py::TestPool::test_a[100-100]", "tests/t.py::TestPool::test_a", 100),
        ("t.py::test_a[a-b-1-5]", "t.py::test_a[a-b]", 1),
        # a user parameter that itself looks like a repeat id stays: only the last one goes
        ("t.py::test_a[1-5-2-5]", "t.py::test_a[1-5]", 2),
        ("t.py::test_a[x::y-2-3]", "t.py::test_a[x::y]", 2),
    ],
)
def test_the_repeat_id_is_removed_and_its_index_read(nodeid, test, index):
    assert strip_repetition(nodeid) == test
    assert repetition(nodeid) == index


@pytest.mark.parametrize(
    "nodeid",
    [
        "t.py::test_a",
        "t.py::test_a[fast]",
        "t.py::test_a[7]",
        "t.py::test_a[5-3]",  # I above N: not a repetition id
        "t.py::test_a[0-3]",
        "dir[1-2]/t.py::test_a",  # brackets in the path are not parameters
    ],
)
def test_ids_without_a_repetition_are_kept(nodeid):
    assert strip_repetition(nodeid) == nodeid
    assert repetition(nodeid) is None


def test_without_repetition_a_user_id_shaped_like_one_is_kept():
    # `--count 1` adds no id, so "2-3" is the user's own parameter.
    assert strip_repetition("t.py::test_a[2-3]", repeated=False) == "t.py::test_a[2-3]"
    assert repetition("t.py::test_a[2-3]", repeated=False) is None


def test_all_repetitions_of_one_parametrization_share_one_id():
    ids = {strip_repetition(f"t.py::test_a[slow-{i}-4]") for i in range(1, 5)}
    assert ids == {"t.py::test_a[slow]"}
