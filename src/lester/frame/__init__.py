"""Tracked frames and their logical plan."""

from lester.frame.frame import (
    GroupedFrame,
    TrackedFrame,
    execute_plan,
    from_pandas,
    join,
    read_csv,
    read_parquet,
    union,
)
from lester.frame.plan import Plan

__all__ = [
    "GroupedFrame",
    "Plan",
    "TrackedFrame",
    "execute_plan",
    "from_pandas",
    "join",
    "read_csv",
    "read_parquet",
    "union",
]
