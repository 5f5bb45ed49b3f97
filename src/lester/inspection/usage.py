"""Record usage (the user study's task T2): which source tuples reached the training data,
the test data, or neither, as keys and as boolean arrays in source order.

Examples
--------
>>> report = usage(run_id, store)
>>> customers = report.sources["customers"]
>>> len(customers.in_train) == len(customers.keys)
True
>>> bool(customers.in_train.any()), bool(customers.unused.any())  # some are filtered out
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lester.inspection.captured import SPLITS, CapturedRun, open_captured
from lester.inspection.tuples import rows_per_tuple


@dataclass(frozen=True)
class SourceUsage:
    """How the tuples of one source were used, in source order (position = tuple id).

    After ``lester forget-rows`` a forgotten tuple keeps its position, with a missing key.

    Examples
    --------
    >>> usage = SourceUsage("s", pd.Index(["a", "b", "c"], name="id"),
    ...                     np.array([2, 0, 0]), np.array([1, 1, 0]))
    >>> usage.in_train.tolist(), usage.test_keys(), usage.unused_keys()
    ([True, False, False], ['a', 'b'], ['c'])
    """

    source: str
    keys: pd.Index
    train_rows: np.ndarray
    test_rows: np.ndarray

    @property
    def in_train(self) -> np.ndarray:
        """Whether each tuple feeds at least one training row."""
        return self.train_rows > 0

    @property
    def in_test(self) -> np.ndarray:
        """Whether each tuple feeds at least one test row."""
        return self.test_rows > 0

    @property
    def unused(self) -> np.ndarray:
        """Whether each tuple feeds neither split (filtered out, no join partner, ...)."""
        return ~(self.in_train | self.in_test)

    def train_keys(self) -> list[Any]:
        """Keys of the tuples that reached the training data."""
        return self.keys[self.in_train].tolist()

    def test_keys(self) -> list[Any]:
        """Keys of the tuples that reached the test data."""
        return self.keys[self.in_test].tolist()

    def unused_keys(self) -> list[Any]:
        """Keys of the tuples that reached neither split."""
        return self.keys[self.unused].tolist()

    def counts(self) -> dict[str, int]:
        """How many tuples reached train, test, both and neither.

        Examples
        --------
        >>> SourceUsage("s", pd.Index([1, 2]), np.array([1, 0]), np.array([1, 0])).counts()
        {'tuples': 2, 'train': 1, 'test': 1, 'both': 1, 'neither': 1}
        """
        return {
            "tuples": len(self.keys),
            "train": int(self.in_train.sum()),
            "test": int(self.in_test.sum()),
            "both": int((self.in_train & self.in_test).sum()),
            "neither": int(self.unused.sum()),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per tuple: source, tuple id, key (as text), usage flags and row counts."""
        return pd.DataFrame(
            {
                "source": self.source,
                "tuple_id": np.arange(len(self.keys), dtype=np.int64),
                "key": [None if pd.isna(key) else str(key) for key in self.keys],
                "in_train": self.in_train,
                "in_test": self.in_test,
                "train_rows": self.train_rows,
                "test_rows": self.test_rows,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, the keys per split and the boolean arrays in source order."""
        return {
            "source": self.source,
            "key_column": self.keys.name,
            **{f"n_{name}": value for name, value in self.counts().items()},
            "train_keys": _plain(self.train_keys()),
            "test_keys": _plain(self.test_keys()),
            "unused_keys": _plain(self.unused_keys()),
            "in_train": self.in_train.tolist(),
            "in_test": self.in_test.tolist(),
        }


@dataclass(frozen=True)
class UsageReport:
    """Record usage of every source of one run.

    Examples
    --------
    >>> report = usage(run_id, store)
    >>> report.to_frame().columns.tolist()[:4]
    ['source', 'tuple_id', 'key', 'in_train']
    """

    run_id: str
    sources: dict[str, SourceUsage]

    def to_frame(self) -> pd.DataFrame:
        """One row per tuple of every source (what ``--out usage.parquet`` writes)."""
        return pd.concat([usage.to_frame() for usage in self.sources.values()], ignore_index=True)

    def to_parquet(self, path: str | Path) -> Path:
        """Write :meth:`to_frame` as Parquet."""
        path = Path(path)
        self.to_frame().to_parquet(path, index=False)
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "sources": {name: usage.to_dict() for name, usage in self.sources.items()},
        }

    def plot(self, path: str | Path) -> Path:
        """A bar chart of how many tuples of each source reached train, test and neither."""
        from lester.inspection.plots import grouped_bars

        counts = {name: usage.counts() for name, usage in self.sources.items()}
        series = {
            label: [counts[name][label] for name in counts]
            for label in ("train", "test", "neither")
        }
        return grouped_bars(
            path, list(counts), series, f"record usage\nrun {self.run_id}", "source tuples"
        )


def usage(run: Any, store: Any = None) -> UsageReport:
    """Which tuples of each source reached the training data, the test data, or neither.

    ``run`` is a run id, ``"latest"`` or a :class:`lester.RunResult`; ``store`` a
    :class:`lester.Store` or its path (default ``.lester``).

    Examples
    --------
    >>> report = usage("latest", store)
    >>> sorted(report.sources)
    ['customers', 'mails']
    """
    captured = open_captured(run, store)
    return UsageReport(
        captured.run_id,
        {source: source_usage(captured, source) for source in captured.source_names()},
    )


def source_usage(captured: CapturedRun, source: str) -> SourceUsage:
    """Usage of one source of a captured run."""
    keys = captured.keys(source)
    counts = [rows_per_tuple(captured.provenance(split), source, len(keys)) for split in SPLITS]
    return SourceUsage(source, keys, *counts)


def _plain(values: list[Any]) -> list[Any]:
    """numpy scalars as Python values and missing keys (of forgotten tuples) as None, for
    JSON."""
    return [
        None if pd.isna(value) else value.item() if isinstance(value, np.generic) else value
        for value in values
    ]
