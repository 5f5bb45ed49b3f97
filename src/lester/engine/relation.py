"""The materialised result of a plan node: data, provenance, sources and lineage.

Examples
--------
>>> import pandas as pd
>>> from lester.provenance import Provenance, SourceInfo
>>> data = pd.DataFrame({"a": [1, 2]})
>>> relation = Relation(data, Provenance.of_source("s", 2), merge_sources([]))
>>> relation.n_rows
2
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lester.errors import SchemaError
from lester.provenance import Provenance, SourceInfo


@dataclass(frozen=True)
class Lineage:
    """Where each output row of a node came from, by input position.

    Only the fields of the node's kind are set: ``parent`` for filter and explode (``None``
    for operators that keep rows one to one), ``left_rows``/``right_rows`` for joins (``-1``:
    no partner), ``part_sizes`` for unions, ``group_of_row`` (per input row) for distinct
    and group-by.
    """

    parent: np.ndarray | None = None
    left_rows: np.ndarray | None = None
    right_rows: np.ndarray | None = None
    part_sizes: tuple[int, ...] = ()
    group_of_row: np.ndarray | None = None


@dataclass(frozen=True)
class Relation:
    """Rows (user columns only, positional index) with their provenance polynomials."""

    data: pd.DataFrame
    provenance: Provenance
    sources: Mapping[str, SourceInfo]
    lineage: Lineage = field(default_factory=Lineage)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.data)

    def labels(self) -> dict[str, pd.Index]:
        """Source name -> key of each tuple id, for rendering polynomials."""
        return {name: info.keys for name, info in self.sources.items()}

    def take_mask(self, mask: np.ndarray) -> Relation:
        """The rows where ``mask`` holds (data and provenance; lineage is dropped)."""
        return Relation(rows_where(self.data, mask), self.provenance.take_mask(mask), self.sources)


def rows_where(data: pd.DataFrame, mask: np.ndarray, max_gaps: int = 64) -> pd.DataFrame:
    """The rows of ``data`` where ``mask`` holds, with a fresh positional index.

    When only a few rows are dropped, the kept rows are a few long runs: concatenating
    slices of them shares the column buffers instead of copying every value.

    Examples
    --------
    >>> rows_where(pd.DataFrame({"a": [1, 2, 3]}), np.array([True, False, True]))["a"].tolist()
    [1, 3]
    """
    dropped = np.flatnonzero(~mask)
    if len(dropped) == 0:
        return data.reset_index(drop=True)
    if len(dropped) > max_gaps:
        return data[mask].reset_index(drop=True)
    bounds = np.concatenate([[-1], dropped, [len(mask)]])
    pieces = [data.iloc[a + 1 : b] for a, b in itertools.pairwise(bounds) if b > a + 1]
    if not pieces:
        return data.iloc[0:0].reset_index(drop=True)
    return pd.concat(pieces, ignore_index=True)


def merge_sources(parts: Iterable[Mapping[str, SourceInfo]]) -> dict[str, SourceInfo]:
    """Combine the sources of several inputs; one name must mean one source.

    Examples
    --------
    >>> merge_sources([{}, {}])
    {}
    """
    merged: dict[str, SourceInfo] = {}
    for part in parts:
        for name, info in part.items():
            known = merged.setdefault(name, info)
            if known is not info:
                raise SchemaError(
                    f"two different sources are both named {name!r} ({known.path or 'in memory'} "
                    f"and {info.path or 'in memory'}); give one of them another name=..."
                )
    return merged


def concat_relations(parts: list[Relation], columns: list[str]) -> Relation:
    """Bag union of relations with the given columns (lineage records the part sizes)."""
    frames = [part.data[columns] for part in parts]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    provenance = Provenance.concat([part.provenance for part in parts])
    sizes = tuple(part.n_rows for part in parts)
    sources = merge_sources(part.sources for part in parts)
    return Relation(data, provenance, sources, Lineage(part_sizes=sizes))
