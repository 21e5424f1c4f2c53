"""Marks the reliability suite: every test in this folder, and the crash test beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CRASH_TEST = HERE.parent / "test_crash.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add the `reliability` marker, so `-m reliability` (or `-m "not reliability"`) selects."""
    for item in items:
        path = Path(item.path).resolve()
        if HERE in path.parents or path == CRASH_TEST:
            item.add_marker(pytest.mark.reliability)
