"""Lookup indexes captured with a run, so that maintenance reads what the delta touches.

Sorted, chunked numpy arrays (one ``.npy`` per chunk: no decoding, cheap to verify) and a
small JSON document of chunk fences:

- ``index/keys/<source>``: ``(key, tuple_id)`` records sorted by the source's primary key
  (numbers as they are, strings as UTF-8 bytes);
- ``index/rows/<split>/<source>``: ``(tuple_id, row)`` pairs sorted by tuple id: which rows of
  a split (positions at capture time) a source tuple reaches;
- ``index``: the first key / tuple id of every chunk of those arrays, and each split's row
  count at capture time.

Rows deleted later are logged as capture-time positions (``index/deleted/<split>``), which
maps capture-time positions to current ones without rewriting the row index. Lookups read only
the index chunks whose fences bracket the wanted values. Runs without an index (captured by
an older Lester), sources whose keys are neither numbers nor strings, splits with sums in
their polynomials or with rows added by ``correct`` (which drops the split's row index) are
answered from the full tables instead: same answer, more reading.

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
# Bumped when the layout changes; runs with another format are answered without the index.
INDEX_FORMAT = 3
# Small chunks: a lookup of k scattered keys reads about k chunks, whatever the data size,
# and most of a chunk read is reading and hashing its bytes.
INDEX_CHUNK_ROWS = 2048
INDEX_CHUNK_BYTES = 16 * 1024


def write_indexes(writer: Any, provenance: Mapping[str, Provenance], sources: Any) -> None:
    """Write the key index of every source and the row index of every split.

    ``provenance`` maps split names to their polynomials, ``sources`` source names to their
    :class:`~lester.provenance.SourceInfo`. A split with sums in its polynomials gets no row
    index (maintenance then reads its provenance table).
    """
    document: dict[str, Any] = {
        "format": INDEX_FORMAT, "keys": {}, "rows": {}, "captured_rows": {}, "key_dtypes": {},
        "key_arrays": {},
    }  # fmt: skip
    for name, info in sources.items():
        keys = None if info.primary_key is None else sortable_keys(info.keys)
        if keys is None:
            continue  # no key column (the tuple id is the row number), or keys of mixed kinds
        document["key_dtypes"][name] = [info.primary_key, str(pd.Index(info.keys).dtype)]
        order = np.argsort(keys, kind="stable")
        records = np.empty(len(keys), dtype=[("key", keys.dtype), ("tuple_id", np.int64)])
        records["key"], records["tuple_id"] = keys[order], order
        document["key_arrays"][name] = keys.dtype.str
        document["keys"][name] = _put_chunked(writer, f"index/keys/{name}", records, records["key"])
    for split, polynomials in provenance.items():
        if polynomials.owner is not None:
            continue
        document["captured_rows"][split] = int(polynomials.n_rows)
        document["rows"][split] = {}
        for source in polynomials.sources:
            pairs = _reached(polynomials, source)
            name = f"index/rows/{split}/{source}"
            document["rows"][split][source] = _put_chunked(writer, name, pairs, pairs[:, 0])
    writer.put_json(INDEX, document)


def sortable_keys(keys: Any) -> np.ndarray | None:
    """Keys as a sortable numpy array: numbers and datetimes as they are, strings as UTF-8
    bytes; ``None`` for anything else (mixed kinds, or strings ending in NUL, which a
    fixed-width bytes array would strip).

    Examples
    --------
    >>> sortable_keys(pd.Index(["b", "ä"])).tolist()
    [b'b', b'\\xc3\\xa4']
    >>> sortable_keys(pd.Index([3, 1])).dtype
    dtype('int64')
    >>> sortable_keys(pd.Index(["a", 1], dtype=object)) is None
    True
    """
    values = np.asarray(keys)
    if values.dtype.kind in "biufM":
        return values
    items = values.tolist()
    if values.dtype.kind not in "OU" or not all(isinstance(v, str) for v in items):
        return None
    encoded = [v.encode() for v in items]
    if any(v.endswith(b"\0") for v in encoded):
        return None
    return np.array(encoded, dtype=bytes) if encoded else np.empty(0, dtype="S1")


def _reached(polynomials: Provenance, source: str) -> np.ndarray:
    """The ``(tuple_id, row)`` pairs of ``source`` in the split, sorted by tuple id."""
    columns = [i for i, slot in enumerate(polynomials.slots) if slot.source == source]
    ids = polynomials.keys[:, columns].reshape(-1).astype(np.int64)
    rows = np.repeat(np.arange(polynomials.n_rows, dtype=np.int64), len(columns))
    return np.unique(np.stack([ids, rows], axis=1)[ids >= 0], axis=0)


def _put_chunked(writer: Any, name: str, array: np.ndarray, sorted_by: np.ndarray) -> list:
    """Store ``array`` in chunks; return the fences: the first value of ``sorted_by`` (the
    column it is sorted by) in every chunk."""
    from lester.store.writer import TABLE_CHUNK_ROWS, default_chunk_rows

    by_bytes = max(64, INDEX_CHUNK_BYTES // max(array.itemsize * int(np.prod(array.shape[1:])), 1))
    rows = min(INDEX_CHUNK_ROWS, by_bytes, default_chunk_rows(array, TABLE_CHUNK_ROWS))
    writer.put_matrix(name, array, chunk_rows=rows)
    return [_plain(value) for value in sorted_by[::rows]]


def _chunk_starts(run: Any, name: str) -> list[int]:
    return run.artifact(name).offsets()[:-1].tolist()


def _plain(value: Any) -> Any:
    """A JSON value for a fence (bytes keys are stored as the strings they encode)."""
    value = value.item() if isinstance(value, np.generic) else value
    return value.decode() if isinstance(value, bytes) else value


def _document(run: Any) -> dict[str, Any]:
    """The index document, parsed once per content (read-only: copy it before changing)."""
    return run.json(INDEX, shared=True)


def has_index(run: Any) -> bool:
    """Whether the run was captured with lookup indexes of the current layout.

    Examples
    --------
    >>> class Bare:
    ...     def artifacts(self): return {}
    >>> has_index(Bare())
    False
    """
    return INDEX in run.artifacts() and _document(run).get("format") == INDEX_FORMAT


# ---------------------------------------------------------------------------- lookups
def _bracketing_chunks(fences: Sequence[Any], dtype: np.dtype, wanted: np.ndarray) -> list[int]:
    """The chunks whose fences bracket one of ``wanted`` (a value equal to a fence may also
    sit at the end of the chunk before: tuple ids repeat in the row index)."""
    if not len(fences) or not len(wanted):
        return []
    bounds = np.array([f.encode() if isinstance(f, str) else f for f in fences], dtype=dtype)
    first = np.searchsorted(bounds, wanted, side="left") - 1
    last = np.searchsorted(bounds, wanted, side="right") - 1
    return sorted(
        {c for lo, hi in zip(first, last, strict=True) for c in range(max(lo, 0), hi + 1)}
    )


def _lookup_values(keys: Sequence[Any], dtype: np.dtype) -> tuple[list[Any], np.ndarray]:
    """Each key as an index element (``None`` where none can equal it), and the distinct
    ones as a sorted array of ``dtype``."""
    converted = [_lookup_value(key, dtype) for key in keys]
    return converted, np.unique(np.array([v for v in converted if v is not None], dtype=dtype))


def _lookup_value(key: Any, dtype: np.dtype) -> Any:
    """``key`` as an element of an index array of ``dtype``, or ``None`` when no element of
    such an array can equal it (a string for a number index, a string longer than the
    index's width, 2.5 for an integer index)."""
    if dtype.kind == "S":
        encoded = key.encode() if isinstance(key, str) else None
        return encoded if encoded is not None and len(encoded) <= dtype.itemsize else None
    if isinstance(key, (str, bytes)):
        return None
    try:
        value = np.asarray(key, dtype=dtype)
        return value.item() if bool(value == key) else None
    except (TypeError, ValueError, OverflowError):
        return None


def tuple_ids(run: Any, source: str, keys: Sequence[Any]) -> np.ndarray:
    """Tuple ids of ``keys`` in ``source`` (``-1`` for an unknown key), reading only the
    index chunks that may hold them.

    The run must have a key index for ``source`` (see :func:`key_indexed`).
    """
    document = _document(run)
    dtype = np.dtype(document["key_arrays"][source])
    converted, wanted = _lookup_values(keys, dtype)
    by_key: dict[Any, int] = {}
    for chunk in _bracketing_chunks(document["keys"][source], dtype, wanted):
        hit = _sorted_hits(run.matrix_chunk(f"index/keys/{source}", chunk), wanted)
        by_key.update(zip(hit["key"].tolist(), hit["tuple_id"].tolist(), strict=True))
    return np.array([by_key.get(value, -1) for value in converted], dtype=np.int64)


def _sorted_hits(records: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The records (sorted by unique keys) whose key is one of ``wanted`` (sorted, unique:
    two of them cannot hit the same record)."""
    if not len(records):
        return records
    keys = records["key"]
    at = np.minimum(np.searchsorted(keys, wanted), len(records) - 1)
    return records[at[keys[at] == wanted]]


def key_schema(run: Any, source: str) -> pd.Index | None:
    """An empty index named and typed like ``source``'s key column, from the index document
    (``None`` when the run has no key index for it)."""
    if not key_indexed(run, source):
        return None
    name, dtype = _document(run).get("key_dtypes", {}).get(source, (None, None))
    return None if name is None else pd.Index([], dtype=dtype, name=name)


def key_indexed(run: Any, source: str) -> bool:
    """Whether ``source`` has a key index in ``run``."""
    return has_index(run) and source in _document(run)["keys"]


def rows_indexed(run: Any, split: str, source: str) -> bool:
    """Whether ``split`` has a row index for ``source`` (rows appended after capture, by
    ``correct``, drop it: see :func:`drop_row_index`)."""
    return has_index(run) and source in _document(run)["rows"].get(split, {})


def drop_row_index(update: Any, split: str) -> None:
    """Drop the row index of ``split``: rows are being appended to it, which it does not
    know. Lookups then read the split's provenance table."""
    if not has_index(update) or split not in _document(update)["rows"]:
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
    name = f"index/rows/{split}/{source}"
    wanted = np.unique(np.asarray(ids, dtype=np.int64))
    fences = _document(run)["rows"][split][source]
    found = [np.empty(0, dtype=np.int64)]
    for chunk in _bracketing_chunks(fences, np.dtype(np.int64), wanted):
        pairs = run.matrix_chunk(name, chunk)
        found.append(pairs[np.isin(pairs[:, 0], wanted), 1])
    captured = np.unique(np.concatenate(found))
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
    if not has_index(update) or split not in _document(update)["captured_rows"]:
        return
    deleted = deleted_rows(update, split)
    kept = _document(update)["captured_rows"][split] - len(deleted)
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
    """Delete the key index entries of forgotten tuples (the index holds their keys),
    rewriting only the chunks that hold them; the index stays sorted, a fence that was a
    forgotten key moves to the chunk's first remaining key, an emptied chunk goes."""
    if not key_indexed(update, source):
        return
    name = f"index/keys/{source}"
    document = update.json(INDEX)
    dtype = np.dtype(document["key_arrays"][source])
    fences, starts = document["keys"][source], _chunk_starts(update, name)
    _, wanted = _lookup_values(keys, dtype)
    gone: list[np.ndarray] = []
    for chunk in _bracketing_chunks(fences, dtype, wanted):
        records = update.matrix_chunk(name, chunk)
        held = np.isin(records["key"], wanted)
        if held.any():
            gone.append(starts[chunk] + np.flatnonzero(held))
            remaining = records["key"][~held]
            fences[chunk] = _plain(remaining[0]) if len(remaining) else None
    if not gone:
        return
    update.delete_rows(name, np.concatenate(gone))
    # delete_rows drops emptied chunks (all but a last remaining one): so do the fences.
    document["keys"][source] = [fence for fence in fences if fence is not None]
    update.put_json(INDEX, document)
