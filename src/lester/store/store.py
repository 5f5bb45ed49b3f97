"""The :class:`Store`: run folders, the catalog, per-run locks and recovery.

Examples
--------
>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> with store.new_run("creditcard") as writer:
...     writer.put_json("provenance_meta", {"rows": 3})
>>> store.open_run(writer.run_id).json("provenance_meta"), store.pipelines()
({'rows': 3}, ['creditcard'])
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from lester.store._fs import (
    TEMP_PREFIX,
    fsync_dir,
    is_temp,
    remove_tree,
    sha256_bytes,
    sha256_file,
)
from lester.store.catalog import (
    Catalog,
    Dependency,
    DependentRun,
    RunRecord,
    SourceRecord,
    VersionRecord,
)
from lester.store.errors import (
    IntegrityError,
    LockTimeoutError,
    StaleVersionError,
    StoreError,
)
from lester.store.manifest import Manifest, manifest_file_name
from lester.store.view import Run
from lester.store.writer import NewRun, RunUpdate, check_json, collect_garbage

DEFAULT_ROOT = ".lester"
UPDATE_SUFFIX = ".update"
MANIFEST_CACHE = 4  # parsed manifests kept per Store
PIPELINE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")


class Store:
    """An artifact store rooted at ``root`` (created, with its catalog, if missing).

    The root must be a writable directory (or creatable): this is checked, by creating
    and removing a temporary file, before anything is written; otherwise
    :class:`~lester.store.errors.StoreError` names the path. The first
    :meth:`new_run` or :meth:`update_run` of a :class:`Store` object runs :meth:`recover`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> Store(pathlib.Path(tempfile.mkdtemp()) / ".lester").runs()
    []
    """

    def __init__(
        self, root: str | os.PathLike[str] = DEFAULT_ROOT, *, lock_timeout: float = 600.0
    ) -> None:
        self.root = Path(os.path.abspath(root))
        prepare_root(self.root)
        for folder in (self.runs_dir, self.tmp_dir, self.locks_dir):
            folder.mkdir(exist_ok=True)
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.lock_timeout = lock_timeout
        self._recovered = False
        # Parsed manifests by sha256: an update opens its run several times (to write, to
        # describe it to lineage sinks before and after), and a big run's manifest is
        # megabytes of JSON. A manifest file never changes, so an entry never goes stale.
        self._manifests: OrderedDict[str, Manifest] = OrderedDict()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def runs_dir(self) -> Path:
        """``<root>/runs``: one folder per committed run."""
        return self.root / "runs"

    @property
    def tmp_dir(self) -> Path:
        """``<root>/tmp``: staging folders of runs being written."""
        return self.root / "tmp"

    @property
    def locks_dir(self) -> Path:
        """``<root>/locks``: one lock file per run."""
        return self.root / "locks"

    def run_path(self, run_id: str) -> Path:
        """The folder of a committed run.

        Examples
        --------
        >>> store.run_path("p-1").relative_to(store.root).as_posix()
        'runs/p-1'
        """
        return self.runs_dir / run_id

    # -- writing --------------------------------------------------------------------------

    def new_run(self, pipeline: str, meta: dict[str, Any] | None = None) -> NewRun:
        """Start version 1 of a new run; use it as a context manager.

        Examples
        --------
        >>> with store.new_run("creditcard", meta={"seed": 1}) as writer:
        ...     writer.put_bytes("pipeline.py", "print(1)")
        >>> writer.run_id.startswith("creditcard-")
        True
        """
        if not isinstance(pipeline, str) or not PIPELINE_PATTERN.fullmatch(pipeline):
            raise StoreError(
                f"invalid pipeline name {pipeline!r}: use up to 100 letters, digits, '_', '.'"
                " and '-', starting with a letter or digit"
            )
        meta = dict(meta or {})
        check_json(meta, "meta")
        self._recover_once()
        run_id = self._new_run_id(pipeline)
        lock = self._acquire(run_id)
        staging = self.tmp_dir / run_id
        try:
            staging.mkdir()
        except BaseException:
            lock.release()
            raise
        return NewRun(self, run_id, pipeline, meta, staging, lock)

    def update_run(self, run_id: str, note: str = "") -> RunUpdate:
        """Start version N+1 of a run (waits for the run's lock); use it as a context manager.

        Examples
        --------
        >>> with store.new_run("p") as writer:
        ...     writer.put_json("n", 1)
        >>> with store.update_run(writer.run_id, note="bump") as update:
        ...     update.put_json("n", update.json("n") + 1)
        >>> store.open_run(writer.run_id).version
        2
        """
        self.catalog.run(run_id)
        self._recover_once()
        lock = self._acquire(run_id)
        try:
            manifest = self._load_manifest(self.catalog.run(run_id))
            # The marker tells recover() which run an update killed midway left files in.
            marker = self.update_marker(run_id)
            interrupted = marker.exists()
            marker.touch()
            fsync_dir(self.tmp_dir)
            if interrupted:  # only a killed update leaves files: no walk over the run otherwise
                collect_garbage(self.run_path(run_id), manifest.paths())
        except BaseException:
            lock.release()
            raise
        return RunUpdate(self, self.run_path(run_id), manifest, note, lock)

    def update_marker(self, run_id: str) -> Path:
        """``<root>/tmp/<run_id>.update``: exists while an update of the run is unfinished.

        Examples
        --------
        >>> store.update_marker("p-1").name
        'p-1.update'
        """
        return self.tmp_dir / f"{run_id}{UPDATE_SUFFIX}"

    def _new_run_id(self, pipeline: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        while True:
            run_id = f"{pipeline}-{stamp}-{secrets.token_hex(3)}"
            taken = (self.tmp_dir / run_id).exists() or self.run_path(run_id).exists()
            if not taken and self.catalog.find_run(run_id) is None:
                return run_id

    def _acquire(self, run_id: str, timeout: float | None = None) -> filelock.BaseFileLock:
        lock = filelock.FileLock(self.locks_dir / f"{run_id}.lock")
        try:
            lock.acquire(timeout=self.lock_timeout if timeout is None else timeout)
        except filelock.Timeout as error:
            raise LockTimeoutError(
                f"run {run_id!r} is locked by another writer ({lock.lock_file})"
            ) from error
        return lock

    # -- reading --------------------------------------------------------------------------

    def open_run(self, run_id: str, verify: bool = True) -> Run:
        """The current version of a run (files are sha256-checked on first read if ``verify``).

        Examples
        --------
        >>> store.open_run(run_id).version
        1
        >>> store.open_run("nope")
        Traceback (most recent call last):
        ...
        lester.store.errors.UnknownRunError: unknown run 'nope'; the store has ... runs
        """
        for _ in range(10):
            record = self.catalog.run(run_id)
            try:
                manifest = self._load_manifest(record)
            except IntegrityError:
                if self.catalog.run(run_id).version != record.version:
                    continue  # a writer switched versions and collected the old manifest
                raise
            return Run(
                self.run_path(run_id),
                manifest,
                verify=verify,
                on_missing=self._stale_check(run_id, record.version),
            )
        raise StaleVersionError(f"run {run_id!r} changes too fast to be opened")

    def _stale_check(self, run_id: str, version: int) -> Callable[[str], None]:
        def check(path: str) -> None:
            current = self.catalog.run(run_id).version
            if current != version:
                raise StaleVersionError(
                    f"run {run_id!r} moved from version {version} to {current} while "
                    f"reading {path}; open it again"
                )

        return check

    def _load_manifest(self, record: RunRecord) -> Manifest:
        path = self.run_path(record.run_id) / manifest_file_name(record.version)
        label = f"manifest {path} of run {record.run_id!r} version {record.version}"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{label} is missing") from None
        actual = sha256_bytes(data)
        if actual != record.manifest_sha256:
            raise IntegrityError(
                f"{label} is corrupt: sha256 {actual}, recorded {record.manifest_sha256}"
            )
        return self._parsed(actual, data)

    def _parsed(self, sha256: str, data: bytes) -> Manifest:
        """The manifest of these bytes; versions are edited as copies (``successor``), so
        one parse serves every reader."""
        manifest = self._manifests.pop(sha256, None) or Manifest.from_bytes(data)
        self.remember_manifest(sha256, manifest)
        return manifest

    def remember_manifest(self, sha256: str, manifest: Manifest) -> None:
        """Keep a committed manifest (whose bytes hash to ``sha256``) for its readers.

        Examples
        --------
        >>> run = store.open_run(run_id)
        >>> store.remember_manifest("0" * 64, run.manifest)
        >>> store._parsed("0" * 64, b"") is run.manifest
        True
        """
        self._manifests[sha256] = manifest
        while len(self._manifests) > MANIFEST_CACHE:
            self._manifests.popitem(last=False)

    def run(self, run_id: str) -> RunRecord:
        """The catalog row of a run.

        Examples
        --------
        >>> store.run(run_id).pipeline
        'demo'
        """
        return self.catalog.run(run_id)

    def runs(self, pipeline: str | None = None) -> list[RunRecord]:
        """All runs (of ``pipeline`` if given), oldest first.

        Examples
        --------
        >>> run_id in [record.run_id for record in store.runs("demo")]
        True
        """
        return self.catalog.runs(pipeline)

    def pipelines(self) -> list[str]:
        """Names of the pipelines that have runs.

        Examples
        --------
        >>> "demo" in store.pipelines()
        True
        """
        return self.catalog.pipelines()

    def versions(self, run_id: str) -> list[VersionRecord]:
        """Metadata of every version of a run (no file contents), oldest first.

        Examples
        --------
        >>> [v.version for v in store.versions(run_id)]
        [1]
        """
        self.catalog.run(run_id)
        return self.catalog.versions(run_id)

    def sources(self, run_id: str) -> list[SourceRecord]:
        """The sources recorded for a run.

        Examples
        --------
        >>> [s.name for s in store.sources(run_id)]
        ['customers']
        """
        self.catalog.run(run_id)
        return self.catalog.sources(run_id)

    def dependencies(self, run_id: str) -> list[Dependency]:
        """The (source, column, artifact) dependencies recorded for a run.

        Examples
        --------
        >>> store.dependencies(run_id)[0]
        Dependency(source='customers', column='email', artifact='X', detail='')
        """
        self.catalog.run(run_id)
        return self.catalog.dependencies(run_id)

    def runs_depending_on(
        self,
        source_path: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        source_name: str | None = None,
        column: str | None = None,
        pipeline: str | None = None,
    ) -> list[DependentRun]:
        """Runs with artifacts that depend on a source (by path, sha256 or name) and column.

        Answered from the catalog's indexes alone; one row per (run, source, column).

        Examples
        --------
        >>> [(hit.run_id == run_id, hit.artifacts) for hit in
        ...  store.runs_depending_on(source_path="/data/customers.csv", column="email")]
        [(True, ('X',))]
        """
        return self.catalog.depending_on(
            source_path=source_path,
            sha256=sha256,
            source_name=source_name,
            column=column,
            pipeline=pipeline,
        )

    # -- integrity and housekeeping -------------------------------------------------------

    def verify(self, run_id: str | None = None) -> int:
        """Check every file of a run's current version (all runs if ``None``) against its sha256.

        Returns the number of files checked; raises :class:`IntegrityError` naming every
        missing or corrupt file.

        Examples
        --------
        >>> store.verify(run_id) > 5
        True
        """
        records = self.catalog.runs() if run_id is None else [self.catalog.run(run_id)]
        problems: list[str] = []
        checked = 0
        for record in records:
            checked += self._verify_run(record, problems)
        if problems:
            raise IntegrityError("; ".join(problems))
        return checked

    def _verify_run(self, record: RunRecord, problems: list[str]) -> int:
        try:
            manifest = self._load_manifest(record)
        except IntegrityError as error:
            problems.append(str(error))
            return 0
        for entry in manifest.files().values():
            path = self.run_path(record.run_id) / entry.path
            actual = sha256_file(path) if path.is_file() else None
            if actual != entry.sha256:
                state = "missing" if actual is None else f"corrupt: sha256 {actual}"
                problems.append(
                    f"file {path} of run {record.run_id!r} version {record.version} is {state}"
                )
        return len(manifest.files()) + 1

    def all_files(self) -> list[Path]:
        """Every file under the root (catalog, locks, manifests, objects), sorted.

        Examples
        --------
        >>> any(path.name == "catalog.sqlite" for path in store.all_files())
        True
        """
        return sorted(path for path in self.root.rglob("*") if path.is_file())

    def recover(self, deep: bool = False) -> list[Path]:
        """Remove what interrupted writers left behind; returns the removed paths.

        Removes staging folders of unfinished new runs, run folders that never reached the
        catalog and, in each run whose update was interrupted (or in every run if ``deep``),
        each file its current version does not reference: temporary files, objects and
        manifests of the unfinished update, or the old version's files if it died before
        collecting them. Runs whose lock a live writer holds are skipped. Each
        :class:`Store` object runs it on its first :meth:`new_run` or :meth:`update_run`;
        call it yourself after a crash to be sure deleted data is gone.

        Examples
        --------
        >>> store.recover(deep=True)
        []
        """
        removed = [self._remove(path) for path in self.root.iterdir() if is_temp(path.name)]
        for entry in sorted(self.tmp_dir.iterdir()):
            run_id = entry.name.removesuffix(UPDATE_SUFFIX)
            removed += self._when_idle(run_id, lambda entry=entry: self._recover_entry(entry))
        catalogued = self.catalog.run_ids()
        for folder in sorted(self.runs_dir.iterdir()):
            if deep or folder.name not in catalogued:
                removed += self._when_idle(
                    folder.name, lambda name=folder.name: self._recover(name)
                )
        self._recovered = True
        return removed

    def _recover_entry(self, entry: Path) -> list[Path]:
        if not entry.name.endswith(UPDATE_SUFFIX):
            return [self._remove(entry)]  # staging folder of a new run
        removed = self._recover(entry.name.removesuffix(UPDATE_SUFFIX))
        return [*removed, self._remove(entry)]

    def _recover_once(self) -> None:
        if not self._recovered:
            self.recover()

    def _when_idle(self, run_id: str, action: Callable[[], list[Path]]) -> list[Path]:
        try:
            lock = self._acquire(run_id, timeout=0)
        except LockTimeoutError:
            return []  # a live writer owns it and cleans up after itself
        try:
            return action()
        finally:
            lock.release()

    def _remove(self, path: Path) -> Path:
        remove_tree(path)
        return path

    def _recover(self, run_id: str) -> list[Path]:
        record = self.catalog.find_run(run_id)
        if record is None:
            return [self._remove(self.run_path(run_id))] if self.run_path(run_id).exists() else []
        try:
            manifest = self._load_manifest(record)
        except IntegrityError as error:
            warnings.warn(f"not collecting garbage of run {run_id!r}: {error}", stacklevel=3)
            return []
        return collect_garbage(self.run_path(run_id), manifest.paths())


def prepare_root(root: Path) -> None:
    """Create ``root`` if needed and check that it is a writable directory.

    Nothing is created when the check fails.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkstemp()[1])
    >>> prepare_root(file / "store")
    Traceback (most recent call last):
    ...
    lester.store.errors.StoreError: cannot create store root ...: ... is not a directory
    """
    if root.exists():
        if not root.is_dir():
            raise StoreError(f"store root {root} exists but is not a directory")
        _probe(root)
        return
    ancestor = next(parent for parent in root.parents if parent.exists())
    if not ancestor.is_dir():
        raise StoreError(f"cannot create store root {root}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise StoreError(f"cannot create store root {root}: {ancestor} is not writable")
    try:
        root.mkdir(parents=True)
        _probe(root)
    except (OSError, StoreError) as error:
        for folder in [root, *root.parents]:
            if folder == ancestor:
                break
            folder.rmdir()
        if isinstance(error, StoreError):
            raise
        raise StoreError(f"cannot create store root {root}: {error}") from error


def _probe(root: Path) -> None:
    try:
        handle, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=root)
    except OSError as error:
        raise StoreError(f"store root {root} is not writable: {error}") from error
    os.close(handle)
    os.unlink(name)
