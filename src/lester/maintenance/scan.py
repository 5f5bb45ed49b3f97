"""Prove that deleted values are gone: scan every byte of the store for them.

Every file under the store root is read: run objects, manifests, the SQLite catalog and its
write-ahead log, locks, temporary files. Raw bytes are searched for each value's UTF-8
encoding; compressed containers are searched after decoding too (Parquet string columns,
the members of skops zip files), since compression would hide a value from a raw search.
Uncompressed Arrow IPC chunks (the store's tables) hold their strings as they are; a raw
hit there is confirmed cell by cell, since it may span two adjacent values.

Values shorter than ``MIN_LENGTH`` characters (e.g. a country code) also occur by chance
and in rows that were never forgotten; they are reported as not checkable, not as found.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> _ = (root / "a.json").write_text('{"subject": "card 4111 1111 1111 1111"}')
>>> scan_files(root, ["4111 1111 1111 1111"]).found
[('a.json', 0)]
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

MIN_LENGTH = 6
ARROW_MAGIC = b"ARROW1"


@dataclass
class ScanResult:
    """What a scan read and where (file, value index) it found a value."""

    files: int = 0
    bytes: int = 0
    checked: int = 0
    too_short: int = 0
    found: list[tuple[str, int]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No checked value occurs anywhere."""
        return not self.found

    def to_dict(self) -> dict:
        """JSON-ready form (file names and value indices, never the values)."""
        return {
            "files": self.files,
            "bytes": self.bytes,
            "values_checked": self.checked,
            "values_too_short_to_check": self.too_short,
            "found": [{"file": name, "value": index} for name, index in self.found],
            "clean": self.clean,
        }


def scan_files(root: str | Path, values: list[str]) -> ScanResult:
    """Search every file under ``root`` for the given string values."""
    root = Path(root)
    needles = [(i, v.encode("utf-8")) for i, v in enumerate(values) if len(v) >= MIN_LENGTH]
    result = ScanResult(checked=len(needles), too_short=len(values) - len(needles))
    if not needles:
        return result
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            content = path.read_bytes()
        except OSError:
            continue  # a file removed while scanning (a temporary file) holds nothing any more
        result.files += 1
        result.bytes += len(content)
        name = str(path.relative_to(root))
        result.found += [(name, index) for index in _found_in(path, content, needles)]
    return result


def _found_in(path: Path, content: bytes, needles: list[tuple[int, bytes]]) -> list[int]:
    """The indices of the needles that ``content`` holds."""
    if content[:6] == ARROW_MAGIC:  # decoded only when a raw search hits
        raw = [(index, needle) for index, needle in needles if needle in content]
        texts = (_arrow_texts(content) or [(content, None)]) if raw else []
    else:
        raw, texts = needles, [(content, None), *_decoded(path, content)]
    return [i for i, needle in raw if any(_holds(text, cells, needle) for text, cells in texts)]


def _holds(text: bytes, cells: pa.Array | None, needle: bytes) -> bool:
    """Whether ``needle`` is in ``text``; for the concatenated values of string ``cells``,
    confirmed cell by cell (a hit across two adjacent values is no hit)."""
    if needle not in text:
        return False
    if cells is None:
        return True
    pattern = needle.decode("utf-8")
    return bool(pc.any(pc.match_substring(cells, pattern)).as_py())


def _arrow_texts(content: bytes) -> list[tuple[bytes, pa.Array | None]]:
    """For an Arrow IPC file: its bytes without the string data buffers (searched raw), and
    each string column's data buffer with its cells (searched cell by cell); ``[]`` when it
    does not read as one."""
    buffer = pa.py_buffer(content)
    try:
        table = pa.ipc.open_file(buffer).read_all()  # zero-copy: buffers point into content
    except (pa.ArrowInvalid, OSError):
        return []
    rest, texts = bytearray(content), []
    for column in table.columns:
        for cells in column.chunks:
            if pa.types.is_dictionary(cells.type):
                cells = cells.dictionary
            data = cells.buffers()[2] if _is_string(cells.type) else None
            if data is None or not data.size:
                continue
            start = data.address - buffer.address
            if not 0 <= start <= len(content) - data.size:
                return []  # not zero-copy (a compressed file): search it whole
            rest[start : start + data.size] = bytes(data.size)
            texts.append((data.to_pybytes(), cells))
    return [(bytes(rest), None), *texts]


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _decoded(path: Path, content: bytes) -> list[tuple[bytes, pa.Array | None]]:
    """Decompressed views of a container file (none for other files), each with the string
    cells it concatenates (``None`` for a member of a zip file)."""
    if content[:4] == b"PAR1":
        return _parquet_strings(content)
    if content[:2] == b"PK":
        return [(member, None) for member in _zip_members(content)]
    return []


def _parquet_strings(content: bytes) -> list[tuple[bytes, pa.Array]]:
    """The values of every string column, concatenated (Arrow's data buffers hold them back
    to back), with the cells themselves."""
    try:
        table = pq.read_table(pa.BufferReader(content))
    except (pa.ArrowInvalid, OSError):
        return []
    texts = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            texts += [(c.buffers()[2].to_pybytes(), c) for c in column.chunks if c.buffers()[2]]
    return texts


def _zip_members(content: bytes) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return [archive.read(member) for member in archive.namelist()]
    except zipfile.BadZipFile:
        return []


def memorised_values(estimator: object, values: list[str], path: str = "encoders") -> list[str]:
    """Where a fitted estimator memorised any of the values (vocabularies, category lists,
    any string attribute), as attribute paths.

    Examples
    --------
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> import numpy as np
    >>> encoder = OneHotEncoder().fit(np.array([["leak-1234"], ["ok"]]))
    >>> memorised_values(encoder, ["leak-1234"])
    ['encoders.categories_[0]']
    """
    wanted = {value for value in values if value}
    found: list[str] = []
    _walk(estimator, wanted, path, found, set())
    return found


def _walk(value: object, wanted: set[str], path: str, found: list[str], seen: set[int]) -> None:
    import numpy as np

    if isinstance(value, str):
        if value in wanted or any(w in value for w in wanted if len(w) >= MIN_LENGTH):
            found.append(path)
        return
    if id(value) in seen or isinstance(value, int | float | bool | bytes | type(None)):
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        strings = value.dtype.kind in "OUS"
        if strings and any(isinstance(v, str) and v in wanted for v in value.ravel().tolist()):
            found.append(path)
        return
    if isinstance(value, dict):
        # Paths name entries by position, never by key: a key may be a value to forget.
        for position, (key, item) in enumerate(value.items()):
            if isinstance(key, str) and key in wanted:
                found.append(f"{path}[entry {position}]")
            _walk(item, wanted, f"{path}[entry {position}]", found, seen)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _walk(item, wanted, f"{path}[{i}]", found, seen)
        return
    for name, item in getattr(value, "__dict__", {}).items():
        _walk(item, wanted, f"{path}.{name}", found, seen)
