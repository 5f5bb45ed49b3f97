"""Spark types of the values row functions return, inferred from sample values.

Examples
--------
>>> import pandas as pd
>>> infer_type([1, None, 3]).simpleString()
'bigint'
>>> infer_type(pd.Series([["a"], []])).simpleString()
'array<string>'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import SchemaError


def is_missing(value: Any) -> bool:
    """None, NaN, ``pd.NA`` or ``NaT`` (a list is never missing).

    Examples
    --------
    >>> is_missing(float("nan")), is_missing([None])
    (True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def infer_type(values: Iterable[Any], what: str = "a row function") -> Any:
    """The Spark type that holds ``values``; ``None`` when no value is present."""
    from pyspark.sql import types as T

    present = [v for v in values if not is_missing(v)]
    if not present:
        return None
    if all(isinstance(v, bool | np.bool_) for v in present):
        return T.BooleanType()
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in present):
        return T.LongType()
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present):
        return T.DoubleType()
    if all(isinstance(v, str) for v in present):
        return T.StringType()
    if all(isinstance(v, pd.Timestamp | np.datetime64) for v in present):
        return T.TimestampType()
    if all(isinstance(v, list | tuple | np.ndarray) for v in present):
        inner = infer_type((item for v in present for item in v), what)
        return T.ArrayType(inner or T.StringType())
    kinds = sorted({type(v).__name__ for v in present})
    raise SchemaError(
        f"the Spark engine cannot store the values of {what}: they mix or use types it has no "
        f"Spark type for ({', '.join(kinds)}); return one of bool, int, float, str, a timestamp "
        f"or a list of them"
    )
