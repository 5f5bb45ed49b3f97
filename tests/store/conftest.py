"""Fixtures for store tests: a fresh store in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from lester.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / ".lester")


def run_files(store: Store, run_id: str) -> set[str]:
    """Paths of all files in a run folder, relative to it."""
    folder = store.run_path(run_id)
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
