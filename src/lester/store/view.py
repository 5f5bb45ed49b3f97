"""Read access to one version of a run: :class:`Run`.

Every file is checked against the sha256 in the manifest the first time this view reads
it; a mismatch raises :class:`~lester.store.errors.IntegrityError` naming the file. Dense
matrix chunks can be memory-mapped (``mmap=True``); they are hashed before being mapped.

The examples below use ``store`` and ``run_id``: a store holding one small run with a
table ``data`` (5 rows in chunks of 2), a float32 matrix ``X`` (5 x 2, chunks of 2), a JSON
document ``meta``, the text ``pipeline.py``, a fitted ``scaler`` and torch ``model``.

Examples
--------
>>> run = store.open_run(run_id)
>>> run.artifacts()["X"], run.matrix("X").shape
('matrix', (5, 2))
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa

from lester.errors import describe_names
from lester.store import codecs
from lester.store._fs import read_file, sha256_bytes, sha256_file
from lester.store.errors import ArtifactKindError, IntegrityError, StoreError, UnknownArtifactError
from lester.store.manifest import CHUNKED_KINDS, Artifact, FileEntry, Manifest

# Decoded chunks kept per view: an update reads the rows it changes, then rewrites their
# chunks, and maintenance reads an index chunk more than once.
CHUNK_CACHE_BYTES = 64 << 20
# Dense chunks at least this large are memory-mapped when only a few of their rows are read.
MMAP_MIN_BYTES = 4 << 20


@dataclass(frozen=True)
class Chunk:
    """One chunk of a chunked artifact: rows ``start`` to ``stop`` live in ``file``.

    Examples
    --------
    >>> [(c.start, c.stop) for c in store.open_run(run_id).chunks("data")]
    [(0, 2), (2, 4), (4, 5)]
    """

    index: int
    start: int
    stop: int
    file: FileEntry

    @property
    def rows(self) -> int:
        """Rows in the chunk.

        Examples
        --------
        >>> store.open_run(run_id).chunks("X")[-1].rows
        1
        """
        return self.stop - self.start


class ChunkCache:
    """Decoded chunks by key, least recently used first out once they pass ``limit`` bytes;
    safe to share between threads (an update's model worker reads with the main thread).

    Examples
    --------
    >>> cache = ChunkCache(limit=10)
    >>> cache.put("a", np.zeros(1), 6); cache.put("b", np.ones(1), 6)
    >>> cache.get("a") is None, cache.get("b").tolist()
    (True, [1.0])
    """

    def __init__(self, limit: int = CHUNK_CACHE_BYTES) -> None:
        self.limit = limit
        self._values: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        """The value cached under ``key`` (``None`` if there is none)."""
        with self._lock:
            found = self._values.get(key)
            if found is None:
                return None
            self._values.move_to_end(key)
            return found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        """Cache ``value`` (``size`` bytes on disk) under ``key``."""
        with self._lock:
            if key in self._values:
                return
            self._values[key] = (value, size)
            self._bytes += size
            while self._bytes > self.limit and self._values:
                self._bytes -= self._values.popitem(last=False)[1][1]


class Run:
    """One version of a run, read from its folder according to its manifest.

    Examples
    --------
    >>> run = store.open_run(run_id)
    >>> run.run_id == run_id, run.version
    (True, 1)
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        *,
        verify: bool = True,
        on_missing: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._root = os.path.join(self.path, "")  # joined by "+" on the hot read path
        self.manifest = manifest
        self._verify = verify
        self._verified: set[str] = set()
        self._on_missing = on_missing
        self._cache = ChunkCache()
        self._documents: dict[str, Any] = {}

    def at_version(self, manifest: Manifest) -> Run:
        """This run at the version ``manifest`` describes (the one an update started from,
        say), sharing this view's decoded chunks: files are content-addressed, so a chunk
        one view read and checked is valid for the other, which takes it from the cache.

        Examples
        --------
        >>> run = store.open_run(run_id)
        >>> same = run.at_version(run.manifest)
        >>> same.matrix_chunk("X", 0) is run.matrix_chunk("X", 0)
        True
        """
        view = Run(self.path, manifest, verify=self._verify, on_missing=self._on_missing)
        view._cache, view._documents = self._cache, self._documents
        return view

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.manifest.run_id

    @property
    def version(self) -> int:
        """The version this view shows."""
        return self.manifest.version

    def artifacts(self) -> dict[str, str]:
        """Artifact names and their kinds.

        Examples
        --------
        >>> sorted(store.open_run(run_id).artifacts())[:3]
        ['X', 'data', 'meta']
        """
        return {name: artifact.kind for name, artifact in self.manifest.artifacts.items()}

    def __contains__(self, name: object) -> bool:
        return name in self.manifest.artifacts

    def artifact(self, name: str, kinds: Sequence[str] | None = None) -> Artifact:
        """The manifest entry of artifact ``name``, checked to be one of ``kinds``.

        Examples
        --------
        >>> store.open_run(run_id).artifact("nope")
        Traceback (most recent call last):
        ...
        lester.store.errors.UnknownArtifactError: run ... has no artifact 'nope'; it has [...]
        """
        artifact = self.manifest.artifacts.get(name)
        if artifact is None:
            raise UnknownArtifactError(
                f"run {self.run_id!r} version {self.version} has no artifact {name!r}; "
                f"it has {describe_names(sorted(self.manifest.artifacts))}"
            )
        if kinds is not None and artifact.kind not in kinds:
            raise ArtifactKindError(
                f"artifact {name!r} of run {self.run_id!r} is a {artifact.kind}, not a "
                f"{' or '.join(kinds)}"
            )
        return artifact

    # -- verified file access ---------------------------------------------------------

    def _read(self, entry: FileEntry) -> bytes:
        try:
            data = read_file(self._root + entry.path, entry.size)
        except FileNotFoundError:
            self._missing(entry)
        if self._verify and entry.path not in self._verified:
            self._check(entry, sha256_bytes(data))
        return data

    def _checked_path(self, entry: FileEntry) -> Path:
        path = self.path / entry.path
        if self._verify and entry.path not in self._verified:
            try:
                self._check(entry, sha256_file(path))
            except FileNotFoundError:
                self._missing(entry)
        return path

    def _check(self, entry: FileEntry, actual: str) -> None:
        if actual != entry.sha256:
            raise IntegrityError(
                f"file {self.path / entry.path} of run {self.run_id!r} version {self.version} "
                f"is corrupt: sha256 {actual}, recorded {entry.sha256}"
            )
        self._verified.add(entry.path)

    def _missing(self, entry: FileEntry) -> NoReturn:
        if self._on_missing is not None:
            self._on_missing(entry.path)
        raise IntegrityError(
            f"file {self.path / entry.path} of run {self.run_id!r} version {self.version} "
            "is missing"
        )

    # -- chunked artifacts --------------------------------------------------------------

    def chunks(self, name: str) -> list[Chunk]:
        """The chunk table of a table or matrix: rows and file of every chunk.

        Examples
        --------
        >>> len(store.open_run(run_id).chunks("data"))
        3
        """
        artifact = self.artifact(name, CHUNKED_KINDS)
        offsets = artifact.offsets()
        return [
            Chunk(index, int(offsets[index]), int(offsets[index + 1]), part)
            for index, part in enumerate(artifact.parts)
        ]

    def n_rows(self, name: str) -> int:
        """Rows of a table or matrix.

        Examples
        --------
        >>> store.open_run(run_id).n_rows("X")
        5
        """
        return self.artifact(name, CHUNKED_KINDS).n_rows()

    def matrix_shape(self, name: str) -> tuple[int, ...]:
        """Shape of a matrix, from the manifest (no file is read).

        Examples
        --------
        >>> store.open_run(run_id).matrix_shape("X")
        (5, 2)
        """
        artifact = self.artifact(name, ("matrix",))
        return (artifact.n_rows(), *artifact.attrs["shape"][1:])

    def locate(self, name: str, positions: Sequence[int] | np.ndarray) -> tuple[np.ndarray, ...]:
        """Row -> chunk index: the chunk of each row position and the row's position in it.

        Examples
        --------
        >>> [a.tolist() for a in store.open_run(run_id).locate("data", [0, 3, 4])]
        [[0, 1, 2], [0, 1, 0]]
        """
        artifact = self.artifact(name, CHUNKED_KINDS)
        return locate(artifact, check_positions(name, artifact, positions, unique=False))

    def _chunk(self, artifact: Artifact, index: int, mmap: bool = False, **read: Any) -> Any:
        codec = codec_of(artifact)
        entry = artifact.parts[index]
        if mmap and codec is codecs.DENSE:
            try:
                return codec.load(self._checked_path(entry), mmap=True)
            except FileNotFoundError:
                self._missing(entry)
        key = (entry.sha256, tuple(read.get("columns") or ()))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        data = self._read(entry)
        value = codec.decode(data, **read)  # read: columns, for tables only
        if len(data) <= CHUNK_CACHE_BYTES // 8:  # whole big matrices would only churn it
            self._remember(key, value, len(data))
        return value

    def _remember(self, key: tuple, value: Any, size: int) -> None:
        """Cache a decoded chunk (read-only, so that no caller changes what others read);
        files are content-addressed, so an entry never goes stale."""
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        elif not isinstance(value, pa.Table):
            return  # sparse matrices are mutable
        self._cache.put(key, value, size)

    def _rows(self, name: str, kind: str, start: int, stop: int, mmap: bool, **read: Any) -> Any:
        artifact = self.artifact(name, (kind,))
        codec = codec_of(artifact)
        parts = [
            codec.slice(self._chunk(artifact, index, mmap, **read), low, high)
            for index, low, high in _pieces(artifact, start, stop)
        ]
        return parts[0] if len(parts) == 1 else codec.concat(parts, artifact.attrs)

    # -- tables ---------------------------------------------------------------------------

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole table (all chunks, in order) with a fresh RangeIndex.

        Examples
        --------
        >>> store.open_run(run_id).table("data")["name"].tolist()
        ['a', 'b', nan, 'd', 'e']
        """
        artifact = self.artifact(name, ("table",))
        read = {} if columns is None else {"columns": list(columns)}
        chunks = [self._chunk(artifact, index, **read) for index in range(len(artifact.parts))]
        return pa.concat_tables(chunks).to_pandas()

    def table_chunks(self, name: str) -> list[Chunk]:
        """The chunk table of a table artifact (see :meth:`chunks`).

        Examples
        --------
        >>> [c.rows for c in store.open_run(run_id).table_chunks("data")]
        [2, 2, 1]
        """
        self.artifact(name, ("table",))
        return self.chunks(name)

    def table_chunk(
        self, name: str, index: int, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """One chunk of a table.

        Examples
        --------
        >>> store.open_run(run_id).table_chunk("data", 1)["name"].tolist()
        [nan, 'd']
        """
        artifact = self.artifact(name, ("table",))
        read = {} if columns is None else {"columns": list(columns)}
        return self._chunk(artifact, check_chunk(name, artifact, index), **read).to_pandas()

    def table_rows(self, name: str, start: int, stop: int) -> pd.DataFrame:
        """Rows ``start`` to ``stop`` of a table, reading only the chunks that hold them.

        Examples
        --------
        >>> store.open_run(run_id).table_rows("data", 1, 3)["id"].tolist()
        [2, 3]
        """
        return self._rows(name, "table", start, stop, mmap=False).to_pandas()

    def table_take(self, name: str, positions: Sequence[int] | np.ndarray) -> pd.DataFrame:
        """Rows of a table at ``positions``, in that order: only the chunks holding them are
        read, and only those rows are converted to pandas.

        Examples
        --------
        >>> store.open_run(run_id).table_take("data", [4, 0])["id"].tolist()
        [5, 1]
        """
        return self.arrow_take(name, positions).to_pandas()

    def arrow_take(self, name: str, positions: Sequence[int] | np.ndarray) -> pa.Table:
        """:meth:`table_take` as an Arrow table, with the stored column types.

        Examples
        --------
        >>> store.open_run(run_id).arrow_take("data", [4, 0])["id"].to_pylist()
        [5, 1]
        """
        pieces, order = self._take(name, "table", positions)
        if not pieces:
            return self._rows(name, "table", 0, 0, mmap=False)
        rows = pa.concat_tables(pieces)
        if len(pieces) > 1:
            rows = codecs.TABLE.take(rows, np.argsort(np.concatenate(order), kind="stable"))
        return rows

    def _take(self, name: str, kind: str, positions: Any) -> tuple[list[Any], list[np.ndarray]]:
        """The rows at ``positions`` chunk by chunk: one piece per chunk read, and where in
        ``positions`` each piece's rows are."""
        artifact = self.artifact(name, (kind,))
        codec = codec_of(artifact)
        chunk_of, inside = self.locate(name, positions)
        pieces, order = [], []
        for index in np.unique(chunk_of).tolist():
            selected = np.flatnonzero(chunk_of == index)
            # Small chunks are read whole (one read, hashed in memory, cached for a rewrite).
            mmap = artifact.parts[index].size >= MMAP_MIN_BYTES
            pieces.append(codec.take(self._chunk(artifact, index, mmap), inside[selected]))
            order.append(selected)
        return pieces, order

    # -- matrices -------------------------------------------------------------------------

    def matrix(self, name: str, mmap: bool = False) -> Any:
        """The whole matrix: a numpy array, or a CSR matrix for sparse ones.

        With ``mmap=True`` dense chunks are memory-mapped; a one-chunk matrix comes back as
        the ``np.memmap`` itself, a multi-chunk one is concatenated into memory (use
        :meth:`matrix_chunks` or :meth:`matrix_rows` to stay mapped).

        Examples
        --------
        >>> store.open_run(run_id).matrix("X").dtype
        dtype('float32')
        """
        artifact = self.artifact(name, ("matrix",))
        chunks = self.matrix_chunks(name, mmap)
        if len(chunks) == 1:
            return chunks[0] if mmap else _writable(chunks[0])
        return codec_of(artifact).concat(chunks, artifact.attrs)

    def matrix_chunks(self, name: str, mmap: bool = False) -> list[Any]:
        """Every chunk of a matrix, in order (``np.memmap`` objects for dense ones if ``mmap``;
        read-only either way).

        Examples
        --------
        >>> chunks = store.open_run(run_id).matrix_chunks("X", mmap=True)
        >>> type(chunks[0]).__name__, [len(c) for c in chunks]
        ('memmap', [2, 2, 1])
        """
        artifact = self.artifact(name, ("matrix",))
        return [self._chunk(artifact, index, mmap) for index in range(len(artifact.parts))]

    def matrix_chunk(self, name: str, index: int, mmap: bool = False) -> Any:
        """One chunk of a matrix (read-only: a dense chunk may be shared with later reads).

        Examples
        --------
        >>> store.open_run(run_id).matrix_chunk("X", 1)[:, 0].tolist()
        [2.0, 3.0]
        """
        artifact = self.artifact(name, ("matrix",))
        return self._chunk(artifact, check_chunk(name, artifact, index), mmap)

    def matrix_take(self, name: str, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of a matrix at ``positions``, in that order, as a dense array: only the
        chunks holding them are read (large dense chunks memory-mapped).

        Examples
        --------
        >>> store.open_run(run_id).matrix_take("X", [4, 0])[:, 0].tolist()
        [4.0, 0.0]
        """
        pieces, order = self._take(name, "matrix", positions)
        shape = self.matrix_shape(name)
        if not pieces:
            return np.empty((0, *shape[1:]))
        dense = [piece.toarray() if hasattr(piece, "toarray") else piece for piece in pieces]
        rows = np.empty((sum(map(len, order)), *shape[1:]), dense[0].dtype)
        for piece, where in zip(dense, order, strict=True):
            rows[where] = piece
        return rows

    def matrix_rows(self, name: str, start: int, stop: int, mmap: bool = False) -> Any:
        """Rows ``start`` to ``stop`` of a matrix, reading only the chunks that hold them.

        Examples
        --------
        >>> store.open_run(run_id).matrix_rows("X", 1, 3)[:, 0].tolist()
        [1.0, 2.0]
        """
        rows = self._rows(name, "matrix", start, stop, mmap)
        return rows if mmap else _writable(rows)

    # -- whole-file artifacts -------------------------------------------------------------

    def json(self, name: str, shared: bool = False) -> Any:
        """A JSON document; with ``shared``, one parse per content that every caller shares
        (for lookups that read a document many times: the caller must not change it).

        Examples
        --------
        >>> run = store.open_run(run_id)
        >>> run.json("meta")
        {'seed': 42}
        >>> run.json("meta", shared=True) is run.json("meta", shared=True)
        True
        """
        entry = self.artifact(name, ("json",)).parts[0]
        if not shared:
            return codecs.decode_json(self._read(entry))
        if entry.sha256 not in self._documents:
            self._documents[entry.sha256] = codecs.decode_json(self._read(entry))
        return self._documents[entry.sha256]

    def bytes(self, name: str) -> bytes:
        """Raw bytes.

        Examples
        --------
        >>> store.open_run(run_id).bytes("pipeline.py")
        b'print(1)\\n'
        """
        return self._read(self.artifact(name, ("bytes",)).parts[0])

    def text(self, name: str) -> str:
        """Raw bytes decoded as UTF-8 (e.g. pipeline source code).

        Examples
        --------
        >>> store.open_run(run_id).text("pipeline.py")
        'print(1)\\n'
        """
        return self.bytes(name).decode()

    def sklearn(self, name: str) -> Any:
        """A scikit-learn object, loaded by skops trusting only sklearn/numpy/scipy/lester types.

        Examples
        --------
        >>> store.open_run(run_id).sklearn("scaler").mean_
        array([2.])
        """
        artifact = self.artifact(name, ("sklearn",))
        return codecs.decode_skops(
            self._read(artifact.parts[0]), artifact.attrs.get("trusted_types")
        )

    def torch(self, name: str) -> dict[str, Any]:
        """A torch state dict (tensors on the CPU).

        Examples
        --------
        >>> sorted(store.open_run(run_id).torch("model"))
        ['bias', 'weight']
        """
        return codecs.decode_safetensors(self._read(self.artifact(name, ("torch",)).parts[0]))

    def torch_spec(self, name: str) -> dict[str, Any]:
        """How to rebuild the module: ``{"module": ..., "tensors": {key: {dtype, shape}}}``.

        Examples
        --------
        >>> store.open_run(run_id).torch_spec("model")["module"]["class"]
        'torch.nn.Linear'
        """
        return codecs.decode_json(self._read(self.artifact(name, ("torch",)).parts[1]))

    def torch_module(self, name: str) -> Any:
        """Rebuild the module from ``{"class": ..., "kwargs": ...}`` and load its weights.

        Only classes from ``torch`` and ``lester`` are imported.

        Examples
        --------
        >>> store.open_run(run_id).torch_module("model").out_features
        1
        """
        module = self.torch_spec(name).get("module") or {}
        if "class" not in module:
            raise StoreError(f"torch artifact {name!r} has no module class to rebuild")
        instance = codecs.import_class(module["class"])(**module.get("kwargs", {}))
        instance.load_state_dict(self.torch(name))
        return instance


def _writable(data: Any) -> Any:
    """``data``, copied when it is a read-only (cached) array."""
    if isinstance(data, np.ndarray) and not data.flags.writeable:
        return data.copy()
    return data


def codec_of(artifact: Artifact) -> codecs.ChunkCodec:
    """The chunk codec of a table or matrix artifact.

    Examples
    --------
    >>> codec_of(Artifact("table", [])).ext
    'arrow'
    """
    return codecs.TABLE if artifact.kind == "table" else codecs.matrix_codec(artifact.attrs)


def locate(artifact: Artifact, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chunk index and in-chunk position of each (valid) row position.

    Examples
    --------
    >>> [a.tolist() for a in locate(Artifact("matrix", [], rows=[2, 3]), np.array([4, 1]))]
    [[1, 0], [2, 1]]
    """
    offsets = artifact.offsets()
    chunk = np.searchsorted(offsets, positions, side="right") - 1
    return chunk, positions - offsets[chunk]


def _pieces(artifact: Artifact, start: int, stop: int) -> list[tuple[int, int, int]]:
    """(chunk, first, end) row ranges inside the chunks that rows ``start:stop`` touch."""
    start, stop, _ = slice(start, stop).indices(artifact.n_rows())
    offsets = artifact.offsets()
    touched = np.flatnonzero((offsets[:-1] < stop) & (offsets[1:] > start)).tolist()
    return [
        (
            index,
            max(start - int(offsets[index]), 0),
            min(stop, int(offsets[index + 1])) - int(offsets[index]),
        )
        for index in touched
    ] or [(0, 0, 0)]


def check_positions(
    name: str, artifact: Artifact, positions: Sequence[int] | np.ndarray, unique: bool = True
) -> np.ndarray:
    """Row positions as an int64 array, checked to be in range (and unique if asked).

    Examples
    --------
    >>> check_positions("X", Artifact("matrix", [], rows=[2]), [2])
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: row positions [2] are out of range for 'X' with 2 rows
    """
    array = np.asarray(positions)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise StoreError(f"row positions of {name!r} must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64).reshape(-1)
    n_rows = artifact.n_rows()
    bad = array[(array < 0) | (array >= n_rows)]
    if bad.size:
        raise StoreError(
            f"row positions {describe_names(bad.tolist())} are out of range for {name!r} "
            f"with {n_rows} rows"
        )
    if unique and len(np.unique(array)) != len(array):
        raise StoreError(f"row positions of {name!r} repeat a position")
    return array


def check_chunk(name: str, artifact: Artifact, index: int) -> int:
    """Check a chunk index.

    Examples
    --------
    >>> check_chunk("X", Artifact("matrix", [FileEntry("objects/5e/5e.npy", "5e", 8)], [1]), 3)
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: 'X' has no chunk 3; it has 1 chunks
    """
    if not 0 <= index < len(artifact.parts):
        raise StoreError(f"{name!r} has no chunk {index}; it has {len(artifact.parts)} chunks")
    return index
