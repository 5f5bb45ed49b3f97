"""Crash safety (SIGKILL at every stage of a write) and concurrent writers of one run."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from lester.store import Store
from lester.store._fs import CRASH_ENV

from .conftest import run_files

FORK = multiprocessing.get_context("fork")
ROWS, WIDTH, CHUNK = 40_000, 4, 4096
CHANGED_ROWS = [5, 20_000, 39_999]


def _base_run(store: Store) -> tuple[str, np.ndarray]:
    x = np.arange(ROWS * WIDTH, dtype=np.float32).reshape(ROWS, WIDTH)
    with store.new_run("crash") as writer:
        writer.put_matrix("X", x, chunk_rows=CHUNK)
        writer.put_json("log", [])
    return writer.run_id, x


def _update(root: Path, run_id: str, marker: int) -> None:
    """One maintenance step: rows CHANGED_ROWS of X become ``marker``; ``marker`` is logged."""
    with Store(root).update_run(run_id, note=f"step {marker}") as update:
        update.replace_rows("X", CHANGED_ROWS, np.full((3, WIDTH), -marker, dtype=np.float32))
        update.put_json("log", [*update.json("log"), marker])


def _crash_at(root: Path, run_id: str, stage: str) -> None:
    os.environ[CRASH_ENV] = stage
    _update(root, run_id, 1)
    os._exit(0)  # the stage was never reached


def _assert_consistent(store: Store, run_id: str, x: np.ndarray) -> int:
    """The run is exactly at some version: its log and its X agree and every file verifies."""
    run = store.open_run(run_id)
    log = run.json("log")
    assert len(log) == run.version - 1
    expected = x.copy()
    if log:
        expected[CHANGED_ROWS] = -log[-1]
    np.testing.assert_array_equal(run.matrix("X"), expected)
    assert store.verify(run_id) == len(run.manifest.files()) + 1
    return run.version


def _assert_clean(store: Store, run_id: str) -> None:
    assert run_files(store, run_id) == store.open_run(run_id).manifest.paths()
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("stage", "survivor"),
    [
        ("file:temp", 1),
        ("update:object", 1),
        ("update:objects", 1),
        ("update:manifest", 1),
        ("update:transaction", 1),
        ("update:switched", 2),
        ("update:gc", 2),
    ],
)
def test_kill_during_update_leaves_old_or_new_version(
    tmp_path: Path, stage: str, survivor: int
) -> None:
    root = tmp_path / ".lester"
    run_id, x = _base_run(Store(root))
    child = FORK.Process(target=_crash_at, args=(root, run_id, stage))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL

    store = Store(root)
    assert _assert_consistent(store, run_id, x) == survivor
    leftovers = run_files(store, run_id) - store.open_run(run_id).manifest.paths()
    assert leftovers, "the crash should have left files behind"
    removed = store.recover()
    assert store.update_marker(run_id) in removed
    folder = store.run_path(run_id)
    assert {path.relative_to(folder).as_posix() for path in removed if folder in path.parents} >= (
        leftovers
    )
    _assert_clean(store, run_id)
    _update(root, run_id, 7)  # the run stays usable
    assert _assert_consistent(Store(root), run_id, x) == survivor + 1


def _crash_new_run(root: Path, stage: str) -> None:
    os.environ[CRASH_ENV] = stage
    with Store(root).new_run("crash") as writer:
        writer.put_matrix("X", np.ones((10, 2)), chunk_rows=4)
    os._exit(0)


@pytest.mark.parametrize("stage", ["file:temp", "new:object", "new:staged", "new:renamed"])
def test_kill_during_new_run_leaves_no_run(tmp_path: Path, stage: str) -> None:
    root = tmp_path / ".lester"
    Store(root)
    child = FORK.Process(target=_crash_new_run, args=(root, stage))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    store = Store(root)
    assert store.runs() == []
    assert store.recover()
    assert list(store.tmp_dir.iterdir()) == [] and list(store.runs_dir.iterdir()) == []


def _update_forever(root: Path, run_id: str) -> None:
    for marker in range(1, 10_000):
        _update(root, run_id, marker)


def test_kill_at_random_moments_never_mixes_versions(tmp_path: Path) -> None:
    root = tmp_path / ".lester"
    run_id, x = _base_run(Store(root))
    rng = random.Random(2024)
    versions = []
    for _ in range(6):
        child = FORK.Process(target=_update_forever, args=(root, run_id))
        child.start()
        time.sleep(rng.uniform(0.05, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        store = Store(root)
        versions.append(_assert_consistent(store, run_id, x))
        store.recover()
        _assert_clean(store, run_id)
    assert versions == sorted(versions) and versions[-1] > 1


def _append_markers(root: Path, run_id: str, marker: str) -> None:
    store = Store(root)
    for _ in range(20):
        with store.update_run(run_id, note=marker) as update:
            update.put_json("log", [*update.json("log"), marker])


def test_concurrent_updates_from_two_processes_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / ".lester"
    with Store(root).new_run("shared") as writer:
        writer.put_json("log", [])
    children = [
        FORK.Process(target=_append_markers, args=(root, writer.run_id, marker))
        for marker in ("a", "b")
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0]
    store = Store(root)
    log = store.open_run(writer.run_id).json("log")
    assert sorted(log) == ["a"] * 20 + ["b"] * 20
    assert [v.version for v in store.versions(writer.run_id)] == list(range(1, 42))
    assert store.run(writer.run_id).version == 41
    _assert_clean(store, writer.run_id)


def test_a_writer_opening_the_store_recovers_crashed_updates(tmp_path: Path) -> None:
    root = tmp_path / ".lester"
    run_id, _ = _base_run(Store(root))
    child = FORK.Process(target=_crash_at, args=(root, run_id, "update:switched"))
    child.start()
    child.join()
    store = Store(root)
    assert run_files(store, run_id) != store.open_run(run_id).manifest.paths()
    with store.new_run("other") as writer:  # any writer's first write recovers
        writer.put_json("doc", 1)
    _assert_clean(store, run_id)


def test_recover_skips_runs_that_a_live_writer_holds(store: Store) -> None:
    run_id, _ = _base_run(store)
    other = Store(store.root)
    with store.update_run(run_id) as update:
        update.replace_rows("X", [0], np.zeros((1, WIDTH)))
        staged = run_files(store, run_id)
        pending = store.new_run("pending")
        assert other.recover(deep=True) == []
        assert run_files(store, run_id) == staged and pending.path.exists()
        pending.abort()
    assert store.open_run(run_id).version == 2


def test_deep_recover_removes_stray_files(store: Store) -> None:
    run_id, _ = _base_run(store)
    stray = store.run_path(run_id) / "objects" / "ff" / "ff00.npy"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"forgotten data")
    assert store.recover() == []  # no interrupted write recorded: no scan
    assert store.recover(deep=True) == [stray, stray.parent]
    _assert_clean(store, run_id)
