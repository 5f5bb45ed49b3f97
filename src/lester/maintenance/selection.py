"""Which source tuples an update is about: a source (by name or file), keys or a query.

Examples
--------
>>> selection = Selection("customers", keys=("C1", "C2"))
>>> selection.describe()
"customers keys ['C1', 'C2']"
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import (
    InvalidExpressionError,
    LesterError,
    SourceReadError,
    UnknownColumnError,
    UnknownKeyError,
    UnknownSourceError,
    describe_names,
)
from lester.runner import index as run_index
from lester.runner.artifacts import load_keys


class SelectionError(LesterError, ValueError):
    """A selection that is malformed (both or neither of keys and where)."""


@dataclass(frozen=True)
class Selection:
    """Source tuples: ``source`` is a source name or a file path; ``keys`` are primary-key
    values (row numbers for sources without key) or ``where`` is a pandas query on the
    source as the pipeline read it."""

    source: str
    keys: tuple[Any, ...] | None = None
    where: str | None = None

    def __post_init__(self) -> None:
        if (self.keys is None) == (self.where is None):
            raise SelectionError("select tuples with either keys or where, not both or neither")

    def describe(self) -> str:
        """A short human description (no values of the tuples themselves)."""
        if self.keys is not None:
            return f"{self.source} keys {describe_names(list(self.keys))}"
        # A query may spell out the very values to delete: record only its fingerprint.
        digest = hashlib.sha256(str(self.where).encode("utf-8")).hexdigest()[:12]
        return f"{self.source} selected by a query (sha256 {digest})"


def match_source(sources: list[Any], given: str) -> Any | None:
    """The run's source record that ``given`` names: by name, by resolved path, or by the
    sha256 of the file at ``given`` (so a moved or renamed copy still matches)."""
    for record in sources:
        if record.name == given:
            return record
    path = Path(given)
    if not path.is_file():
        return None
    resolved = str(path.resolve())
    for record in sources:
        if record.path == resolved:
            return record
    from lester.runner.capture import file_sha256

    digest = file_sha256(path)
    return next((record for record in sources if record.sha256 == digest), None)


def resolve_keys(run: Any, record: Any, selection: Selection) -> tuple[pd.Index, np.ndarray]:
    """The selected keys and their tuple ids in the run; errors name unknown keys."""
    keys = _key_schema(run, record.name)
    if selection.keys is not None:
        wanted = _coerce(list(selection.keys), keys)
    else:
        wanted = _query_keys(run, record, selection.where, keys.name)
    if run_index.key_indexed(run, record.name):
        positions = run_index.tuple_ids(run, record.name, wanted)
    else:
        keys = load_keys(run, record.name)
        positions = keys.get_indexer(pd.Index(wanted, dtype=keys.dtype))
    unknown = [key for key, position in zip(wanted, positions, strict=True) if position < 0]
    if unknown:
        raise UnknownKeyError(
            f"source {record.name!r} of run {run.run_id!r} has no tuple with "
            f"{keys.name} {describe_names(unknown)}"
        )
    return pd.Index(wanted, name=keys.name), np.unique(positions).astype(np.int64)


def _key_schema(run: Any, source: str) -> pd.Index:
    """The (empty) index of the source's key column: its name and type."""
    indexed = run_index.key_schema(run, source)
    if indexed is not None:
        return indexed
    table = run.table_chunk(f"sources/{source}/keys", 0)
    return pd.Index(table.iloc[:0, 0], name=table.columns[0])


def _coerce(values: list[Any], keys: pd.Index) -> list[Any]:
    """Keys typed on a command line are strings; convert them to the key column's type."""
    if pd.api.types.is_integer_dtype(keys):
        try:
            return [int(value) for value in values]
        except (TypeError, ValueError):
            raise UnknownKeyError(
                f"keys of {keys.name!r} are integers, got {describe_names(values)}"
            ) from None
    if pd.api.types.is_float_dtype(keys):
        return [float(value) for value in values]
    return [str(value) for value in values]


def read_source(run: Any, record: Any) -> pd.DataFrame:
    """The source as the pipeline read it (same reader and options)."""
    readers = run.json("source_readers")
    reader = readers.get(record.name, {})
    path = reader.get("path") or record.path
    if not path or not Path(path).is_file():
        raise SourceReadError(
            f"source {record.name!r} was read from {path}, which no longer exists; select its "
            f"tuples with keys instead of a query"
        )
    options = reader.get("options", {})
    if reader.get("reader") == "parquet":
        return pd.read_parquet(path, **options)
    return pd.read_csv(path, **options)


def _query_keys(run: Any, record: Any, where: str, key_column: str) -> list[Any]:
    data = read_source(run, record)
    try:
        matched = data.query(where)
    except Exception as error:  # pandas raises many types for a bad query
        raise InvalidExpressionError(
            f"--where {where!r} failed on source {record.name!r} (columns "
            f"{describe_names(list(data.columns))}): {error}"
        ) from None
    if key_column == "row_number":
        return matched.index.tolist()
    return matched[key_column].tolist()


def check_column(record: Any, column: str | None) -> None:
    """An unknown source column is an error naming the source's columns."""
    if column is not None and column not in record.schema:
        raise UnknownColumnError(
            f"source {record.name!r} has no column {column!r}; its columns are "
            f"{describe_names(list(record.schema))}"
        )


def unknown_source(given: str, known: list[str]) -> UnknownSourceError:
    """The error for a source that no run (or not this run) reads."""
    return UnknownSourceError(
        f"no captured run reads a source {given!r} (by name, path or content); known sources "
        f"are {describe_names(sorted(set(known)))}"
    )
