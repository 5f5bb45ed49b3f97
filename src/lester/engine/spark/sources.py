"""Read sources for Spark with deterministic tuple ids.

A source tuple is identified by its declared primary key, or by its 0-based row number in
the file. Row numbers are assigned while reading, in file order: CSV files are parsed in
chunks with the very options (and parser) the pandas engine uses, so both engines see the
same values and types, and written as Parquet shards that carry the row number in the
column ``__lester_row``; Spark reads the shards. Tuple ids never come from
``monotonically_increasing_id``, whose values depend on the partitioning.

Examples
--------
>>> import pandas as pd
>>> from lester.frame.plan import Source
>>> import tempfile
>>> node = Source("s", ("id", "x"), primary_key="id", reader="memory",
...               data=pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}))
>>> staged = stage_source(node, tempfile.mkdtemp(), chunk_rows=1)
>>> staged.info.keys.tolist(), len(staged.shards)
(['a', 'b'], 2)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lester.errors import SourceReadError
from lester.frame.plan import Source
from lester.provenance import SourceInfo

ROW = "__lester_row"
CHUNK_ROWS = 500_000


@dataclass(frozen=True)
class StagedSource:
    """A source as Parquet shards with row numbers, its tuple identity and column dtypes."""

    node: Source
    shards: list[str]
    internal: dict[str, str]  # user column -> column name in the shards
    info: SourceInfo
    empty: pd.DataFrame  # no rows, the pandas dtypes of the columns
    rows: int


def internal_names(columns: tuple[str, ...]) -> dict[str, str]:
    """Spark-safe column names for the user's columns (any name may contain dots or spaces).

    Examples
    --------
    >>> internal_names(("a.b", "c d"))
    {'a.b': 'c0', 'c d': 'c1'}
    """
    return {column: f"c{i}" for i, column in enumerate(columns)}


def _chunks(node: Source, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if node.reader == "memory":
        data = node.data.reset_index(drop=True)
        for start in range(0, max(len(data), 1), chunk_rows):
            yield data.iloc[start : start + chunk_rows]
    elif node.reader == "parquet":
        handle = pq.ParquetFile(node.path)
        columns = node.reader_options.get("columns")
        empty = True
        for batch in handle.iter_batches(batch_size=chunk_rows, columns=columns):
            empty = False
            yield batch.to_pandas()
        if empty:
            yield handle.schema_arrow.empty_table().to_pandas()
    else:
        options = {k: v for k, v in node.reader_options.items() if k not in ("chunksize",)}
        try:
            yield from pd.read_csv(node.path, chunksize=chunk_rows, **options)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise SourceReadError(f"cannot read {node.path} as CSV: {error}") from None


def stage_source(node: Source, folder: str | Path, chunk_rows: int = CHUNK_ROWS) -> StagedSource:
    """Write ``node``'s rows as Parquet shards with row numbers under ``folder``."""
    folder = Path(folder) / f"source-{node.name}"
    folder.mkdir(parents=True, exist_ok=True)
    internal = internal_names(node.columns)
    shards, keys, schemas, rows, empty = [], [], [], 0, None
    for index, chunk in enumerate(_chunks(node, chunk_rows)):
        chunk = chunk.reset_index(drop=True).rename(columns=str)
        if empty is None:
            empty = chunk.iloc[:0]
        if node.primary_key is not None:
            keys.append(chunk[node.primary_key])
        table = pa.Table.from_pandas(chunk.rename(columns=internal), preserve_index=False)
        table = table.append_column(ROW, pa.array(np.arange(rows, rows + len(chunk))))
        path = folder / f"part-{index:05d}.parquet"
        pq.write_table(table.replace_schema_metadata(None), path)
        shards.append(str(path))
        schemas.append(table.schema)
        rows += len(chunk)
    _unify(shards, schemas)
    if node.primary_key is not None:
        key_frame = pd.DataFrame({node.primary_key: pd.concat(keys, ignore_index=True)})
        info = SourceInfo.from_frame(node.name, key_frame, node.primary_key, node.path)
    else:
        info = SourceInfo.from_frame(node.name, pd.DataFrame(index=range(rows)), None, node.path)
    release_freed_memory()
    return StagedSource(node, shards, internal, info, empty, rows)


def release_freed_memory() -> None:
    """Hand memory that Arrow's allocator keeps after large temporaries back to the system.

    Parsing chunks and checking the keys (``nunique`` of ten million strings needs a
    gigabyte for a moment) leave freed memory cached in the allocator, which would stay
    resident in the driver for the whole run.
    """
    pa.default_memory_pool().release_unused()


def _unify(shards: list[str], schemas: list[pa.Schema]) -> None:
    """Chunks can infer different types (ints in one, floats in the next): cast every shard
    to the common schema, as one pandas read of the whole file would have typed it."""
    if len({schema for schema in schemas}) <= 1:
        return
    try:
        common = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise SourceReadError(f"the chunks of a source have incompatible types: {error}") from None
    for path, schema in zip(shards, schemas, strict=True):
        if schema != common:
            table = pq.read_table(path).select(common.names)
            pq.write_table(table.cast(common), path)
