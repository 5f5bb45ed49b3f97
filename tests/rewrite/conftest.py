"""Shared fixtures of the rewrite tests: the messy cases in ../shared/messy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).resolve().parent / "reference"
CASES = ("creditcard", "healthcare", "loans", "reviews")
# The messy scripts run their pipeline when imported: never import them for doctests.
collect_ignore = ["messy_styles"]


def shared_folder() -> Path:
    return Path(os.environ.get("LESTER_SHARED", REPOSITORY.parent / "shared"))


def messy_script(case: str) -> Path:
    """The messy script of ``case``; skips the test when the shared folder is absent."""
    script = shared_folder() / "messy" / case / "messy.py"
    if not script.is_file():
        pytest.skip(f"the messy case {case!r} is not available at {script}")
    return script


def reference_code(case: str) -> str:
    return (REFERENCE / f"{case}.py").read_text(encoding="utf-8")
