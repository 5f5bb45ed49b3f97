"""Train/test leakage through shared source tuples: tuples that feed both a training row and
a test row (e.g. a customer joined to mails on both sides of the split).

Examples
--------
>>> report = leakage(run_id, store)
>>> shared = report.sources["customers"]
>>> bool((shared["train_rows"] > 0).all() and (shared["test_rows"] > 0).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lester.inspection.captured import open_captured
from lester.inspection.usage import SourceUsage, source_usage


@dataclass(frozen=True)
class LeakageReport:
    """Per source, the tuples that feed both splits with how many rows of each they feed.

    Examples
    --------
    >>> report = leakage(run_id, store)
    >>> report.summary()["customers"]["shared_tuples"] == len(report.sources["customers"])
    True
    """

    run_id: str
    sources: dict[str, pd.DataFrame]
    tuples: dict[str, int]

    def summary(self) -> dict[str, dict[str, int]]:
        """Per source: tuples, shared tuples and the train/test rows those feed."""
        return {
            name: {
                "tuples": self.tuples[name],
                "shared_tuples": len(shared),
                "train_rows": int(shared["train_rows"].sum()),
                "test_rows": int(shared["test_rows"].sum()),
            }
            for name, shared in self.sources.items()
        }

    @property
    def leaks(self) -> bool:
        """Whether any source tuple feeds both splits."""
        return any(len(shared) for shared in self.sources.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; keys as plain Python values."""
        return {
            "run_id": self.run_id,
            "summary": self.summary(),
            "sources": {
                name: [
                    {"key": _plain(row.key), "train_rows": int(row.train_rows),
                     "test_rows": int(row.test_rows)}
                    for row in shared.itertuples(index=False)
                ]
                for name, shared in self.sources.items()
            },
        }  # fmt: skip

    def plot(self, path: str | Path) -> Path:
        """A bar chart of shared and not shared tuples per source."""
        from lester.inspection.plots import grouped_bars

        summary = self.summary()
        names = list(summary)
        series = {
            "shared by train and test": [summary[n]["shared_tuples"] for n in names],
            "one split only or unused": [
                summary[n]["tuples"] - summary[n]["shared_tuples"] for n in names
            ],
        }
        return grouped_bars(
            path,
            names,
            series,
            f"tuples feeding train and test\nrun {self.run_id}",
            "source tuples",
        )


def leakage(run: Any, store: Any = None) -> LeakageReport:
    """Source tuples that feed both a training row and a test row, with the row counts,
    most rows first.

    ``run`` is a run id, ``"latest"`` or a :class:`lester.RunResult`; ``store`` a
    :class:`lester.Store` or its path (default ``.lester``).

    Examples
    --------
    >>> leakage("latest", store).leaks
    True
    """
    captured = open_captured(run, store)
    usages = {name: source_usage(captured, name) for name in captured.source_names()}
    return LeakageReport(
        captured.run_id,
        {name: shared_tuples(usage) for name, usage in usages.items()},
        {name: len(usage.keys) for name, usage in usages.items()},
    )


def shared_tuples(usage: SourceUsage) -> pd.DataFrame:
    """The tuples of ``usage`` that feed both splits: key, tuple id, train and test rows.

    Examples
    --------
    >>> import numpy as np
    >>> usage = SourceUsage("s", pd.Index(["a", "b"]), np.array([1, 2]), np.array([0, 3]))
    >>> shared_tuples(usage).to_dict(orient="records")
    [{'key': 'b', 'tuple_id': 1, 'train_rows': 2, 'test_rows': 3}]
    """
    both = usage.in_train & usage.in_test
    shared = pd.DataFrame(
        {
            "key": usage.keys[both].to_numpy(),
            "tuple_id": both.nonzero()[0],
            "train_rows": usage.train_rows[both],
            "test_rows": usage.test_rows[both],
        }
    )
    total = shared["train_rows"] + shared["test_rows"]
    order = shared.assign(total=total).sort_values(
        ["total", "tuple_id"], ascending=[False, True], kind="stable"
    )
    return order.drop(columns="total").reset_index(drop=True)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
