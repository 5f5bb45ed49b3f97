"""Tracked frames and their logical plan."""

from lester.frame.frame import (
    GroupedFrame,
    PlanOnlyError,
    TrackedFrame,
    execute_plan,
    from_pandas,
    join,
    plan_only,
    read_csv,
    read_parquet,
    union,
)
from lester.frame.plan import Plan

__all__ = [
    "GroupedFrame",
    "Plan",
    "PlanOnlyError",
    "TrackedFrame",
    "execute_plan",
    "from_pandas",
    "join",
    "plan_only",
    "read_csv",
    "read_parquet",
    "union",
]
