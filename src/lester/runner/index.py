"""Lookup indexes captured with a run, so that maintenance reads what the delta touches.

Two sorted, chunked tables per run and a small JSON document of chunk fences:

- ``index/keys/<source>``: ``key, tuple_id`` sorted by key: primary key -> tuple id;
- ``index/rows/<split>/<source>``: ``tuple_id, row`` sorted by tuple id: which rows of a split
  (positions at capture time) a source tuple reaches;
- ``index``: the first key / tuple id of every chunk of those tables, and each split's row
  count at capture time.

Rows deleted later are logged as capture-time positions (``index/deleted/<split>``), which
maps capture-time positions to current ones without rewriting the row index. Lookups read only
the index chunks whose fences bracket the wanted values. Runs without an index (captured by
an older Lester), with sums in their polynomials or with rows added by ``correct`` (which
drops the split's row index) are answered from the full tables instead: same answer, more
reading.

Examples
--------
>>> import tempfile, lester as lt, pandas as pd
>>> from lester.store import Store
>>> frame = lt.from_pandas(pd.DataFrame({"id": ["b", "a", "c"]}), name="s", primary_key="id")
>>> store = Store(tempfile.mkdtemp())
>>> with store.new_run("p") as writer:
...     write_indexes(writer, {"train": frame.provenance}, frame._relation.sources)
>>> run = store.open_run(writer.run_id)
>>> tuple_ids(run, "s", ["c", "x"]).tolist()
[2, -1]
>>> rows_reached(run, "train", "s", np.array([1])).tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lester.provenance import Provenance

INDEX = "index"


def write_indexes(writer: Any, provenance: Mapping[str, Provenance], sources: Any) -> None:
    """Write the key index of every source and the row index of every split.

    ``provenance`` maps split names to their polynomials, ``sources`` source names to their
    :class:`~lester.provenance.SourceInfo`. A split with sums in its polynomials gets no row
    index (maintenance then reads its provenance table).
    """
    document: dict[str, Any] = {"keys": {}, "rows": {}, "captured_rows": {}, "key_dtypes": {}}
    for name, info in sources.items():
        if info.primary_key is None:
            continue  # the tuple id is the row number: no index needed
        keys = pd.DataFrame({"key": np.asarray(info.keys)})
        document["key_dtypes"][name] = [info.primary_key, str(keys["key"].dtype)]
        keys["tuple_id"] = np.arange(len(keys), dtype=np.int64)
        document["keys"][name] = _put_sorted(writer, f"index/keys/{name}", keys, "key")
    for split, polynomials in provenance.items():
        if polynomials.owner is not None:
            continue
        document["captured_rows"][split] = int(polynomials.n_rows)
        document["rows"][split] = {
            source: _put_sorted(
                writer, f"index/rows/{split}/{source}", _reached(polynomials, source), "tuple_id"
            )
            for source in polynomials.sources
        }
    writer.put_json(INDEX, document)


def _reached(polynomials: Provenance, source: str) -> pd.DataFrame:
    columns = [i for i, slot in enumerate(polynomials.slots) if slot.source == source]
    ids = polynomials.keys[:, columns]
    rows = np.repeat(np.arange(polynomials.n_rows, dtype=np.int64), len(columns))
    pairs = pd.DataFrame({"tuple_id": ids.reshape(-1), "row": rows})
    return pairs[pairs["tuple_id"] >= 0].drop_duplicates()


# Small chunks: a lookup of k scattered keys reads about k chunks, whatever the data size.
INDEX_CHUNK_ROWS = 2048


def _put_sorted(writer: Any, name: str, table: pd.DataFrame, column: str) -> list:
    table = table.sort_values(column, kind="stable").reset_index(drop=True)
    writer.put_table(name, table, chunk_rows=min(INDEX_CHUNK_ROWS, _default_rows(table)))
    return [_plain(table[column].iloc[start]) for start in _chunk_starts(writer, name)]


def _default_rows(table: pd.DataFrame) -> int:
    from lester.store.writer import TABLE_CHUNK_ROWS, default_chunk_rows

    return default_chunk_rows(table, TABLE_CHUNK_ROWS)


def _chunk_starts(run: Any, name: str) -> list[int]:
    sizes = [chunk.rows for chunk in run.chunks(name)]
    return [int(start) for start in np.cumsum([0, *sizes[:-1]])] if sizes else []


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def has_index(run: Any) -> bool:
    """Whether the run was captured with lookup indexes.

    Examples
    --------
    >>> class Bare:
    ...     def artifacts(self): return {}
    >>> has_index(Bare())
    False
    """
    return INDEX in run.artifacts()


# ---------------------------------------------------------------------------- lookups
def _matching(run: Any, name: str, fences: Sequence[Any], column: str, wanted: Any) -> pd.DataFrame:
    """The index rows whose ``column`` is one of ``wanted``, reading only bracketing chunks."""
    if not len(fences):
        return run.table_chunk(name, 0).iloc[:0]
    fences_index = pd.Index(fences)
    first = fences_index.searchsorted(wanted, side="left") - 1
    last = fences_index.searchsorted(wanted, side="right") - 1
    chunks = sorted({c for lo, hi in zip(first, last, strict=True) for c in range(lo, hi + 1)})
    parts = [run.table_chunk(name, chunk) for chunk in chunks if 0 <= chunk < len(fences)]
    if not parts:
        return run.table_chunk(name, 0).iloc[:0]
    table = pd.concat(parts, ignore_index=True)
    return table[table[column].isin(wanted)]


def tuple_ids(run: Any, source: str, keys: Sequence[Any]) -> np.ndarray:
    """Tuple ids of ``keys`` in ``source`` (``-1`` for an unknown key), reading only the
    index chunks that may hold them.

    The run must have a key index for ``source`` (see :func:`key_indexed`).
    """
    fences = run.json(INDEX)["keys"][source]
    wanted = pd.Index(keys).unique()
    found = _matching(run, f"index/keys/{source}", fences, "key", wanted)
    by_key = dict(zip(found["key"].tolist(), found["tuple_id"].tolist(), strict=True))
    return np.array([by_key.get(key, -1) for key in keys], dtype=np.int64)


def key_schema(run: Any, source: str) -> pd.Index | None:
    """An empty index named and typed like ``source``'s key column, from the index document
    (``None`` when the run has no key index for it)."""
    if not key_indexed(run, source):
        return None
    name, dtype = run.json(INDEX).get("key_dtypes", {}).get(source, (None, None))
    return None if name is None else pd.Index([], dtype=dtype, name=name)


def key_indexed(run: Any, source: str) -> bool:
    """Whether ``source`` has a key index in ``run``."""
    return has_index(run) and source in run.json(INDEX)["keys"]


def rows_indexed(run: Any, split: str, source: str) -> bool:
    """Whether ``split`` has a row index for ``source`` (rows appended after capture, by
    ``correct``, drop it: see :func:`drop_row_index`)."""
    return has_index(run) and source in run.json(INDEX)["rows"].get(split, {})


def drop_row_index(update: Any, split: str) -> None:
    """Drop the row index of ``split``: rows are being appended to it, which it does not
    know. Lookups then read the split's provenance table."""
    if not has_index(update) or split not in update.json(INDEX)["rows"]:
        return
    document = update.json(INDEX)
    for source in document["rows"].pop(split):
        update.delete_artifact(f"index/rows/{split}/{source}")
    if f"index/deleted/{split}" in update.artifacts():
        update.delete_artifact(f"index/deleted/{split}")
    document["captured_rows"].pop(split, None)
    update.put_json(INDEX, document)


def rows_reached(run: Any, split: str, source: str, ids: np.ndarray) -> np.ndarray:
    """Current positions (sorted) of the rows of ``split`` whose polynomial contains one of
    the tuple ids ``ids`` of ``source`` (see :func:`rows_indexed`)."""
    fences = run.json(INDEX)["rows"][split][source]
    name = f"index/rows/{split}/{source}"
    found = _matching(run, name, fences, "tuple_id", np.unique(np.asarray(ids, np.int64)))
    captured = np.unique(found["row"].to_numpy(dtype=np.int64))
    deleted = deleted_rows(run, split)
    captured = captured[~np.isin(captured, deleted)]
    return captured - np.searchsorted(deleted, captured)


# ---------------------------------------------------------------------------- deletions
def deleted_rows(run: Any, split: str) -> np.ndarray:
    """Capture-time positions of the rows of ``split`` deleted since (sorted)."""
    name = f"index/deleted/{split}"
    if name not in run.artifacts():
        return np.empty(0, dtype=np.int64)
    return np.asarray(run.matrix(name), dtype=np.int64)


def log_deleted(update: Any, split: str, positions: np.ndarray) -> None:
    """Record that the rows at current ``positions`` of ``split`` are being deleted (call
    before deleting them). Rows added after capture are not logged: they are not indexed."""
    if not has_index(update) or split not in update.json(INDEX)["captured_rows"]:
        return
    deleted = deleted_rows(update, split)
    kept = update.json(INDEX)["captured_rows"][split] - len(deleted)
    positions = np.asarray(positions, dtype=np.int64)
    captured = _capture_positions(positions[positions < kept], deleted)
    update.put_matrix(f"index/deleted/{split}", np.union1d(deleted, captured))


def _capture_positions(current: np.ndarray, deleted: np.ndarray) -> np.ndarray:
    """Capture-time positions of current positions: the fixed point of
    ``o = p + #{d in deleted: d <= o}``."""
    captured = current.copy()
    while True:
        moved = current + np.searchsorted(deleted, captured, side="right")
        if np.array_equal(moved, captured):
            return captured
        captured = moved


def forget_keys(update: Any, source: str, keys: Sequence[Any]) -> None:
    """Blank the key index entries of forgotten tuples (the index holds their keys),
    rewriting only the chunks that hold them; a fence that was a forgotten key moves to the
    chunk's first remaining key."""
    if not key_indexed(update, source):
        return
    name = f"index/keys/{source}"
    document = update.json(INDEX)
    fences, starts = document["keys"][source], _chunk_starts(update, name)
    wanted = pd.Index(keys).unique()
    chunks = set((pd.Index(fences).searchsorted(wanted, side="right") - 1).tolist()) - {-1}
    for chunk in sorted(chunks, reverse=True):
        table = update.table_chunk(name, chunk)
        held = table["key"].isin(wanted).to_numpy()
        if not held.any():
            continue
        blank = table[held].astype({"key": object})
        blank["key"], blank["tuple_id"] = None, -1
        update.replace_rows(name, starts[chunk] + np.flatnonzero(held), blank)
        remaining = table.loc[~held, "key"].dropna()
        fences[chunk] = _plain(remaining.min()) if len(remaining) else None
    document["keys"][source] = _filled(fences)
    update.put_json(INDEX, document)


def _filled(fences: list) -> list:
    """Fences of emptied chunks: the next chunk's fence (the empty chunk is read in vain,
    never skipped wrongly); emptied last chunks get none (nothing can be found there)."""
    while fences and fences[-1] is None:
        fences = fences[:-1]
    for chunk in range(len(fences) - 2, -1, -1):
        if fences[chunk] is None:
            fences[chunk] = fences[chunk + 1]
    return fences
