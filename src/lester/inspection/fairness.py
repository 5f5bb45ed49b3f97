"""Group fairness (the user study's task T1): a metric of the model's predictions per group
of any source column, and the difference between the groups.

Metrics, with ``positive`` the positive class:

- ``equal_opportunity``: true-positive rate, P(prediction = positive | label = positive);
- ``demographic_parity``: selection rate, P(prediction = positive);
- ``accuracy``: P(prediction = label).

Examples
--------
>>> report = fairness(run_id, store, group="customers.channel", metric="accuracy")
>>> report.table["group"].tolist()
['direct', 'third_party']
>>> bool(report.difference == report.table["value"].max() - report.table["value"].min())
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lester.inspection.captured import InspectionError, open_captured
from lester.inspection.groups import GroupColumn, row_groups

MISSING_GROUP = "(missing)"


def equal_opportunity(labels: np.ndarray, predictions: np.ndarray, positive: Any) -> float:
    """True-positive rate; NaN for a group without positive labels.

    Examples
    --------
    >>> equal_opportunity(np.array([1, 1, 0]), np.array([1, 0, 1]), 1)
    0.5
    """
    actual = labels == positive
    return float((predictions[actual] == positive).mean()) if actual.any() else float("nan")


def demographic_parity(labels: np.ndarray, predictions: np.ndarray, positive: Any) -> float:
    """Selection rate: the share of positive predictions.

    Examples
    --------
    >>> demographic_parity(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 1]), 1)
    0.75
    """
    return float((predictions == positive).mean()) if len(predictions) else float("nan")


def accuracy(labels: np.ndarray, predictions: np.ndarray, positive: Any) -> float:
    """The share of correct predictions.

    Examples
    --------
    >>> accuracy(np.array([1, 0]), np.array([1, 1]), 1)
    0.5
    """
    return float((predictions == labels).mean()) if len(labels) else float("nan")


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, Any], float]] = {
    "equal_opportunity": equal_opportunity,
    "demographic_parity": demographic_parity,
    "accuracy": accuracy,
}


@dataclass(frozen=True)
class FairnessReport:
    """The metric per group and the largest difference between two groups.

    ``table`` has one row per group: ``group``, ``rows``, ``label_positives``,
    ``predicted_positives`` and ``value`` (the metric; NaN where undefined).
    ``ambiguous_rows`` counts rows derived from tuples of several groups (each is counted
    in every one of them).
    """

    run_id: str
    group: str
    metric: str
    split: str
    positive: Any
    table: pd.DataFrame
    ambiguous_rows: int
    warnings: tuple[str, ...] = ()

    @property
    def difference(self) -> float:
        """Largest minus smallest defined group value; NaN unless at least two groups have
        a defined value (e.g. equal opportunity needs positive labels in a group)."""
        values = self.table["value"].dropna()
        return float(values.max() - values.min()) if len(values) >= 2 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes ``None``)."""
        groups = [
            {
                "group": _plain(row.group),
                "rows": int(row.rows),
                "label_positives": int(row.label_positives),
                "predicted_positives": int(row.predicted_positives),
                "value": _finite(row.value),
            }
            for row in self.table.itertuples(index=False)
        ]
        return {
            "run_id": self.run_id,
            "group": self.group,
            "metric": self.metric,
            "split": self.split,
            "positive": _plain(self.positive),
            "groups": groups,
            "difference": _finite(self.difference),
            "ambiguous_rows": self.ambiguous_rows,
            "warnings": list(self.warnings),
        }

    def plot(self, path: str | Path) -> Path:
        """A bar chart of the metric per group."""
        from lester.inspection.plots import grouped_bars

        labels = [group_label(value) for value in self.table["group"]]
        values = self.table["value"].fillna(0.0).tolist()
        title = (
            f"{self.metric} by {self.group} on {self.split}\n"
            f"difference {self.difference:.3f}, run {self.run_id}"
        )
        return grouped_bars(path, labels, {self.metric: values}, title, self.metric)


def fairness(
    run: Any,
    store: Any = None,
    *,
    group: str,
    metric: str = "equal_opportunity",
    split: str = "test",
    positive: Any = None,
) -> FairnessReport:
    """``metric`` of the run's predictions on ``split`` per value of ``group``
    (``SOURCE.COLUMN``, any column of any source, also one the pipeline projected away).

    ``positive`` is the positive class; by default the largest of the labels and
    predictions (``1`` or ``True`` for binary labels). On ``train`` the stored model
    predicts the stored training matrix.

    Examples
    --------
    >>> report = fairness("latest", store, group="customers.country",
    ...                   metric="demographic_parity")
    >>> report.metric, report.split, report.positive
    ('demographic_parity', 'test', 1)
    """
    if metric not in METRICS:
        raise InspectionError(
            f"unknown metric {metric!r}; expected one of {', '.join(sorted(METRICS))}"
        )
    captured = open_captured(run, store)
    column = GroupColumn.parse(captured, group)
    labels, predictions = captured.labels(split), captured.predictions(split)
    positive = resolve_positive(labels, predictions, positive)
    membership = row_groups(captured, split, column)
    pairs = membership.pairs
    table = _per_group(pairs, labels, predictions, positive, METRICS[metric])
    ambiguous = int((pairs["row"].value_counts() > 1).sum())
    return FairnessReport(
        captured.run_id, column.name, metric, split, positive, table, ambiguous,
        membership.warnings,
    )  # fmt: skip


def resolve_positive(labels: np.ndarray, predictions: np.ndarray, positive: Any) -> Any:
    """The positive class as a value of the labels' type; text from a command line is
    converted (``"1"`` -> ``1.0`` for float labels).

    Examples
    --------
    >>> resolve_positive(np.array([0.0, 1.0]), np.array([0, 0]), None)
    1
    >>> resolve_positive(np.array(["no", "yes"]), np.array(["no", "no"]), "no")
    'no'
    """
    classes = np.unique(np.concatenate([labels.ravel(), predictions.ravel()]))
    if positive is None:
        if not len(classes):
            raise InspectionError("the split has no rows, so it has no positive class")
        return _plain(classes[-1])
    if isinstance(positive, str) and labels.dtype.kind in "biuf":
        try:
            positive = float(positive) if labels.dtype.kind == "f" else int(float(positive))
        except ValueError:
            raise InspectionError(
                f"positive class {positive!r} is not a number; the labels are {labels.dtype}"
            ) from None
    if not (classes == positive).any():
        raise InspectionError(
            f"positive class {positive!r} occurs in neither labels nor predictions; "
            f"the classes are {[_plain(c) for c in classes]}"
        )
    return _plain(positive)


def _per_group(
    pairs: pd.DataFrame,
    labels: np.ndarray,
    predictions: np.ndarray,
    positive: Any,
    metric: Callable[[np.ndarray, np.ndarray, Any], float],
) -> pd.DataFrame:
    records = []
    for value, members in pairs.groupby("group", dropna=False, sort=False):
        rows = members["row"].to_numpy()
        y, predicted = labels[rows], predictions[rows]
        records.append(
            {
                "group": value,
                "rows": len(rows),
                "label_positives": int((y == positive).sum()),
                "predicted_positives": int((predicted == positive).sum()),
                "value": metric(y, predicted, positive),
            }
        )
    table = pd.DataFrame(
        records, columns=["group", "rows", "label_positives", "predicted_positives", "value"]
    )
    order = sorted(range(len(table)), key=lambda i: _sort_key(table["group"].iloc[i]))
    return table.iloc[order].reset_index(drop=True)


def _sort_key(value: Any) -> tuple[int, str]:
    return (1, "") if _is_missing(value) else (0, str(value))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def group_label(value: Any) -> str:
    """A group value as text; rows without a tuple of the group's source are ``(missing)``.

    Examples
    --------
    >>> group_label("DE"), group_label(None)
    ('DE', '(missing)')
    """
    return MISSING_GROUP if _is_missing(value) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
