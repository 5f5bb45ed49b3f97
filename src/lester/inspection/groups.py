"""Group membership of rows by any column of any source, through row provenance.

The group column need not survive the pipeline: each row's source tuples are read off its
provenance polynomial and the column is looked up in the source as the pipeline read it
(same file, reader and options, matched by primary key or row number).

Examples
--------
>>> from lester.inspection.captured import open_captured
>>> captured = open_captured(run_id, store)
>>> lookup = GroupColumn.parse(captured, "customers.channel")
>>> lookup.source, lookup.column
('customers', 'channel')
>>> members = row_groups(captured, "test", lookup)
>>> sorted(members.pairs["group"].unique())
['direct', 'third_party']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lester.errors import UnknownColumnError, describe_names
from lester.inspection.captured import CapturedRun, InspectionError
from lester.inspection.tuples import row_tuple_pairs


@dataclass(frozen=True)
class GroupColumn:
    """A column of a source that defines groups, e.g. ``customers.channel``."""

    source: str
    column: str

    @property
    def name(self) -> str:
        """``source.column``."""
        return f"{self.source}.{self.column}"

    @classmethod
    def parse(cls, captured: CapturedRun, qualified: str) -> GroupColumn:
        """Split ``SOURCE.COLUMN`` at the dot after a source name of the run (so source and
        column names may themselves contain dots); errors name the sources and columns."""
        sources = captured.source_names()
        matches = [s for s in sources if qualified.startswith(f"{s}.")]
        if not matches:
            raise InspectionError(
                f"group {qualified!r} is not SOURCE.COLUMN of a source of run "
                f"{captured.run_id!r}; its sources are {describe_names(sources)}"
            )
        source = max(matches, key=len)
        column = qualified[len(source) + 1 :]
        schema = captured.records[source].schema or {}
        if column not in schema:
            raise UnknownColumnError(
                f"source {source!r} has no column {column!r}; its columns are "
                f"{describe_names(list(schema))}"
            )
        return cls(source, column)


@dataclass(frozen=True)
class GroupMembership:
    """Distinct ``(row, group)`` pairs of one split, and warnings about the lookup."""

    pairs: pd.DataFrame
    warnings: tuple[str, ...] = ()


def tuple_values(captured: CapturedRun, group: GroupColumn) -> tuple[pd.Series, tuple[str, ...]]:
    """The group column's value of every tuple of the source, by tuple id, and warnings.

    A keyed source whose file changed since the run is still matched by key (tuples no
    longer in the file get a missing value, and a warning says so); a source identified by
    row numbers must be unchanged.
    """
    from lester.maintenance.selection import read_source
    from lester.runner.capture import file_sha256

    record = captured.records[group.source]
    keys = captured.keys(group.source)
    data = read_source(captured.run, record)
    changed = record.sha256 is not None and file_sha256(Path(record.path)) != record.sha256
    if record.primary_key is None:
        if changed:
            raise InspectionError(
                f"source {group.source!r} ({record.path}) changed since run {captured.run_id!r} "
                f"and its tuples are identified by row number; restore the file to look up "
                f"{group.column!r}"
            )
        values = data[group.column].reindex(keys.to_numpy())
    else:
        by_key = data.drop_duplicates(record.primary_key).set_index(record.primary_key)
        values = by_key[group.column].reindex(keys)
    warnings = ()
    if changed:
        warnings = (
            f"source {group.source!r} changed since the run; matched its tuples by "
            f"{record.primary_key!r} ({int(values.isna().sum())} without a value)",
        )
    return values.reset_index(drop=True), warnings


def row_groups(captured: CapturedRun, split: str, group: GroupColumn) -> GroupMembership:
    """Distinct ``(row, group)`` pairs of ``split``: each row with the group values of the
    source tuples in its provenance. A row derived from tuples of several groups (a sum or
    a self-join) appears once per group; a row with no tuple of the source gets ``None``."""
    provenance = captured.provenance(split)
    rows, ids = row_tuple_pairs(provenance, group.source)
    values, warnings = tuple_values(captured, group)
    values = values.to_numpy(dtype=object)
    pairs = pd.DataFrame({"row": rows, "group": values[ids]})
    pairs["group"] = pairs["group"].where(pairs["group"].notna(), None)
    orphans = np.setdiff1d(np.arange(provenance.n_rows, dtype=np.int64), rows)
    if len(orphans):
        pairs = pd.concat([pairs, pd.DataFrame({"row": orphans, "group": None})])
    pairs = pairs.astype({"group": object}).drop_duplicates()
    pairs = pairs.sort_values("row", kind="stable").reset_index(drop=True)
    return GroupMembership(pairs, warnings)
