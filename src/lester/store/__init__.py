"""The artifact store: every artifact of every pipeline run, with provenance, versioned.

A run is written once by the runner (version 1) and later changed by maintenance, which
produces version N+1 atomically, touching only the chunks it changes, and physically
deletes the files that no live version references any more.

API
---
``Store(root=".lester", *, lock_timeout=600.0)``
    Creates ``root`` and its catalog if missing; :class:`StoreError` naming the path if the
    root cannot be a writable directory (checked before anything is written).
``store.new_run(pipeline, meta=None) -> NewRun`` (context manager; ``writer.run_id``)
``store.update_run(run_id, note="") -> RunUpdate`` (context manager; holds the run's lock)
    Both writers stage artifacts and can read them back with the :class:`Run` methods:
    ``put_table(name, df, chunk_rows=None)`` (Arrow IPC chunks of ~128 KiB; the index is not kept),
    ``put_matrix(name, X, chunk_rows=None)`` (~128 KiB chunks; dense: ``.npy``, dtype kept;
    scipy.sparse: CSR ``.npz`` chunks), ``put_json(name, obj)``, ``put_bytes(name, data)``
    (bytes or str), ``put_sklearn(name, estimator)`` (skops), ``put_torch(name, state_dict,
    module=None)`` (safetensors + JSON spec), ``delete_artifact(name)``,
    ``replace_rows(name, positions, values) -> changed chunk indices``,
    ``delete_rows(name, positions) -> changed chunk indices`` (order kept; chunks have
    variable size), ``replace_chunk(name, index, data)``,
    ``set_catalog(sources=, dependencies=, metrics=, pipeline_code_hash=)``,
    ``commit()`` / ``abort()`` (the ``with`` block calls them). An update that changes
    nothing creates no version.
``store.open_run(run_id, verify=True) -> Run`` (the current version)
    ``run.version``, ``run.manifest``, ``run.artifacts()``, ``run.table(name, columns=None)``,
    ``run.table_chunks(name)``, ``run.table_chunk(name, i)``, ``run.table_rows(name, a, b)``,
    ``run.matrix(name, mmap=False)``, ``run.matrix_chunks(name, mmap=False)``,
    ``run.matrix_rows(name, a, b, mmap=False)``, ``run.matrix_shape(name)``,
    ``run.chunks(name)`` (chunk table), ``run.locate(name, positions)`` (row -> chunk),
    ``run.n_rows(name)``, ``run.json(name)``, ``run.bytes(name)``, ``run.text(name)``,
    ``run.sklearn(name)``, ``run.torch(name)``, ``run.torch_spec(name)``,
    ``run.torch_module(name)``. Every file is sha256-checked on its first read
    (:class:`IntegrityError` names the file); a reader whose version was replaced and
    collected meanwhile gets :class:`StaleVersionError` and should open the run again.
``store.run(run_id) -> RunRecord``, ``store.runs(pipeline=None)``, ``store.pipelines()``,
``store.versions(run_id) -> list[VersionRecord]``, ``store.sources(run_id)``,
``store.dependencies(run_id)``, ``store.runs_depending_on(source_path=None, sha256=None,
source_name=None, column=None, pipeline=None) -> list[DependentRun]`` (catalog only),
``store.verify(run_id=None) -> files checked``, ``store.all_files() -> list[Path]``,
``store.recover(deep=False) -> removed paths``, ``store.catalog`` (:class:`Catalog`;
``add_runs`` inserts catalog rows in bulk).

On disk
-------
::

    .lester/
      catalog.sqlite            runs, versions, sources, dependencies (WAL mode)
      locks/<run_id>.lock       per-run writer lock (filelock)
      tmp/<run_id>/             staging folder of a new run until it commits
      tmp/<run_id>.update       marker: an update of the run has not finished
      runs/<run_id>/
        manifest.v000002.json   the current version's manifest (older ones are deleted)
        objects/ab/ab12...ef.npy   immutable, content-addressed (sha256) files

Crash safety and garbage collection
-----------------------------------
The catalog row of a run (``runs.version`` and ``runs.manifest_sha256``) is the only
pointer to its current version. Files are written to temporary names and renamed, and made
durable before anything refers to them: on Linux one ``syncfs`` per commit covers every
new object, elsewhere each file is fsynced before its rename. Objects are never modified,
only added or deleted, so a new version shares unchanged files with the old one. An update
marks the run in ``tmp/``, writes its new objects and manifest N+1 (all durable) beside
version N, switches the catalog row in one SQLite
transaction, then deletes every file version N+1 does not reference (old manifest,
replaced chunks) and its marker. ``kill -9`` before the commit leaves version N intact;
after it, version N+1 is complete. A new run is staged in ``tmp/``, renamed into
``runs/`` and only then inserted into the catalog. :meth:`Store.recover` deletes what a
killed writer left: staging folders, uncatalogued run folders and, for each marked run
(every run if ``deep=True``), all files its current version does not reference. Runs
whose lock a live writer holds are skipped. A :class:`Store` runs it on its first
:meth:`~Store.new_run` or :meth:`~Store.update_run`; call it yourself after a crash to make
sure deleted data is physically gone.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd
>>> store = Store(tempfile.mkdtemp())
>>> with store.new_run("creditcard") as writer:
...     writer.put_table("train/data", pd.DataFrame({"id": [1, 2, 3]}))
...     writer.put_matrix("train/X", np.eye(3, dtype=np.float32))
...     writer.set_catalog(sources=[SourceRecord("customers", "/d/c.csv", "ab12")],
...                        dependencies=[Dependency("customers", "id", "train/X")])
>>> with store.update_run(writer.run_id, note="forget id 2") as update:
...     update.delete_rows("train/X", [1]); update.delete_rows("train/data", [1])
[0]
[0]
>>> run = store.open_run(writer.run_id)
>>> run.version, run.table("train/data")["id"].tolist(), run.matrix("train/X").shape
(2, [1, 3], (2, 3))
>>> [hit.run_id for hit in store.runs_depending_on(sha256="ab12", column="id")] == [run.run_id]
True
"""

from lester.store.catalog import (
    Catalog,
    CatalogEntry,
    Dependency,
    DependentRun,
    RunRecord,
    SourceRecord,
    VersionRecord,
)
from lester.store.errors import (
    ArtifactKindError,
    IntegrityError,
    LockTimeoutError,
    StaleVersionError,
    StoreError,
    UnknownArtifactError,
    UnknownRunError,
    UntrustedTypeError,
)
from lester.store.manifest import Artifact, FileEntry, Manifest
from lester.store.store import DEFAULT_ROOT, Store
from lester.store.view import Chunk, Run
from lester.store.writer import NewRun, RunUpdate, RunWriter

__all__ = [
    "DEFAULT_ROOT",
    "Artifact",
    "ArtifactKindError",
    "Catalog",
    "CatalogEntry",
    "Chunk",
    "Dependency",
    "DependentRun",
    "FileEntry",
    "IntegrityError",
    "LockTimeoutError",
    "Manifest",
    "NewRun",
    "Run",
    "RunRecord",
    "RunUpdate",
    "RunWriter",
    "SourceRecord",
    "StaleVersionError",
    "Store",
    "StoreError",
    "UnknownArtifactError",
    "UnknownRunError",
    "UntrustedTypeError",
    "VersionRecord",
]
