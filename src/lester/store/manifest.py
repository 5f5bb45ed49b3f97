"""Version manifests: which immutable files make up each artifact of one run version.

A manifest is a JSON document::

    {"format": 2, "run_id": ..., "version": 2, "parent_version": 1, "created": ..., "note": ...,
     "artifacts": {"train/X": {"kind": "matrix", "sha256": ["3f...", ...], "size": [...],
                               "ext": "npy", "rows": [8192, 8187, ...],
                               "attrs": {"dtype": "float32", ...}}}}

Each artifact lists its content-addressed objects in order, as parallel arrays (a run has
thousands of chunks: arrays of strings and numbers are what ``json`` reads and writes
fastest); an object's path relative to the run folder is ``objects/<sha[:2]>/<sha>.<ext>``
(``ext`` is one string, or one per object). Chunked artifacts (tables, matrices) list rows
per chunk, which is the chunk table: chunk ``i`` holds rows ``sum(rows[:i])`` to
``sum(rows[:i+1])``. Manifests of format 1 (a ``files`` map of entries) are still read.

Examples
--------
>>> part = FileEntry("objects/ab/ab.json", "ab", 2)
>>> manifest = Manifest("r", 1, None, "2026-01-01T00:00:00+00:00", "", {})
>>> manifest.artifacts["doc"] = Artifact("json", [part])
>>> Manifest.from_bytes(manifest.to_bytes()).artifacts["doc"].parts[0].path
'objects/ab/ab.json'
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, MutableSequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

import numpy as np
import orjson

from lester.store.errors import StoreError

FORMAT = 2
READABLE_FORMATS = (1, 2)
CHUNKED_KINDS = ("table", "matrix")
TORCH_PARTS = ("weights", "spec")
_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


class FileEntry(NamedTuple):
    """One immutable stored file: path relative to the run folder, sha256 and size in bytes.

    Examples
    --------
    >>> FileEntry("objects/00/00.npy", "00", 128).size
    128
    """

    path: str
    sha256: str
    size: int


class Parts(MutableSequence[FileEntry]):
    """The files of an artifact in order, kept as parallel lists of sha256, size and
    extension (a path is ``object_path(sha256, ext)``): copying, reading and writing a run
    of thousands of chunks costs list operations, not one object per chunk.

    Examples
    --------
    >>> parts = Parts([FileEntry("objects/ab/ab.npy", "ab", 3)])
    >>> parts.append(FileEntry("objects/cd/cd.npy", "cd", 4)); parts[1], len(parts)
    (FileEntry(path='objects/cd/cd.npy', sha256='cd', size=4), 2)
    >>> parts.sha256, parts.size
    (['ab', 'cd'], [3, 4])
    """

    __slots__ = ("ext", "sha256", "size")

    def __init__(self, entries: Iterable[FileEntry] = ()) -> None:
        self.sha256: list[str] = []
        self.size: list[int] = []
        self.ext: list[str] = []
        for entry in entries:
            self.append(entry)

    @classmethod
    def of(cls, sha256: list[str], size: list[int], ext: list[str]) -> Parts:
        """Parts from the parallel lists themselves (not copied)."""
        parts = cls()
        parts.sha256, parts.size, parts.ext = sha256, size, ext
        return parts

    def copy(self) -> Parts:
        """A copy (of the lists: entries are immutable)."""
        return Parts.of(list(self.sha256), list(self.size), list(self.ext))

    def _entry(self, index: int) -> FileEntry:
        digest = self.sha256[index]
        return FileEntry(object_path(digest, self.ext[index]), digest, self.size[index])

    @overload
    def __getitem__(self, index: int) -> FileEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Parts: ...
    def __getitem__(self, index: int | slice) -> FileEntry | Parts:
        if isinstance(index, slice):
            return Parts.of(self.sha256[index], self.size[index], self.ext[index])
        return self._entry(index)

    def __setitem__(self, index: Any, entry: Any) -> None:
        if isinstance(index, slice):
            raise TypeError("assign parts one by one")
        self.sha256[index], self.size[index], self.ext[index] = _split(entry)

    def __delitem__(self, index: Any) -> None:
        del self.sha256[index], self.size[index], self.ext[index]

    def __len__(self) -> int:
        return len(self.sha256)

    def __iter__(self) -> Iterator[FileEntry]:
        return (self._entry(index) for index in range(len(self.sha256)))

    def insert(self, index: int, entry: FileEntry) -> None:
        digest, size, ext = _split(entry)
        self.sha256.insert(index, digest)
        self.size.insert(index, size)
        self.ext.insert(index, ext)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Parts):
            return (self.sha256, self.size, self.ext) == (other.sha256, other.size, other.ext)
        return isinstance(other, list) and list(self) == other

    def __repr__(self) -> str:
        return f"Parts({list(self)!r})"


def _split(entry: FileEntry) -> tuple[str, int, str]:
    ext = entry.path.rsplit(".", 1)[-1]
    if entry.path != object_path(entry.sha256, ext):
        raise StoreError(f"file {entry.path!r} is not a content-addressed object")
    return entry.sha256, int(entry.size), ext


@dataclass
class Artifact:
    """One logical artifact: its kind, its files in order and, if chunked, rows per chunk.

    Examples
    --------
    >>> Artifact("matrix", [], rows=[3, 2]).offsets().tolist()
    [0, 3, 5]
    """

    kind: str
    parts: Parts
    rows: list[int] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "parts" and not isinstance(value, Parts):
            value = Parts(value)
        object.__setattr__(self, name, value)

    def offsets(self) -> np.ndarray:
        """Row offset of every chunk plus the total row count (the row -> chunk index).

        Examples
        --------
        >>> Artifact("table", [], rows=[2]).offsets().tolist()
        [0, 2]
        """
        return np.concatenate([[0], np.cumsum(self.rows or [], dtype=np.int64)]).astype(np.int64)

    def n_rows(self) -> int:
        """Total rows of a chunked artifact.

        Examples
        --------
        >>> Artifact("table", [], rows=[2, 5]).n_rows()
        7
        """
        return int(sum(self.rows or []))

    def file_names(self, name: str) -> list[str]:
        """Logical file names of the parts, as listed in the manifest's ``files``.

        Examples
        --------
        >>> part = FileEntry("objects/5e/5e.npy", "5e", 1)
        >>> Artifact("matrix", [part, part], rows=[1, 1]).file_names("X")
        ['X#00000', 'X#00001']
        """
        if self.kind == "torch":
            return [f"{name}#{part}" for part in TORCH_PARTS]
        if self.kind in CHUNKED_KINDS:
            return [f"{name}#{index:05d}" for index in range(len(self.parts))]
        return [name]


@dataclass
class Manifest:
    """The snapshot of one run version.

    Examples
    --------
    >>> Manifest("r", 3, 2, "t", "note", {}).file_name()
    'manifest.v000003.json'
    """

    run_id: str
    version: int
    parent_version: int | None
    created: str
    note: str
    artifacts: dict[str, Artifact]

    def file_name(self) -> str:
        """Name of this version's manifest file inside the run folder.

        Examples
        --------
        >>> Manifest("r", 1, None, "t", "", {}).file_name()
        'manifest.v000001.json'
        """
        return manifest_file_name(self.version)

    def files(self) -> dict[str, FileEntry]:
        """Every file of this version by logical file name.

        Examples
        --------
        >>> artifacts = {"a": Artifact("json", [FileEntry("objects/5e/5e.json", "5e", 1)])}
        >>> manifest = Manifest("r", 1, None, "t", "", artifacts)
        >>> manifest.files()
        {'a': FileEntry(path='objects/5e/5e.json', sha256='5e', size=1)}
        """
        return {
            key: part
            for name, artifact in self.artifacts.items()
            for key, part in zip(artifact.file_names(name), artifact.parts, strict=True)
        }

    def paths(self) -> set[str]:
        """Paths (relative to the run folder) that this version needs, manifest included.

        Examples
        --------
        >>> sorted(Manifest("r", 1, None, "t", "", {}).paths())
        ['manifest.v000001.json']
        """
        return {part.path for part in self.parts()} | {self.file_name()}

    def digests(self) -> set[str]:
        """The sha256 of every file of this version (set operations on lists: fast).

        Examples
        --------
        >>> artifacts = {"a": Artifact("json", [FileEntry("objects/5e/5e.json", "5e", 1)])}
        >>> Manifest("r", 1, None, "t", "", artifacts).digests()
        {'5e'}
        """
        return set().union(*(artifact.parts.sha256 for artifact in self.artifacts.values()))

    def totals(self) -> tuple[int, int]:
        """How many files this version has, and their bytes (the manifest not included).

        Examples
        --------
        >>> artifacts = {"a": Artifact("json", [FileEntry("objects/5e/5e.json", "5e", 1)])}
        >>> Manifest("r", 1, None, "t", "", artifacts).totals()
        (1, 1)
        """
        parts = [artifact.parts for artifact in self.artifacts.values()]
        return sum(len(p) for p in parts), sum(sum(p.size) for p in parts)

    def parts(self) -> list[FileEntry]:
        """Every file of this version, artifact by artifact.

        Examples
        --------
        >>> artifacts = {"a": Artifact("json", [FileEntry("objects/5e/5e.json", "5e", 1)])}
        >>> Manifest("r", 1, None, "t", "", artifacts).parts()
        [FileEntry(path='objects/5e/5e.json', sha256='5e', size=1)]
        """
        return [part for artifact in self.artifacts.values() for part in artifact.parts]

    def successor(self, created: str, note: str) -> Manifest:
        """A deep copy to be edited into version ``version + 1``.

        Examples
        --------
        >>> Manifest("r", 1, None, "t", "", {}).successor("u", "fix").parent_version
        1
        """
        # File entries are immutable: copying the lists is enough (a deep copy of a run with
        # thousands of chunks would cost more than the update itself).
        artifacts = {
            name: Artifact(
                artifact.kind,
                artifact.parts.copy(),
                None if artifact.rows is None else list(artifact.rows),
                copy.deepcopy(artifact.attrs),
            )
            for name, artifact in self.artifacts.items()
        }
        return Manifest(self.run_id, self.version + 1, self.version, created, note, artifacts)

    def to_bytes(self) -> bytes:
        """The manifest as JSON (UTF-8, keys sorted).

        Examples
        --------
        >>> b'"version":2' in Manifest("r", 2, 1, "t", "", {}).to_bytes()
        True
        """
        # orjson: a run of a million rows lists about 10,000 chunks, which the standard
        # library's encoder takes about 8 ms to write (orjson: 0.2 ms), at every update.
        return orjson.dumps(self._to_json(), option=_JSON_OPTIONS)

    def _to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "run_id": self.run_id,
            "version": self.version,
            "parent_version": self.parent_version,
            "created": self.created,
            "note": self.note,
            "artifacts": {name: _artifact_json(a) for name, a in self.artifacts.items()},
        }

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse a manifest written by :meth:`to_bytes`.

        Examples
        --------
        >>> Manifest.from_bytes(Manifest("r", 2, 1, "t", "", {}).to_bytes()).version
        2
        """
        document = orjson.loads(data)
        if document.get("format") not in READABLE_FORMATS:
            raise StoreError(f"unsupported manifest format {document.get('format')!r}")
        read = _read_artifact if document["format"] == 2 else _artifact_reader_v1(document)
        return cls(
            document["run_id"],
            document["version"],
            document["parent_version"],
            document["created"],
            document["note"],
            {name: read(entry) for name, entry in document["artifacts"].items()},
        )


def _artifact_json(artifact: Artifact) -> dict[str, Any]:
    parts = artifact.parts
    uniform = len(set(parts.ext)) == 1
    return {
        "kind": artifact.kind,
        "sha256": parts.sha256,
        "size": parts.size,
        "ext": parts.ext[0] if uniform else parts.ext,
        "rows": artifact.rows,
        "attrs": artifact.attrs,
    }


def _read_artifact(entry: dict[str, Any]) -> Artifact:
    digests, ext = entry["sha256"], entry["ext"]
    exts = [ext] * len(digests) if isinstance(ext, str) else ext
    if not len(digests) == len(entry["size"]) == len(exts):
        raise StoreError("manifest artifact lists of different lengths")
    return Artifact(
        entry["kind"], Parts.of(digests, entry["size"], exts), entry["rows"], entry["attrs"]
    )


def _artifact_reader_v1(document: dict[str, Any]) -> Any:
    files = {key: FileEntry(**entry) for key, entry in document["files"].items()}
    return lambda entry: Artifact(
        entry["kind"], [files[key] for key in entry["files"]], entry["rows"], entry["attrs"]
    )


def object_path(sha256: str, ext: str) -> str:
    """The path of a content-addressed object, relative to the run folder.

    Examples
    --------
    >>> object_path("3fa1", "npy")
    'objects/3f/3fa1.npy'
    """
    return f"objects/{sha256[:2]}/{sha256}.{ext}"


def manifest_file_name(version: int) -> str:
    """File name of the manifest of ``version``.

    Examples
    --------
    >>> manifest_file_name(12)
    'manifest.v000012.json'
    """
    return f"manifest.v{version:06d}.json"
