"""Writers: :class:`NewRun` builds version 1 of a run, :class:`RunUpdate` builds version N+1.

Both stage a manifest and write every new file as an immutable, content-addressed object
``objects/<sha256[:2]>/<sha256>.<ext>`` (temporary name, rename; on Linux one ``syncfs`` at
the commit makes them all durable, elsewhere each is fsynced before its rename). An object that
already exists is reused, so an update writes only the chunks it changes. Nothing is
visible to readers until :meth:`RunWriter.commit`, which the ``with`` block calls on a
normal exit; an exception calls :meth:`RunWriter.abort` instead. Both writers can read
what they have staged with the read methods of :class:`~lester.store.view.Run`.

Examples
--------
>>> import numpy as np
>>> with store.new_run("doc") as writer:
...     writer.put_matrix("X", np.arange(6, dtype=np.float32).reshape(3, 2), chunk_rows=2)
>>> with store.update_run(writer.run_id, note="zero row 2") as update:
...     changed_chunks = update.replace_rows("X", [2], np.zeros((1, 2)))
>>> store.open_run(writer.run_id).matrix("X")[:, 0].tolist(), update.version
([0.0, 2.0, 0.0], 2)
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lester.store import codecs
from lester.store._fs import (
    can_sync_filesystem,
    crash_point,
    fsync_dir,
    fsync_dirs,
    remove_tree,
    sha256_bytes,
    sync_filesystem,
    write_atomic,
)
from lester.store.catalog import (
    CatalogEntry,
    Dependency,
    RunRecord,
    SourceRecord,
    VersionRecord,
    check_lineage,
)
from lester.store.errors import StoreError
from lester.store.manifest import CHUNKED_KINDS, Artifact, FileEntry, Manifest, object_path
from lester.store.view import Run, check_chunk, check_positions, codec_of, locate

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from lester.store.store import Store

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
TABLE_CHUNK_ROWS = 65_536
MATRIX_CHUNK_ROWS = 8_192
# A run folder's ``logs/`` holds append-only logs outside the versions (lineage events);
# garbage collection keeps it, the store scan reads it like every other file.
RUN_LOGS = "logs"
# Chunks are the unit of rewriting: an update rewrites (and re-hashes) every chunk that holds
# a changed row, so by default a chunk holds about this many bytes, whatever the row width.
TARGET_CHUNK_BYTES = 1 << 17
MIN_CHUNK_ROWS = 32


def default_chunk_rows(data: Any, limit: int) -> int:
    """Rows per chunk so that a chunk holds about ``TARGET_CHUNK_BYTES`` (in memory), between
    ``MIN_CHUNK_ROWS`` and ``limit``.

    Examples
    --------
    >>> default_chunk_rows(np.zeros((10, 775), dtype=np.float32), 8192)
    42
    >>> default_chunk_rows(np.zeros(10), 8192)
    8192
    """
    n_rows = _row_count(data)
    if not n_rows:
        return limit
    if isinstance(data, pd.DataFrame):
        sample = data.iloc[: min(n_rows, 1000)]
        row_bytes = sample.memory_usage(index=False, deep=True).sum() / len(sample)
    elif hasattr(data, "nnz"):  # scipy.sparse: data, indices and row pointers
        row_bytes = (data.nnz * (data.dtype.itemsize + 4)) / n_rows + 4
    else:
        array = np.asarray(data)
        row_bytes = array.itemsize * max(1, int(np.prod(array.shape[1:])))
    return int(min(limit, max(MIN_CHUNK_ROWS, TARGET_CHUNK_BYTES // max(1, int(row_bytes)))))


def now() -> str:
    """The current UTC time in ISO 8601 (how the store records times).

    Examples
    --------
    >>> now().endswith("+00:00")
    True
    """
    return datetime.now(UTC).isoformat()


def check_json(document: Any, what: str) -> None:
    """Check that ``document`` can be stored as JSON in the catalog.

    Examples
    --------
    >>> check_json({"when": object()}, "meta")
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: meta must be JSON serialisable: ...
    """
    try:
        json.dumps(document)
    except (TypeError, ValueError) as error:
        raise StoreError(f"{what} must be JSON serialisable: {error}") from error


def check_name(name: str) -> str:
    """Check an artifact name: ``/``-separated parts of letters, digits, ``_``, ``.``, ``-``.

    Examples
    --------
    >>> check_name("train/X")
    'train/X'
    >>> check_name("../x")
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: invalid artifact name '../x': use '/'-separated parts of ...
    """
    parts = name.split("/") if isinstance(name, str) else []
    if not NAME_PATTERN.fullmatch(str(name)) or any(set(part) == {"."} for part in parts):
        raise StoreError(
            f"invalid artifact name {name!r}: use '/'-separated parts of letters, digits, "
            "'_', '.' and '-' (not '.' or '..')"
        )
    return name


class RunWriter(Run):
    """What :class:`NewRun` and :class:`RunUpdate` share: staging artifacts and committing.

    Examples
    --------
    >>> with store.new_run("doc") as writer:
    ...     writer.put_json("config", {"k": 1})
    ...     writer.json("config")
    {'k': 1}
    """

    _stage = "write"  # prefix of this writer's crash points

    def __init__(self, store: Store, path: Path, manifest: Manifest, lock: BaseFileLock) -> None:
        super().__init__(path, manifest)
        self._store = store
        self._lock = lock
        self._touched: set[Path] = set()
        self._changed = False
        self._lineage: dict[str, Any] = {}
        self._open = True
        # With syncfs, objects are not fsynced one by one: one call at commit covers them all.
        self._sync_at_commit = can_sync_filesystem()

    # -- context manager ------------------------------------------------------------------

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._open:
            return
        if kind is None:
            self.commit()
        else:
            self.abort()

    def commit(self) -> None:
        """Make the staged version durable and current (called by a normal ``with`` exit)."""
        raise NotImplementedError

    def abort(self) -> None:
        """Discard everything staged (called when the ``with`` block raises)."""
        raise NotImplementedError

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"the writer of run {self.run_id!r} is already committed or aborted")

    def _release(self) -> None:
        self._open = False
        self._lock.release()

    def write_back(self) -> None:
        """Flush the objects written so far to disk now, while the caller waits for
        something else: the commit then has only what came after to flush. Optional, and
        no promise: only the commit makes a version durable.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_json("a", 1)
        ...     writer.write_back()
        """
        self._check_open()
        if self._sync_at_commit:
            sync_filesystem(self.path)

    def _make_durable(self, folders: Sequence[Path]) -> None:
        """Make the objects written so far, and ``folders``, durable."""
        if self._sync_at_commit:
            sync_filesystem(self.path)
        else:  # each object was fsynced as it was written
            fsync_dirs(folders)

    # -- objects --------------------------------------------------------------------------

    def _put_object(self, data: bytes, ext: str) -> FileEntry:
        self._check_open()
        digest = sha256_bytes(data)
        entry = FileEntry(object_path(digest, ext), digest, len(data))
        path = self.path / entry.path
        # Same name means same content: reuse it unless a crash left it short.
        if _file_size(path) != len(data):
            if path.parent not in self._touched:
                path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data, fsync=not self._sync_at_commit)
            crash_point(f"{self._stage}:object")
        self._touched.update([path.parent, path.parent.parent])
        self._verified.add(entry.path)
        return entry

    def _set(self, name: str, artifact: Artifact) -> None:
        self.manifest.artifacts[check_name(name)] = artifact
        self._changed = True

    def _put_whole(self, name: str, kind: str, *payloads: tuple[bytes, str]) -> None:
        check_name(name)
        self._set(name, Artifact(kind, [self._put_object(*payload) for payload in payloads]))

    def _put_chunks(self, name: str, codec: codecs.ChunkCodec, data: Any, chunk_rows: int) -> None:
        if chunk_rows < 1:
            raise StoreError(f"chunk_rows must be positive, got {chunk_rows}")
        check_name(name)
        prepared, attrs = codec.prepare(data)
        parts, rows = [], []
        for chunk in codec.split(prepared, chunk_rows):
            parts.append(self._put_object(codec.encode(chunk), codec.ext))
            rows.append(codec.n_rows(chunk))
        kind = "table" if codec is codecs.TABLE else "matrix"
        self._set(name, Artifact(kind, parts, rows, attrs | {"chunk_rows": chunk_rows}))

    # -- whole artifacts ------------------------------------------------------------------

    def put_table(self, name: str, data: pd.DataFrame, chunk_rows: int | None = None) -> None:
        """Store a DataFrame as Arrow IPC chunks of ``chunk_rows`` rows (the index is dropped);
        by default about 128 KiB of rows per chunk, at most ``TABLE_CHUNK_ROWS``.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_table("t", pd.DataFrame({"a": [1, 2, 3]}), chunk_rows=2)
        ...     [c.rows for c in writer.table_chunks("t")]
        [2, 1]
        """
        rows = chunk_rows or default_chunk_rows(data, TABLE_CHUNK_ROWS)
        self._put_chunks(name, codecs.TABLE, data, rows)

    def put_matrix(self, name: str, data: Any, chunk_rows: int | None = None) -> None:
        """Store a dense array (.npy chunks, dtype kept) or scipy.sparse matrix (.npz chunks),
        by default about 128 KiB of rows per chunk, at most ``MATRIX_CHUNK_ROWS``.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_matrix("y", np.array([0, 1, 1]))
        ...     writer.matrix("y").tolist()
        [0, 1, 1]
        """
        rows = chunk_rows or default_chunk_rows(data, MATRIX_CHUNK_ROWS)
        self._put_chunks(name, codecs.matrix_codec(data), data, rows)

    def put_json(self, name: str, document: Any) -> None:
        """Store a JSON document (numpy scalars and arrays are converted).

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_json("metrics", {"auc": np.float64(0.5)})
        ...     writer.json("metrics")
        {'auc': 0.5}
        """
        self._put_whole(name, "json", (codecs.encode_json(document), "json"))

    def put_bytes(self, name: str, data: bytes | str) -> None:
        """Store raw bytes; a string is stored as UTF-8 (read it back with ``text``).

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_bytes("pipeline.py", "x = 1\\n")
        ...     writer.text("pipeline.py")
        'x = 1\\n'
        """
        payload = data.encode() if isinstance(data, str) else bytes(data)
        self._put_whole(name, "bytes", (payload, "bin"))

    def put_sklearn(self, name: str, estimator: Any) -> None:
        """Store a scikit-learn object with skops (never pickle).

        Examples
        --------
        >>> from sklearn.preprocessing import MinMaxScaler
        >>> with store.new_run("doc") as writer:
        ...     writer.put_sklearn("scaler", MinMaxScaler().fit([[0.0], [2.0]]))
        ...     writer.sklearn("scaler").data_max_
        array([2.])
        """
        data, types = codecs.encode_skops(estimator)
        self._put_whole(name, "sklearn", (data, "skops"))
        self.manifest.artifacts[name].attrs["trusted_types"] = types

    def put_torch(
        self, name: str, state_dict: dict[str, Any], module: dict[str, Any] | None = None
    ) -> None:
        """Store a torch state dict as safetensors plus a JSON describing how to rebuild it.

        ``module`` is free-form JSON; ``{"class": "torch.nn.Linear", "kwargs": {...}}`` lets
        :meth:`~lester.store.view.Run.torch_module` rebuild the module.

        Examples
        --------
        >>> import torch
        >>> with store.new_run("doc") as writer:
        ...     writer.put_torch("m", {"w": torch.ones(2, 3)})
        ...     writer.torch_spec("m")["tensors"]
        {'w': {'dtype': 'torch.float32', 'shape': [2, 3]}}
        """
        tensors = {
            key: {"dtype": str(tensor.dtype), "shape": list(tensor.shape)}
            for key, tensor in state_dict.items()
        }
        spec = codecs.encode_json({"module": module, "tensors": tensors})
        weights = codecs.encode_safetensors(state_dict)
        self._put_whole(name, "torch", (weights, "safetensors"), (spec, "json"))

    def delete_artifact(self, name: str) -> None:
        """Remove an artifact from the staged version (its files go at the next GC).

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_json("tmp", 1); writer.delete_artifact("tmp")
        ...     "tmp" in writer
        False
        """
        self._check_open()
        self.artifact(name)
        del self.manifest.artifacts[name]
        self._changed = True

    # -- row-level changes to chunked artifacts -------------------------------------------

    def replace_rows(
        self, name: str, positions: Sequence[int] | np.ndarray, values: Any
    ) -> list[int]:
        """Replace the rows at ``positions`` by the rows of ``values`` (in that order).

        Only chunks holding one of the rows are rewritten; returns their indices. ``values``
        is an array or sparse matrix for matrices and a DataFrame or Arrow table for tables.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_table("t", pd.DataFrame({"a": [1, 2, 3]}), chunk_rows=2)
        ...     writer.replace_rows("t", [2], pd.DataFrame({"a": [9]}))
        ...     writer.table("t")["a"].tolist()
        [1]
        [1, 2, 9]
        """
        self._check_open()
        artifact = self.artifact(name, CHUNKED_KINDS)
        positions = check_positions(name, artifact, positions)
        if _row_count(values) != len(positions):
            raise StoreError(
                f"{len(positions)} row positions but {_row_count(values)} replacement rows"
            )
        codec = codec_of(artifact)
        chunk_of, inside = locate(artifact, positions)
        indices = np.unique(chunk_of).tolist()
        if indices:  # converted once, not once per chunk (a DataFrame to Arrow costs)
            values = codec.like(self._chunk(artifact, indices[0]), values)
        new_parts = {}
        for index in indices:
            selected = np.flatnonzero(chunk_of == index)
            chunk = codec.replace(
                self._chunk(artifact, index), inside[selected], codec.take(values, selected)
            )
            new_parts[index] = self._put_object(codec.encode(chunk), codec.ext)
        # Change the staged manifest only once every new chunk is written.
        for index, part in new_parts.items():
            artifact.parts[index] = part
        self._changed = True
        return list(new_parts)

    def delete_rows(self, name: str, positions: Sequence[int] | np.ndarray) -> list[int]:
        """Delete the rows at ``positions``; the other rows keep their order.

        Chunks are of variable size: only chunks holding a deleted row are rewritten (an
        emptied chunk is dropped unless it is the last one). Returns the indices, before
        the deletion, of the chunks that changed.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_matrix("y", np.arange(5), chunk_rows=2)
        ...     writer.delete_rows("y", [1, 2, 3])
        ...     writer.matrix("y").tolist(), [c.rows for c in writer.chunks("y")]
        [0, 1]
        ([0, 4], [1, 1])
        """
        self._check_open()
        artifact = self.artifact(name, CHUNKED_KINDS)
        positions = check_positions(name, artifact, positions)
        codec = codec_of(artifact)
        chunk_of, inside = locate(artifact, positions)
        parts, rows = artifact.parts.copy(), list(artifact.rows or [])
        changed = np.unique(chunk_of).tolist()
        for index in reversed(changed):
            chunk = self._chunk(artifact, index)
            keep = np.setdiff1d(np.arange(codec.n_rows(chunk)), inside[chunk_of == index])
            if keep.size == 0 and len(parts) > 1:
                del parts[index], rows[index]
                continue
            parts[index] = self._put_object(codec.encode(codec.take(chunk, keep)), codec.ext)
            rows[index] = int(keep.size)
        artifact.parts, artifact.rows = parts, rows
        _sync_shape(artifact)
        self._changed = True
        return changed

    def replace_chunk(self, name: str, index: int, data: Any) -> None:
        """Replace chunk ``index`` as a whole by ``data`` (any number of rows).

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_matrix("y", np.arange(4), chunk_rows=2)
        ...     writer.replace_chunk("y", 1, np.array([7, 8, 9]))
        ...     writer.matrix("y").tolist()
        [0, 1, 7, 8, 9]
        """
        self._check_open()
        artifact = self.artifact(name, CHUNKED_KINDS)
        check_chunk(name, artifact, index)
        codec = codec_of(artifact)
        chunk = codec.like(self._chunk(artifact, index), data)
        artifact.parts[index] = self._put_object(codec.encode(chunk), codec.ext)
        artifact.rows[index] = codec.n_rows(chunk)
        _sync_shape(artifact)
        self._changed = True

    # -- catalog --------------------------------------------------------------------------

    def set_catalog(
        self,
        sources: Sequence[SourceRecord] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        metrics: dict[str, Any] | None = None,
        pipeline_code_hash: str | None = None,
    ) -> None:
        """Record the run's sources, column dependencies and metrics (written at commit).

        Arguments left ``None`` keep what the catalog has (nothing, for a new run).

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.set_catalog(
        ...         sources=[SourceRecord("s", "/data/s.csv", "ab12")],
        ...         dependencies=[Dependency("s", "email", "X")], metrics={"auc": 0.8})
        >>> [d.artifact for d in store.dependencies(writer.run_id)]
        ['X']
        """
        self._check_open()
        check_json(metrics, "metrics")
        given = {
            "sources": None if sources is None else list(sources),
            "dependencies": None if dependencies is None else list(dependencies),
            "metrics": metrics,
            "pipeline_code_hash": pipeline_code_hash,
        }
        lineage = self._lineage | {key: value for key, value in given.items() if value is not None}
        if "sources" in lineage or "dependencies" in lineage:
            sources = lineage.get("sources", self._known("sources"))
            dependencies = lineage.get("dependencies", self._known("dependencies"))
            check_lineage(self.run_id, sources, dependencies)
        self._lineage = lineage
        self._changed = True

    def _known(self, what: str) -> list[Any]:
        """What the catalog already holds for this run (nothing for a new run)."""
        if self._store.catalog.find_run(self.run_id) is None:
            return []
        return getattr(self._store.catalog, what)(self.run_id)


class NewRun(RunWriter):
    """Writer of version 1 of a new run, staged in ``<root>/tmp/<run_id>``.

    Commit: write manifest v1, fsync, rename the folder to ``<root>/runs/<run_id>``, then
    insert the run into the catalog in one transaction. Abort: remove the folder.

    Examples
    --------
    >>> with store.new_run("doc", meta={"user": "ann"}) as writer:
    ...     writer.put_json("a", [1])
    >>> store.run(writer.run_id).meta
    {'user': 'ann'}
    """

    _stage = "new"

    def __init__(
        self,
        store: Store,
        run_id: str,
        pipeline: str,
        meta: dict[str, Any],
        staging: Path,
        lock: BaseFileLock,
    ) -> None:
        super().__init__(store, staging, Manifest(run_id, 1, None, now(), "", {}), lock)
        self.pipeline = pipeline
        self.meta = meta
        self.created = self.manifest.created

    def __enter__(self) -> NewRun:
        return self

    def commit(self) -> None:
        """Write manifest v1, move the run into place and add it to the catalog.

        Examples
        --------
        >>> writer = store.new_run("doc"); writer.put_json("a", 1); writer.commit()
        >>> store.open_run(writer.run_id).version
        1
        """
        self._check_open()
        final = self._store.run_path(self.run_id)
        try:
            self.manifest.created = now()
            manifest_sha256 = self._write_manifest()
            collect_garbage(self.path, self.manifest.paths())
            crash_point("new:staged")
            os.rename(self.path, final)
            fsync_dirs([final.parent, self.path.parent])
            self.path = final
            crash_point("new:renamed")
            self._store.catalog.add_runs([self._entry(manifest_sha256)])
        except BaseException:
            self.abort()
            raise
        self._release()

    def _write_manifest(self) -> str:
        data = self.manifest.to_bytes()
        write_atomic(self.path / self.manifest.file_name(), data, fsync=not self._sync_at_commit)
        self._make_durable([*self._touched, self.path])
        return sha256_bytes(data)

    def _entry(self, manifest_sha256: str) -> CatalogEntry:
        record = RunRecord(
            self.run_id,
            self.pipeline,
            self.created,
            self.manifest.created,
            1,
            manifest_sha256,
            self.meta,
            self._lineage.get("metrics", {}),
            self._lineage.get("pipeline_code_hash"),
        )
        version = VersionRecord(
            self.run_id,
            1,
            None,
            self.manifest.created,
            "",
            manifest_sha256,
            *self.manifest.totals(),
        )
        return CatalogEntry(
            record,
            version,
            self._lineage.get("sources", ()),
            self._lineage.get("dependencies", ()),
        )

    def abort(self) -> None:
        """Remove the staged (or already moved, but uncatalogued) run folder.

        Examples
        --------
        >>> writer = store.new_run("doc"); writer.abort()
        >>> writer.path.exists(), writer.run_id in [r.run_id for r in store.runs()]
        (False, False)
        """
        if not self._open:
            return
        try:
            if self._store.catalog.find_run(self.run_id) is None:
                remove_tree(self.path)
        finally:
            self._release()


class RunUpdate(RunWriter):
    """Writer of version N+1 of a run, holding the run's lock from start to commit.

    New objects go straight into the run folder (they are invisible until the switch).
    Commit: fsync, write manifest N+1, switch the catalog row in one transaction, then
    delete every file no longer referenced (old manifest, replaced chunks). An update that
    changed nothing commits nothing (``version`` stays N).

    Examples
    --------
    >>> with store.new_run("doc") as writer:
    ...     writer.put_json("log", [])
    >>> with store.update_run(writer.run_id, note="append") as update:
    ...     update.put_json("log", update.json("log") + ["x"])
    >>> [v.note for v in store.versions(writer.run_id)]
    ['', 'append']
    """

    _stage = "update"

    def __init__(
        self, store: Store, path: Path, base: Manifest, note: str, lock: BaseFileLock
    ) -> None:
        super().__init__(store, path, base.successor(now(), note), lock)
        self.base = base

    def __enter__(self) -> RunUpdate:
        return self

    def commit(self) -> None:
        """Switch the run to the staged version and collect the files it no longer needs.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_json("a", 1)
        >>> update = store.update_run(writer.run_id); update.put_json("a", 2); update.commit()
        >>> store.open_run(writer.run_id).json("a")
        2
        """
        self._check_open()
        if not self._changed:
            self.abort()
            return
        try:
            self._switch()
        except BaseException:
            self.abort()
            raise
        crash_point("update:switched")
        # Only what the old version or this update used can be garbage: deleting those
        # costs what the update touched, not a walk over every file of the run (what a crash
        # leaves behind is collected by Store.recover, which walks everything).
        remove_files(self.path, self._replaced(), crash_stage="update:gc")
        self._store.update_marker(self.run_id).unlink(missing_ok=True)
        self._release()
        self._store.catalog.checkpoint()

    def _replaced(self) -> set[str]:
        """Paths the old version or this update used that the new version does not: the
        parts of artifacts that changed (by their sha256 lists), the old manifest, objects
        this update wrote and replaced again."""
        kept = self.manifest.digests()
        base = self.base.artifacts
        changed = [
            artifact.parts
            for name, artifact in base.items()
            if name not in self.manifest.artifacts
            or self.manifest.artifacts[name].parts.sha256 != artifact.parts.sha256
        ]
        gone = {
            object_path(digest, ext)
            for parts in changed
            for digest, ext in zip(parts.sha256, parts.ext, strict=True)
            if digest not in kept
        }
        written = {p for p in self._verified if p.startswith("objects/")}
        gone |= {p for p in written if p.rsplit("/", 1)[-1].split(".")[0] not in kept}
        return gone | {self.base.file_name()}

    def _switch(self) -> None:
        self.manifest.created = now()
        data = self.manifest.to_bytes()
        manifest_path = self.path / self.manifest.file_name()
        if self._sync_at_commit:
            # Nothing refers to the new manifest before the catalog switch: one syncfs makes
            # it durable together with the objects it lists.
            write_atomic(manifest_path, data, fsync=False)
            sync_filesystem(self.path)
            crash_point("update:objects")
        else:
            self._make_durable(self._touched)
            crash_point("update:objects")
            write_atomic(manifest_path, data)
            fsync_dir(self.path)
        crash_point("update:manifest")
        digest = sha256_bytes(data)
        version = VersionRecord(
            self.run_id,
            self.manifest.version,
            self.base.version,
            self.manifest.created,
            self.manifest.note,
            digest,
            *self.manifest.totals(),
        )
        with self._store.catalog.transaction() as connection:
            self._store.catalog.switch_version(connection, version, **self._lineage)
            crash_point("update:transaction")
        self._store.remember_manifest(digest, self.manifest)  # readers need not parse it

    def abort(self) -> None:
        """Drop the staged version and delete the objects it wrote.

        Examples
        --------
        >>> with store.new_run("doc") as writer:
        ...     writer.put_json("a", 1)
        >>> update = store.update_run(writer.run_id); update.put_json("a", 2); update.abort()
        >>> store.open_run(writer.run_id).json("a")
        1
        """
        if not self._open:
            return
        try:
            if self._store.catalog.run(self.run_id).version == self.base.version:
                collect_garbage(self.path, self.base.paths())
                self._store.update_marker(self.run_id).unlink(missing_ok=True)
        finally:
            self.manifest = self.base
            self._release()


def _file_size(path: Path) -> int | None:
    """The size of the regular file at ``path`` (``None`` when there is none)."""
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def remove_files(path: Path, names: set[str], crash_stage: str | None = None) -> list[Path]:
    """Delete the files ``names`` (relative to ``path``) and the folders they leave empty.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); (folder / "o").mkdir(); (folder / "o" / "a").touch()
    >>> [p.name for p in remove_files(folder, {"o/a", "o/missing"})], list(folder.iterdir())
    (['a', 'o'], [])
    """
    removed: list[Path] = []
    for name in sorted(names):
        item = path / name
        try:
            item.unlink()
        except FileNotFoundError:
            continue
        removed.append(item)
        if crash_stage and len(removed) == 1:
            crash_point(crash_stage)
    for folder in sorted({item.parent for item in removed}, reverse=True):
        while folder != path:
            try:
                folder.rmdir()  # one call, no listing: most object folders are not empty
            except OSError:
                break
            removed.append(folder)
            folder = folder.parent
    return removed


def collect_garbage(path: Path, keep: set[str], crash_stage: str | None = None) -> list[Path]:
    """Delete every file under ``path`` not in ``keep`` (relative paths), and emptied folders.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()); (folder / "a").write_text("1"); (folder / "b").touch()
    1
    >>> [p.name for p in collect_garbage(folder, {"a"})], sorted(p.name for p in folder.iterdir())
    (['b'], ['a'])
    """
    removed: list[Path] = []
    for item in sorted(path.rglob("*"), reverse=True):  # children before their folders
        if item.relative_to(path).parts[0] == RUN_LOGS:
            continue  # append-only logs kept across versions (e.g. lineage events)
        if item.is_dir():
            if not any(item.iterdir()):
                item.rmdir()
                removed.append(item)
        elif item.relative_to(path).as_posix() not in keep:
            item.unlink()
            removed.append(item)
            if crash_stage and len(removed) == 1:
                crash_point(crash_stage)
    fsync_dirs([item.parent for item in removed])
    return removed


def _row_count(values: Any) -> int:
    return values.shape[0] if hasattr(values, "shape") else len(values)


def _sync_shape(artifact: Artifact) -> None:
    if "shape" in artifact.attrs:
        artifact.attrs["shape"][0] = artifact.n_rows()
