"""Lester: declarative ML pipelines with row, column and matrix column provenance.

Examples
--------
>>> import lester as lt, pandas as pd
>>> frame = lt.from_pandas(pd.DataFrame({"a": [1, 2]}), name="s").filter("a > 1")
>>> frame.provenance_of(0)
's[1]'
"""

from lester.errors import LesterError
from lester.frame import (
    GroupedFrame,
    Plan,
    TrackedFrame,
    from_pandas,
    join,
    read_csv,
    read_parquet,
    union,
)
from lester.pipeline import Pipeline, load_pipeline

__version__ = "0.1.0"

__all__ = [
    "GroupedFrame",
    "LesterError",
    "Pipeline",
    "Plan",
    "TrackedFrame",
    "from_pandas",
    "join",
    "load_pipeline",
    "read_csv",
    "read_parquet",
    "union",
]


def __getattr__(name: str):
    # Feature provenance needs scikit-learn, an optional dependency: import it on first use.
    if name in {"matrix_column_provenance", "MatrixColumnProvenance"}:
        from lester import features

        return getattr(features, name)
    if name in {"run", "RunResult"}:
        from lester import runner

        return getattr(runner, name)
    if name == "inspect":
        import lester.inspection

        return lester.inspection
    if name == "Store":
        from lester.store import Store

        return Store
    raise AttributeError(f"module 'lester' has no attribute {name!r}")
