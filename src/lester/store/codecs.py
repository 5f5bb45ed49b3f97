"""How artifact contents become bytes and back.

Chunked kinds (dense matrices as ``.npy``, sparse matrices as ``.npz``, tables as Arrow IPC)
share one small interface, :class:`ChunkCodec`, so that splitting, row replacement, row
deletion and concatenation are written once in the writer. Whole-file kinds (JSON, raw
bytes, skops, safetensors) are plain encode/decode function pairs.

Examples
--------
>>> import numpy as np
>>> codec = DENSE
>>> chunks = list(codec.split(np.arange(5, dtype=np.float32), 2))
>>> [codec.n_rows(chunk) for chunk in chunks]
[2, 2, 1]
>>> codec.decode(codec.encode(chunks[0])).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import ast
import importlib
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sparse

from lester.errors import describe_names
from lester.store.errors import StoreError, UntrustedTypeError

TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "lester")
# Functions and classes of a run's own pipeline module (named after its code's sha256; the
# code is stored and hashed with the run) may appear in its encoders and models.
PIPELINE_MODULE_PREFIX = "lester_pipeline_"
PARQUET_MAGIC = b"PAR1"


class ChunkCodec:
    """Operations on the chunks of one chunked kind (subclasses fill them in).

    Examples
    --------
    >>> DENSE.ext, SPARSE.ext, TABLE.ext
    ('npy', 'npz', 'arrow')
    """

    ext = ""

    def prepare(self, data: Any) -> tuple[Any, dict[str, Any]]:
        """Normalise a whole artifact and describe it (attrs stored in the manifest)."""
        raise NotImplementedError

    def split(self, data: Any, chunk_rows: int) -> Iterator[Any]:
        """Cut prepared data into chunks of ``chunk_rows`` rows (at least one chunk)."""
        n_rows = self.n_rows(data)
        for start in range(0, n_rows, chunk_rows) if n_rows else [0]:
            yield self.slice(data, start, min(start + chunk_rows, n_rows))

    def slice(self, data: Any, start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop`` of ``data`` (a view where the type allows)."""
        return data[start:stop]

    def n_rows(self, chunk: Any) -> int:
        """Rows of a chunk."""
        return int(chunk.shape[0])

    def take(self, chunk: Any, rows: np.ndarray) -> Any:
        """The chunk's rows at ``rows`` (positions inside the chunk), in that order."""
        return chunk[rows]

    def concat(self, chunks: Sequence[Any], attrs: dict[str, Any]) -> Any:
        """One artifact from its chunks."""
        raise NotImplementedError

    def like(self, chunk: Any, values: Any) -> Any:
        """User-given rows converted to the type, dtype and width of ``chunk``."""
        raise NotImplementedError

    def replace(self, chunk: Any, rows: np.ndarray, values: Any) -> Any:
        """A copy of ``chunk`` whose rows at ``rows`` are the rows of ``values`` (converted
        by :meth:`like` already: a writer converts once for all the chunks it changes)."""
        order = np.arange(self.n_rows(chunk))
        order[rows] = self.n_rows(chunk) + np.arange(len(rows))
        return self.take(self.concat([chunk, values], {}), order)

    def encode(self, chunk: Any) -> bytes:
        """The bytes of one chunk file."""
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        """A chunk from the bytes of its file."""
        raise NotImplementedError

    def load(self, path: Path, mmap: bool) -> Any:
        """A chunk straight from its (already verified) file."""
        return self.decode(path.read_bytes())


class DenseCodec(ChunkCodec):
    """Dense numpy arrays, chunked along axis 0, one ``.npy`` per chunk (memory-mappable).

    Examples
    --------
    >>> data, attrs = DENSE.prepare(np.zeros((3, 2), dtype=np.float32))
    >>> attrs
    {'format': 'dense', 'dtype': '<f4', 'shape': [3, 2]}
    """

    ext = "npy"

    def prepare(self, data: Any) -> tuple[np.ndarray, dict[str, Any]]:
        array = np.asarray(data)
        if array.dtype.hasobject or array.ndim == 0:
            raise StoreError(
                f"cannot store an array of dtype {array.dtype} and shape {array.shape}: "
                "give a numeric (or fixed-width string) array with at least one dimension"
            )
        return array, {"format": "dense", "dtype": array.dtype.str, "shape": list(array.shape)}

    def concat(self, chunks: Sequence[np.ndarray], attrs: dict[str, Any]) -> np.ndarray:
        if not chunks:
            return np.empty([0, *attrs["shape"][1:]], dtype=np.dtype(attrs["dtype"]))
        return np.concatenate(chunks, axis=0)

    def replace(self, chunk: np.ndarray, rows: np.ndarray, values: Any) -> np.ndarray:
        result = np.array(chunk)
        result[rows] = values
        return result

    def like(self, chunk: np.ndarray, values: Any) -> np.ndarray:
        array = np.asarray(values)
        if array.shape[1:] != chunk.shape[1:]:
            raise StoreError(
                f"rows of shape {array.shape[1:]} do not fit a matrix with rows of shape "
                f"{chunk.shape[1:]}"
            )
        return array.astype(chunk.dtype, casting="same_kind", copy=False)

    def encode(self, chunk: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, chunk, allow_pickle=False)
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        """The array of a ``.npy`` file's bytes (read-only, sharing them).

        Examples
        --------
        >>> DENSE.decode(DENSE.encode(np.arange(6).reshape(3, 2)))[2].tolist()
        [4, 5]
        """
        header = _npy_header(data)
        if header is None:
            return np.load(io.BytesIO(data), allow_pickle=False)
        dtype, shape, offset = header
        return np.frombuffer(data, dtype, count=math.prod(shape), offset=offset).reshape(shape)

    def load(self, path: Path, mmap: bool) -> np.ndarray:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


_NPY_SHAPE = re.compile(r"'shape': \(([0-9, ]*)\)")
_npy_dtypes: dict[str, np.dtype] = {}


def _npy_header(data: bytes) -> tuple[np.dtype, tuple[int, ...], int] | None:
    """dtype, shape and data offset of a version 1.0 ``.npy`` file in C order; ``None`` for
    anything else. np.load parses every header with ``ast.literal_eval``; chunks of one
    matrix differ only in their shape, so the rest is parsed once per process."""
    if data[:8] != b"\x93NUMPY\x01\x00":
        return None
    length = int.from_bytes(data[8:10], "little")
    text = data[10 : 10 + length].decode("latin1")
    match = _NPY_SHAPE.search(text)
    if match is None or "'fortran_order': False" not in text:
        return None
    rest = text[: match.start()] + text[match.end() :]
    if rest not in _npy_dtypes:
        descr = ast.literal_eval(_NPY_SHAPE.sub("'shape': ()", text))["descr"]
        _npy_dtypes[rest] = np.lib.format.descr_to_dtype(descr)
    dtype = _npy_dtypes[rest]
    if dtype.hasobject:
        return None
    shape = tuple(int(size) for size in match.group(1).split(",") if size.strip())
    return dtype, shape, 10 + length


class SparseCodec(ChunkCodec):
    """scipy.sparse matrices as CSR chunks, one ``.npz`` (``save_npz``) per chunk.

    Examples
    --------
    >>> data, attrs = SPARSE.prepare(sparse.eye(3, format="coo"))
    >>> type(data).__name__, attrs["shape"]
    ('csr_matrix', [3, 3])
    """

    ext = "npz"

    def prepare(self, data: Any) -> tuple[Any, dict[str, Any]]:
        matrix = data.tocsr()
        attrs = {
            "format": "sparse",
            "dtype": matrix.dtype.str,
            "shape": list(matrix.shape),
            "array": isinstance(matrix, sparse.sparray),
        }
        return matrix, attrs

    def concat(self, chunks: Sequence[Any], attrs: dict[str, Any]) -> Any:
        if not chunks:
            empty = sparse.csr_array if attrs["array"] else sparse.csr_matrix
            return empty((0, attrs["shape"][1]), dtype=np.dtype(attrs["dtype"]))
        return sparse.vstack(chunks, format="csr")

    def encode(self, chunk: Any) -> bytes:
        buffer = io.BytesIO()
        sparse.save_npz(buffer, chunk, compressed=False)
        return buffer.getvalue()

    def decode(self, data: bytes) -> Any:
        return sparse.load_npz(io.BytesIO(data))

    def like(self, chunk: Any, values: Any) -> Any:
        matrix = values.tocsr() if sparse.issparse(values) else sparse.csr_matrix(values)
        if matrix.shape[1] != chunk.shape[1]:
            raise StoreError(
                f"rows of width {matrix.shape[1]} do not fit a matrix of width {chunk.shape[1]}"
            )
        return matrix.astype(chunk.dtype)


class TableCodec(ChunkCodec):
    """pandas DataFrames as Arrow tables, one uncompressed Arrow IPC file per chunk; the index
    is dropped.

    Arrow IPC rather than Parquet: a chunk is read without decoding (zero-copy) and written
    without encoding, which is most of what an update of a few rows costs, and its strings
    sit in the file as they are, so the store scan searches the raw bytes. Chunks written as
    Parquet (by earlier versions of the store) are still read.

    Examples
    --------
    >>> table, attrs = TABLE.prepare(pd.DataFrame({"a": [1, 2]}))
    >>> table.num_rows, attrs
    (2, {'columns': ['a']})
    """

    ext = "arrow"

    def prepare(self, data: pd.DataFrame) -> tuple[pa.Table, dict[str, Any]]:
        if not isinstance(data, pd.DataFrame):
            raise StoreError(f"put_table expects a pandas DataFrame, got {type(data).__name__}")
        columns = [str(column) for column in data.columns]
        if len(set(columns)) != len(columns) or columns != list(data.columns):
            raise StoreError(f"table columns must be unique strings, got {list(data.columns)}")
        return pa.Table.from_pandas(data, preserve_index=False), {"columns": columns}

    def n_rows(self, chunk: pa.Table) -> int:
        return chunk.num_rows

    def take(self, chunk: pa.Table, rows: np.ndarray) -> pa.Table:
        return chunk.take(pa.array(rows, type=pa.int64()))

    def slice(self, data: pa.Table, start: int, stop: int) -> pa.Table:
        return data.slice(start, stop - start)

    def concat(self, chunks: Sequence[pa.Table], attrs: dict[str, Any]) -> pa.Table:
        return pa.concat_tables(chunks)

    def encode(self, chunk: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, chunk.schema) as writer:
            writer.write_table(chunk)
        return sink.getvalue().to_pybytes()

    def decode(self, data: bytes, columns: Sequence[str] | None = None) -> pa.Table:
        if data[:4] == PARQUET_MAGIC:
            return pq.read_table(pa.BufferReader(data), columns=columns)
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        return table if columns is None else table.select(list(columns))

    def like(self, chunk: pa.Table, values: Any) -> pa.Table:
        if not isinstance(values, pd.DataFrame | pa.Table):
            raise StoreError(
                f"table rows must be a DataFrame or an Arrow table, got {type(values).__name__}"
            )
        names = chunk.schema.names
        given = values.column_names if isinstance(values, pa.Table) else values.columns
        missing = [name for name in names if name not in given]
        if missing:
            raise StoreError(f"table rows lack columns {describe_names(missing)}")
        if isinstance(values, pa.Table):
            return values.select(names).cast(chunk.schema)
        # Selecting columns costs pandas ~0.3 ms: skipped when they are already in order.
        columns = values if list(values.columns) == names else values[names]
        return pa.Table.from_pandas(columns, schema=chunk.schema, preserve_index=False)


DENSE = DenseCodec()
SPARSE = SparseCodec()
TABLE = TableCodec()


def matrix_codec(data_or_attrs: Any) -> ChunkCodec:
    """The codec for a matrix (given the data, or the attrs stored in the manifest).

    Examples
    --------
    >>> matrix_codec({"format": "sparse"}) is SPARSE, matrix_codec(np.ones(2)) is DENSE
    (True, True)
    """
    if isinstance(data_or_attrs, dict):
        return SPARSE if data_or_attrs.get("format") == "sparse" else DENSE
    return SPARSE if sparse.issparse(data_or_attrs) else DENSE


def encode_json(document: Any) -> bytes:
    """JSON bytes (keys sorted); numpy scalars and arrays become Python numbers and lists.

    Examples
    --------
    >>> encode_json({"n": np.int64(3), "v": np.arange(2)})
    b'{"n": 3, "v": [0, 1]}'
    """
    return json.dumps(document, sort_keys=True, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decode_json(data: bytes) -> Any:
    """Parse JSON bytes.

    Examples
    --------
    >>> decode_json(b'[1, 2]')
    [1, 2]
    """
    return json.loads(data)


def encode_skops(estimator: Any) -> tuple[bytes, list[str]]:
    """skops bytes of a fitted scikit-learn object and the types loading them will trust;
    refuses types outside the trusted packages.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> data, types = encode_skops(StandardScaler().fit([[1.0], [3.0]]))
    >>> decode_skops(data, types).mean_
    array([2.])
    """
    import skops.io

    data = skops.io.dumps(estimator)
    return data, trusted_types(data)


def decode_skops(data: bytes, types: list[str] | None = None) -> Any:
    """Load skops bytes, trusting only types from sklearn, numpy, scipy and lester (no pickle).

    ``types``: the type list :func:`encode_skops` returned, kept with the bytes; checked
    against the trusted packages again, and skops refuses any other type it meets while
    loading, so this only spares reading the file twice (an audit pass, then the load).

    Examples
    --------
    >>> decode_skops(encode_skops({"a": 1})[0])
    {'a': 1}
    """
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    trusted = trusted_types(data) if types is None else _checked_types(types)
    try:
        return skops.io.loads(data, trusted=trusted)
    except UntrustedTypesFoundException as error:
        raise UntrustedTypeError(
            f"skops data holds types it was not stored with: {error}"
        ) from None


def trusted_types(data: bytes) -> list[str]:
    """The types skops data holds that need trusting; refuses types outside the trusted
    packages.

    Examples
    --------
    >>> trusted_types(encode_skops({"a": 1})[0])
    []
    """
    import skops.io

    return _checked_types(skops.io.get_untrusted_types(data=data))


def _checked_types(types: list[str]) -> list[str]:
    untrusted = [
        name
        for name in types
        if name.split(".")[0] not in TRUSTED_PACKAGES
        and not name.startswith(PIPELINE_MODULE_PREFIX)
    ]
    if untrusted:
        raise UntrustedTypeError(
            f"skops data holds types outside {list(TRUSTED_PACKAGES)}: {describe_names(untrusted)}"
        )
    return list(types)


def encode_safetensors(state_dict: dict[str, Any]) -> bytes:
    """safetensors bytes of a torch state dict (tensors made contiguous and unshared).

    Examples
    --------
    >>> import torch
    >>> decode_safetensors(encode_safetensors({"w": torch.ones(2)}))["w"].tolist()
    [1.0, 1.0]
    """
    import safetensors.torch

    tensors = {key: tensor.detach().contiguous().clone() for key, tensor in state_dict.items()}
    return safetensors.torch.save(tensors)


def decode_safetensors(data: bytes) -> dict[str, Any]:
    """A torch state dict from safetensors bytes.

    Examples
    --------
    >>> import torch
    >>> list(decode_safetensors(encode_safetensors({"b": torch.zeros(1)})))
    ['b']
    """
    import safetensors.torch

    return safetensors.torch.load(data)


def import_class(qualified_name: str, allowed: Sequence[str] = ("torch", "lester")) -> type:
    """Import ``package.module.Class`` if its top-level package is in ``allowed``.

    Examples
    --------
    >>> import_class("torch.nn.Linear").__name__
    'Linear'
    >>> import_class("os.system")
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: refusing to import 'os.system': only classes from ...
    """
    module_name, _, class_name = qualified_name.rpartition(".")
    if qualified_name.split(".")[0] not in allowed or not module_name:
        raise StoreError(
            f"refusing to import {qualified_name!r}: only classes from {list(allowed)} are rebuilt"
        )
    return getattr(importlib.import_module(module_name), class_name)
