"""Shared fixtures of the rewrite tests: the messy cases in ../shared/messy (skipped when
absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES = ("creditcard", "healthcare", "loans", "reviews")


def shared_folder() -> Path:
    return Path(os.environ.get("LESTER_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture
def messy_case(request) -> Path:
    folder = shared_folder() / "messy" / request.param
    if not (folder / "messy.py").is_file():
        pytest.skip(f"the messy case {request.param} is not available at {folder}")
    return folder
