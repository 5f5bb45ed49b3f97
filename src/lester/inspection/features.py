"""Where the model's inputs come from: each input column's ranges of ``X`` with their
feature names and source columns, and which source columns reach the label.

Read from the run's stored matrix column provenance and the column provenance of the
prepared columns (the label's columns are those ``extract_label`` was found to read).

Examples
--------
>>> report = features(run_id, store)
>>> report.columns["country"].source_columns
('customers.country',)
>>> report.label_source_columns
('customers.level',)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lester.features import MatrixColumnProvenance
from lester.inspection.captured import open_captured


@dataclass(frozen=True)
class InputColumn:
    """One input column of the feature encoder.

    Examples
    --------
    >>> column = InputColumn("age", ("customers.age",), ((0, 1),), ("num__age",))
    >>> column.width, column.describe_ranges()
    (1, 'X[0:1]')
    """

    name: str
    source_columns: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]
    feature_names: tuple[str, ...]

    @property
    def width(self) -> int:
        """Number of ``X`` columns the column feeds (0: dropped by the encoder)."""
        return sum(stop - start for start, stop in self.ranges)

    def describe_ranges(self) -> str:
        """``X[0:384], X[768:769]`` or ``dropped``."""
        return ", ".join(f"X[{start}:{stop}]" for start, stop in self.ranges) or "dropped"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "column": self.name,
            "source_columns": list(self.source_columns),
            "ranges": [list(span) for span in self.ranges],
            "width": self.width,
            "feature_names": list(self.feature_names),
        }


@dataclass(frozen=True)
class FeaturesReport:
    """The feature matrix's column provenance and the label's source columns."""

    run_id: str
    n_features: int
    columns: dict[str, InputColumn]
    label_columns: tuple[str, ...]
    label_source_columns: tuple[str, ...]
    row_dependencies: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "n_features": self.n_features,
            "columns": [column.to_dict() for column in self.columns.values()],
            "label_columns": list(self.label_columns),
            "label_source_columns": list(self.label_source_columns),
            "row_dependencies": list(self.row_dependencies),
        }

    def plot(self, path: str | Path) -> Path:
        """A bar chart of how many ``X`` columns each input column feeds."""
        from lester.inspection.plots import grouped_bars

        names = list(self.columns)
        widths = [self.columns[name].width for name in names]
        title = f"X columns per input column ({self.n_features} in all)\nrun {self.run_id}"
        return grouped_bars(path, names, {"X columns": widths}, title, "X columns")


def features(run: Any, store: Any = None) -> FeaturesReport:
    """Each input column's ranges of ``X`` with feature names and source columns, and the
    source columns that reach the label.

    ``run`` is a run id, ``"latest"`` or a :class:`lester.RunResult`; ``store`` a
    :class:`lester.Store` or its path (default ``.lester``).

    Examples
    --------
    >>> report = features("latest", store)
    >>> report.columns["score"].describe_ranges(), report.columns["score"].feature_names
    ('X[3:4]', ('score__score',))
    """
    captured = open_captured(run, store)
    provenance = captured.run.json("provenance")
    lineage: dict[str, list[str]] = provenance["column_provenance"]
    matrix = MatrixColumnProvenance.from_dict(captured.run.json("features"))
    columns = {
        name: InputColumn(
            name,
            tuple(lineage.get(name, ())),
            tuple(tuple(span) for span in matrix.ranges(name)),
            tuple(matrix.feature_names(name)),
        )
        for name in _in_x_order(matrix)
    }
    label_columns = tuple(provenance["label_columns"])
    label_sources = sorted({origin for c in label_columns for origin in lineage.get(c, ())})
    return FeaturesReport(
        captured.run_id,
        matrix.n_features,
        columns,
        label_columns,
        tuple(label_sources),
        tuple(provenance["row_dependencies"]),
    )


def _in_x_order(matrix: MatrixColumnProvenance) -> list[str]:
    """Input columns in the order of their first ``X`` column, dropped ones last."""
    fed = matrix.columns()
    return fed + [column for column in matrix.input_columns if column not in fed]
