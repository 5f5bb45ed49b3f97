"""When files become durable: with ``syncfs`` (Linux) a writer fsyncs nothing one by one and
makes everything, the manifest included, durable with one call before the catalog refers to
it; without it, every file is fsynced before its rename and every folder before the commit."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from lester.store import Store, _fs


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Record every fsync and syncfs (both still run)."""
    seen: dict[str, list] = {"fsync": [], "syncfs": [], "listed_at_syncfs": []}
    fsync, syncfs = os.fsync, _fs._syncfs

    def recording_fsync(fd: int) -> None:
        seen["fsync"].append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    if syncfs is not None:

        def recording_syncfs(fd: int) -> int:
            seen["syncfs"].append(os.readlink(f"/proc/self/fd/{fd}"))
            seen["listed_at_syncfs"].append(sorted(os.listdir(seen["syncfs"][-1])))
            return syncfs(fd)

        monkeypatch.setattr(_fs, "_syncfs", recording_syncfs)
    return seen


def _update_rows(store: Store, before_update: dict | None = None) -> str:
    """A run of four chunks, then an update of two; ``before_update`` (the recorded calls)
    is emptied between the two."""
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.zeros((8, 2), dtype=np.float32), chunk_rows=2)
    for seen in (before_update or {}).values():
        seen.clear()
    with store.update_run(writer.run_id) as update:
        update.replace_rows("X", [0, 7], np.ones((2, 2)))
    return writer.run_id


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_with_syncfs_objects_are_not_fsynced_one_by_one(store: Store, calls: dict) -> None:
    store.catalog  # noqa: B018 (the catalog's own files are not what this test counts)
    run_id = _update_rows(store)
    objects = [path for path in calls["fsync"] if "/objects/" in path]
    assert objects == []
    assert len(calls["syncfs"]) == 2  # one for the new run, one for the update
    # Each manifest is made durable by the same syncfs as the objects it lists.
    assert not any("manifest" in path for path in calls["fsync"])
    assert "manifest.v000001.json" in calls["listed_at_syncfs"][0]
    assert "manifest.v000002.json" in calls["listed_at_syncfs"][1]
    assert store.open_run(run_id).matrix("X")[[0, 7]].tolist() == [[1, 1], [1, 1]]


def test_without_syncfs_every_object_is_fsynced(
    store: Store, calls: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_fs, "_syncfs", None)
    run_id = _update_rows(store, before_update=calls)
    objects = store.run_path(run_id) / "objects"
    manifest = store.open_run(run_id).manifest
    written = {part.path.rsplit("/", 1)[1] for part in manifest.artifacts["X"].parts}
    # Each object was fsynced under its temporary name, then renamed.
    fsynced = {
        os.path.basename(path).split("-", 2)[2]
        for path in calls["fsync"]
        if os.path.basename(path).startswith(_fs.TEMP_PREFIX)
    }
    changed = written & fsynced
    assert calls["syncfs"] == [] and len(changed) == 2  # the update's two new chunks
    folders = {str(objects / name[:2]) for name in changed}
    assert folders <= set(calls["fsync"])  # and their folders before the commit
    assert store.open_run(run_id).matrix("X")[[0, 7]].tolist() == [[1, 1], [1, 1]]


def test_sync_filesystem_names_the_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fs, "_syncfs", None)
    with pytest.raises(OSError, match="syncfs is not available"):
        _fs.sync_filesystem(tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_write_back_flushes_what_was_written_before_the_commit(store: Store, calls: dict) -> None:
    store.catalog  # noqa: B018
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.zeros((8, 2), dtype=np.float32), chunk_rows=2)
    calls["syncfs"].clear()
    with store.update_run(writer.run_id) as update:
        update.replace_rows("X", [0], np.ones((1, 2)))
        update.write_back()
        assert calls["syncfs"] == [str(store.run_path(writer.run_id))]
    assert len(calls["syncfs"]) == 2  # the commit still flushes (the manifest, at least)
