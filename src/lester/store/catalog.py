"""The SQLite catalog over all pipelines, runs, versions, sources and column dependencies.

The catalog lives in ``<root>/catalog.sqlite`` (WAL mode, ``busy_timeout``, ``secure_delete``)
and is the single authority on which version of a run is current: a version switch is one
transaction that updates the ``runs`` row and adds a ``versions`` row. Queries across runs
("which runs read column C of source S?") use indexes and never touch run folders.

Source paths are stored and queried as absolute paths (``os.path.abspath``), so a relative
path means the same file as long as the working directory is the same.

Examples
--------
>>> import tempfile, pathlib
>>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "catalog.sqlite")
>>> run = RunRecord("p-1", "p", "t", "t", 1, "m", {}, {}, None)
>>> source = SourceRecord("customers", "/data/customers.csv", "ab12")
>>> catalog.add_runs([CatalogEntry(run, VersionRecord("p-1", 1, None, "t", "", "m", 1, 10),
...                   [source], [Dependency("customers", "email", "train/X")])])
>>> [hit.run_id for hit in catalog.depending_on(source_path="/data/customers.csv", column="email")]
['p-1']
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lester.store._fs import sha256_file
from lester.store.errors import StoreError, UnknownRunError

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, version INTEGER NOT NULL, manifest_sha256 TEXT NOT NULL,
    meta TEXT NOT NULL, metrics TEXT NOT NULL, pipeline_code_hash TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, created);
CREATE TABLE IF NOT EXISTS versions (
    run_id TEXT NOT NULL, version INTEGER NOT NULL, parent_version INTEGER,
    created TEXT NOT NULL, note TEXT NOT NULL, manifest_sha256 TEXT NOT NULL,
    files INTEGER NOT NULL, bytes INTEGER NOT NULL,
    PRIMARY KEY (run_id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
    run_id TEXT NOT NULL, name TEXT NOT NULL, path TEXT, sha256 TEXT,
    size INTEGER, rows INTEGER, primary_key TEXT, schema TEXT,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sources_by_path ON sources (path);
CREATE INDEX IF NOT EXISTS sources_by_sha256 ON sources (sha256);
CREATE INDEX IF NOT EXISTS sources_by_name ON sources (name);
CREATE TABLE IF NOT EXISTS dependencies (
    run_id TEXT NOT NULL, source TEXT NOT NULL, column_name TEXT NOT NULL,
    artifact TEXT NOT NULL, detail TEXT NOT NULL,
    PRIMARY KEY (run_id, source, column_name, artifact, detail)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dependencies_by_column ON dependencies (column_name, source);
"""


@dataclass(frozen=True)
class SourceRecord:
    """One input source of a run: name, file path, content sha256 and optional facts.

    ``path`` and ``sha256`` are ``None`` for a source that was not read from a file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(suffix=".csv") as f:
    ...     SourceRecord.of_file("s", f.name, rows=0).size
    0
    """

    name: str
    path: str | None
    sha256: str | None
    size: int | None = None
    rows: int | None = None
    primary_key: str | None = None
    schema: dict[str, str] | None = None

    @classmethod
    def of_file(
        cls,
        name: str,
        path: str | os.PathLike[str],
        *,
        rows: int | None = None,
        primary_key: str | None = None,
        schema: dict[str, str] | None = None,
    ) -> SourceRecord:
        """Describe the file at ``path``, hashing its content.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     SourceRecord.of_file("s", f.name).sha256[:8]
        'e3b0c442'
        """
        size = os.path.getsize(path)
        return cls(name, normalize_path(path), sha256_file(path), size, rows, primary_key, schema)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict.

        Examples
        --------
        >>> SourceRecord("s", None, None).to_dict()["path"] is None
        True
        """
        return asdict(self)


@dataclass(frozen=True, order=True)
class Dependency:
    """Artifact ``artifact`` of a run depends on column ``column`` of source ``source``.

    ``detail`` says where inside the artifact, e.g. a column name or matrix column range.

    Examples
    --------
    >>> Dependency("customers", "email", "train/X", "3:7").column
    'email'
    """

    source: str
    column: str
    artifact: str
    detail: str = ""


@dataclass(frozen=True)
class RunRecord:
    """A run's catalog row; ``version`` is the current version.

    Examples
    --------
    >>> RunRecord("p-1", "p", "t0", "t1", 2, "sha", {}, {"auc": 0.9}, None).metrics["auc"]
    0.9
    """

    run_id: str
    pipeline: str
    created: str
    updated: str
    version: int
    manifest_sha256: str
    meta: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    pipeline_code_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict.

        Examples
        --------
        >>> RunRecord("p-1", "p", "t0", "t1", 2, "sha").to_dict()["version"]
        2
        """
        return asdict(self)


@dataclass(frozen=True)
class VersionRecord:
    """Metadata of one version of a run (kept after its files are gone).

    Examples
    --------
    >>> VersionRecord("p-1", 2, 1, "t", "forget 3 rows", "sha", 10, 2048).parent_version
    1
    """

    run_id: str
    version: int
    parent_version: int | None
    created: str
    note: str
    manifest_sha256: str
    files: int
    bytes: int


@dataclass(frozen=True)
class DependentRun:
    """Answer row of :meth:`Catalog.depending_on`: which artifacts of a run read a column.

    Examples
    --------
    >>> DependentRun("p-1", "p", 1, "s", "/s.csv", "ab", "email", ("train/X",)).artifacts
    ('train/X',)
    """

    run_id: str
    pipeline: str
    version: int
    source: str
    source_path: str | None
    source_sha256: str | None
    column: str
    artifacts: tuple[str, ...]


@dataclass(frozen=True)
class CatalogEntry:
    """Everything the catalog holds about one new run.

    Examples
    --------
    >>> run = RunRecord("p-1", "p", "t", "t", 1, "m")
    >>> CatalogEntry(run, VersionRecord("p-1", 1, None, "t", "", "m", 0, 0)).sources
    ()
    """

    run: RunRecord
    version: VersionRecord
    sources: Sequence[SourceRecord] = ()
    dependencies: Sequence[Dependency] = ()


def normalize_path(path: str | os.PathLike[str]) -> str:
    """The form in which source paths are stored and looked up (absolute, normalised).

    Examples
    --------
    >>> normalize_path("/data/../data/x.csv")
    '/data/x.csv'
    """
    return os.path.abspath(os.fspath(path))


class Catalog:
    """SQLite catalog at ``path`` (created with its schema if missing).

    Every call opens its own short-lived connection, so one :class:`Catalog` may be used
    from several threads, and many processes may use the same file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").runs()
    []
    """

    def __init__(self, path: Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        with closing(self._open()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            found = connection.execute("PRAGMA user_version").fetchone()[0]
            if found not in (0, SCHEMA_VERSION):
                raise StoreError(
                    f"catalog {self.path} has schema version {found}, this Lester reads "
                    f"version {SCHEMA_VERSION}; use a new store root"
                )
            if found == 0:
                self._create_schema(connection)

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        connection.execute("COMMIT")

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        # FULL makes a committed version switch survive power loss, not only kill -9;
        # secure_delete overwrites deleted rows so forgotten metadata leaves no trace.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA secure_delete=ON")
        return connection

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (an update asks the catalog a dozen
        questions; opening a connection for each cost more than the questions)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a forked child opens its own
            local.connection, local.pid = self._open(), os.getpid()
        return local.connection

    def close(self) -> None:
        """Close this thread's connection (the next use opens a new one).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite"); catalog.close()
        """
        connection = getattr(self._local, "connection", None)
        if connection is not None and getattr(self._local, "pid", None) == os.getpid():
            connection.close()
        self._local.pid = None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (autocommit): this thread's, kept open.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").connect() as c:
        ...     c.execute("SELECT count(*) FROM runs").fetchone()
        (0,)
        """
        yield self._connection()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on exit, rolled back on error.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> with Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").transaction() as c:
        ...     c.execute("DELETE FROM runs").rowcount
        0
        """
        with self.connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def add_runs(self, entries: Iterable[CatalogEntry]) -> None:
        """Insert complete runs in one transaction (also how tests build large catalogs).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> run = RunRecord("p-1", "p", "t", "t", 1, "m")
        >>> catalog.add_runs([CatalogEntry(run, VersionRecord("p-1", 1, None, "t", "", "m", 0, 0))])
        >>> catalog.pipelines()
        ['p']
        """
        with self.transaction() as connection:
            for entry in entries:
                self.insert(connection, entry)
        with self.connect() as connection:
            connection.execute("PRAGMA optimize")  # refresh planner statistics when useful

    def insert(self, connection: sqlite3.Connection, entry: CatalogEntry) -> None:
        """Insert one run inside the caller's transaction (see :meth:`add_runs`).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> run = RunRecord("p-1", "p", "t", "t", 1, "m")
        >>> version = VersionRecord("p-1", 1, None, "t", "", "m", 0, 0)
        >>> with catalog.transaction() as connection:
        ...     catalog.insert(connection, CatalogEntry(run, version))
        >>> catalog.run("p-1").version
        1
        """
        run = entry.run
        connection.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.pipeline,
                run.created,
                run.updated,
                run.version,
                run.manifest_sha256,
                json.dumps(run.meta, sort_keys=True),
                json.dumps(run.metrics, sort_keys=True),
                run.pipeline_code_hash,
            ),
        )
        self._insert_version(connection, entry.version)
        self._replace_lineage(connection, run.run_id, entry.sources, entry.dependencies)

    def switch_version(
        self,
        connection: sqlite3.Connection,
        version: VersionRecord,
        *,
        sources: Sequence[SourceRecord] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        metrics: dict[str, Any] | None = None,
        pipeline_code_hash: str | None = None,
    ) -> None:
        """Make ``version`` current inside the caller's transaction.

        It must succeed ``version.parent_version``, the current version; sources,
        dependencies, metrics and the pipeline code hash are replaced when given.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> run = RunRecord("p-1", "p", "t", "t", 1, "m")
        >>> catalog.add_runs([CatalogEntry(run, VersionRecord("p-1", 1, None, "t", "", "m", 0, 0))])
        >>> with catalog.transaction() as c:
        ...     catalog.switch_version(c, VersionRecord("p-1", 2, 1, "u", "fix", "m2", 0, 0))
        >>> [v.version for v in catalog.versions("p-1")], catalog.run("p-1").updated
        ([1, 2], 'u')
        """
        updated = connection.execute(
            "UPDATE runs SET version = ?, manifest_sha256 = ?, updated = ?,"
            " metrics = coalesce(?, metrics), pipeline_code_hash = coalesce(?, pipeline_code_hash)"
            " WHERE run_id = ? AND version = ?",
            (
                version.version,
                version.manifest_sha256,
                version.created,
                None if metrics is None else json.dumps(metrics, sort_keys=True),
                pipeline_code_hash,
                version.run_id,
                version.parent_version,
            ),
        )
        if updated.rowcount != 1:
            raise StoreError(
                f"run {version.run_id!r} is not at version {version.parent_version}; "
                "was it changed without its lock?"
            )
        self._insert_version(connection, version)
        if sources is not None or dependencies is not None:
            old_sources, old_dependencies = self._lineage(connection, version.run_id)
            self._replace_lineage(
                connection,
                version.run_id,
                old_sources if sources is None else sources,
                old_dependencies if dependencies is None else dependencies,
            )

    def _insert_version(self, connection: sqlite3.Connection, version: VersionRecord) -> None:
        connection.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version.run_id,
                version.version,
                version.parent_version,
                version.created,
                version.note,
                version.manifest_sha256,
                version.files,
                version.bytes,
            ),
        )

    def _replace_lineage(
        self,
        connection: sqlite3.Connection,
        run_id: str,
        sources: Sequence[SourceRecord],
        dependencies: Sequence[Dependency],
    ) -> None:
        check_lineage(run_id, sources, dependencies)
        connection.execute("DELETE FROM sources WHERE run_id = ?", (run_id,))
        connection.execute("DELETE FROM dependencies WHERE run_id = ?", (run_id,))
        connection.executemany(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run_id,
                    source.name,
                    None if source.path is None else normalize_path(source.path),
                    source.sha256,
                    source.size,
                    source.rows,
                    source.primary_key,
                    None if source.schema is None else json.dumps(source.schema),
                )
                for source in sources
            ],
        )
        connection.executemany(
            "INSERT OR IGNORE INTO dependencies VALUES (?, ?, ?, ?, ?)",
            [(run_id, dep.source, dep.column, dep.artifact, dep.detail) for dep in dependencies],
        )

    def _lineage(
        self, connection: sqlite3.Connection, run_id: str
    ) -> tuple[list[SourceRecord], list[Dependency]]:
        sources = [
            _source(row)
            for row in connection.execute(
                "SELECT name, path, sha256, size, rows, primary_key, schema FROM sources"
                " WHERE run_id = ? ORDER BY name",
                (run_id,),
            )
        ]
        dependencies = [
            Dependency(*row)
            for row in connection.execute(
                "SELECT source, column_name, artifact, detail FROM dependencies WHERE run_id = ?"
                " ORDER BY source, column_name, artifact, detail",
                (run_id,),
            )
        ]
        return sources, dependencies

    def find_run(self, run_id: str) -> RunRecord | None:
        """The run's row, or ``None`` if the catalog does not know it.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").find_run("nope") is None
        True
        """
        with self.connect() as connection:
            row = connection.execute(f"{_RUN_QUERY} WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def run(self, run_id: str) -> RunRecord:
        """The run's row; :class:`UnknownRunError` if there is none.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").run("nope")
        Traceback (most recent call last):
        ...
        lester.store.errors.UnknownRunError: unknown run 'nope'; the store has 0 runs
        """
        record = self.find_run(run_id)
        if record is None:
            with self.connect() as connection:
                count = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
            raise UnknownRunError(f"unknown run {run_id!r}; the store has {count} runs")
        return record

    def runs(self, pipeline: str | None = None) -> list[RunRecord]:
        """All runs (of one pipeline if given), oldest first.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").runs("creditcard")
        []
        """
        query, parameters = f"{_RUN_QUERY}", ()
        if pipeline is not None:
            query, parameters = f"{_RUN_QUERY} WHERE pipeline = ?", (pipeline,)
        with self.connect() as connection:
            rows = connection.execute(f"{query} ORDER BY created, run_id", parameters).fetchall()
        return [_run(row) for row in rows]

    def run_ids(self) -> set[str]:
        """Ids of all runs.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").run_ids()
        set()
        """
        with self.connect() as connection:
            return {row[0] for row in connection.execute("SELECT run_id FROM runs")}

    def pipelines(self) -> list[str]:
        """Names of all pipelines with at least one run, sorted.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").pipelines()
        []
        """
        with self.connect() as connection:
            rows = connection.execute("SELECT DISTINCT pipeline FROM runs ORDER BY 1").fetchall()
        return [row[0] for row in rows]

    def versions(self, run_id: str) -> list[VersionRecord]:
        """Metadata of every version the run ever had, oldest first.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").versions("nope")
        []
        """
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT * FROM versions WHERE run_id = ? ORDER BY version", (run_id,)
            ).fetchall()
        return [VersionRecord(*row) for row in rows]

    def sources(self, run_id: str) -> list[SourceRecord]:
        """The run's sources, by name.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").sources("nope")
        []
        """
        with self.connect() as connection:
            return self._lineage(connection, run_id)[0]

    def dependencies(self, run_id: str) -> list[Dependency]:
        """The run's (source, column, artifact) dependencies.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").dependencies("nope")
        []
        """
        with self.connect() as connection:
            return self._lineage(connection, run_id)[1]

    def dependencies_on(self, source: str, columns: Sequence[str]) -> dict[str, list[Dependency]]:
        """Every run's dependencies on the given columns of source ``source`` (by name), in
        one query: ``{run_id: [Dependency, ...]}``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").dependencies_on("s", ["a"])
        {}
        """
        marks = ", ".join("?" for _ in columns)
        by_run: dict[str, list[Dependency]] = {}
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT run_id, source, column_name, artifact, detail FROM dependencies"
                f" WHERE source = ? AND column_name IN ({marks})"
                " ORDER BY run_id, source, column_name, artifact, detail",
                (source, *columns),
            )
            for run_id, *fields in rows:
                by_run.setdefault(run_id, []).append(Dependency(*fields))
        return by_run

    def depending_on(
        self,
        *,
        source_path: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        source_name: str | None = None,
        column: str | None = None,
        pipeline: str | None = None,
    ) -> list[DependentRun]:
        """Runs whose artifacts depend on the given source (path, sha256 or name) and column.

        Unset criteria match everything; one answer per (run, source, column).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").depending_on(sha256="ab")
        []
        """
        query, parameters = _dependents_query(source_path, sha256, source_name, column, pipeline)
        with self.connect() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [
            DependentRun(*key, tuple(dict.fromkeys(row[-1] for row in group)))
            for key, group in itertools.groupby(rows, key=lambda row: row[:-1])
        ]

    def query_plan(self, **criteria: Any) -> str:
        """SQLite's plan for :meth:`depending_on` with ``criteria`` (to check index use).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> catalog = Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> "SCAN" in catalog.query_plan(sha256="ab", column="email")  # only index searches
        False
        """
        query, parameters = _dependents_query(**criteria)
        with self.connect() as connection:
            rows = connection.execute(f"EXPLAIN QUERY PLAN {query}", parameters).fetchall()
        return "\n".join(row[-1] for row in rows)

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it (so old page images are gone).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> Catalog(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite").checkpoint()
        """
        with self.connect() as connection:
            # Best effort: never wait long for readers; a later checkpoint finishes the job.
            connection.execute("PRAGMA busy_timeout=1000")
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")


_RUN_QUERY = (
    "SELECT run_id, pipeline, created, updated, version, manifest_sha256, meta, metrics,"
    " pipeline_code_hash FROM runs"
)


def _run(row: tuple) -> RunRecord:
    return RunRecord(*row[:6], json.loads(row[6]), json.loads(row[7]), row[8])


def _source(row: tuple) -> SourceRecord:
    return SourceRecord(*row[:6], None if row[6] is None else json.loads(row[6]))


def _dependents_query(
    source_path: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
    source_name: str | None = None,
    column: str | None = None,
    pipeline: str | None = None,
) -> tuple[str, list[Any]]:
    criteria = {
        "s.path": None if source_path is None else normalize_path(source_path),
        "s.sha256": sha256,
        "s.name": source_name,
        "d.column_name": column,
        "r.pipeline": pipeline,
    }
    given = {name: value for name, value in criteria.items() if value is not None}
    where = " AND ".join(f"{name} = ?" for name in given) or "1"
    query = (
        "SELECT r.run_id, r.pipeline, r.version, s.name, s.path, s.sha256, d.column_name,"
        " d.artifact FROM sources s"
        " JOIN dependencies d ON d.run_id = s.run_id AND d.source = s.name"
        f" JOIN runs r ON r.run_id = s.run_id WHERE {where}"
        " ORDER BY r.created, r.run_id, s.name, d.column_name, d.artifact"
    )
    return query, list(given.values())


def check_lineage(
    run_id: str, sources: Sequence[SourceRecord], dependencies: Sequence[Dependency]
) -> None:
    """Check that source names are unique and every dependency names a known source.

    Examples
    --------
    >>> check_lineage("r", [], [Dependency("s", "c", "a")])
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: run 'r': dependency on unknown source 's'; sources are []
    """
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise StoreError(f"run {run_id!r}: source names are not unique: {names}")
    for dependency in dependencies:
        if dependency.source not in names:
            raise StoreError(
                f"run {run_id!r}: dependency on unknown source {dependency.source!r};"
                f" sources are {sorted(names)}"
            )
