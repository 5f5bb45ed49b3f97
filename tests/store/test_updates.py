"""Versioned updates: only touched chunks are rewritten, old files are collected."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse

from lester.store import Store, StoreError

from .conftest import run_files


@pytest.fixture(scope="module")
def big_x() -> np.ndarray:
    return np.random.default_rng(7).random((1_000_000, 8), dtype=np.float32)


def _mtimes(store: Store, run_id: str) -> dict[str, int]:
    folder = store.run_path(run_id)
    return {name: (folder / name).stat().st_mtime_ns for name in run_files(store, run_id)}


def test_replace_rows_of_a_million_rows_rewrites_only_touched_chunks(
    store: Store, big_x: np.ndarray
) -> None:
    with store.new_run("big") as writer:
        writer.put_matrix("train/X", big_x)  # 4,096 rows per chunk (128 KiB): 245 chunks
    run_id = writer.run_id
    before = _mtimes(store, run_id)
    old_chunks = store.open_run(run_id).chunks("train/X")
    rows = np.array([999_999, 10, 500_000, 500_001, 20])
    values = np.full((5, 8), -1.0, dtype=np.float32)

    started = time.perf_counter()
    with store.update_run(run_id, note="forget 5 rows") as update:
        changed = update.replace_rows("train/X", rows, values)
    elapsed = time.perf_counter() - started

    holding = {i for i, c in enumerate(old_chunks) for row in rows if c.start <= row < c.stop}
    assert len(old_chunks) > 100 and changed == sorted(holding) and len(changed) == 3
    after = _mtimes(store, run_id)
    touched = {old_chunks[index].file.path for index in changed}
    assert set(before) - set(after) == touched | {"manifest.v000001.json"}
    new_files = set(after) - set(before)
    assert len(new_files) == 4 and "manifest.v000002.json" in new_files
    assert all(after[name] == before[name] for name in set(before) & set(after))
    assert not any((store.run_path(run_id) / name).exists() for name in touched)
    expected = big_x.copy()
    expected[rows] = values
    run = store.open_run(run_id)
    assert run.version == 2
    np.testing.assert_array_equal(run.matrix("train/X", mmap=True), expected)
    assert elapsed < 2.0


def test_delete_rows_keeps_order_and_rewrites_only_touched_chunks(
    store: Store, big_x: np.ndarray
) -> None:
    with store.new_run("big") as writer:
        writer.put_matrix("X", big_x, chunk_rows=8192)
    before = run_files(store, writer.run_id)
    rows = [8191, 3, 8192, 700_000, 8193]
    with store.update_run(writer.run_id) as update:
        assert update.delete_rows("X", rows) == [0, 1, 85]
    run = store.open_run(writer.run_id)
    assert len(run_files(store, writer.run_id) - before) == 4  # three chunks + manifest
    assert [chunk.rows for chunk in run.chunks("X")][:3] == [8190, 8190, 8192]
    np.testing.assert_array_equal(run.matrix("X"), np.delete(big_x, rows, axis=0))
    assert run.artifact("X").attrs["shape"] == [999_995, 8]


def test_delete_rows_of_tables_and_sparse_matrices_keeps_order(store: Store) -> None:
    data = pd.DataFrame({"id": range(10), "name": [f"n{i}" for i in range(10)]})
    x = sparse.random(10, 5, density=0.5, random_state=0, format="csr")
    with store.new_run("p") as writer:
        writer.put_table("data", data, chunk_rows=3)
        writer.put_matrix("X", x, chunk_rows=3)
    with store.update_run(writer.run_id, note="forget") as update:
        update.delete_rows("data", [9, 0, 4, 5, 3])  # chunk 1 (rows 3-5) empties
        update.delete_rows("X", [9, 0, 4, 5, 3])
    run = store.open_run(writer.run_id)
    kept = [1, 2, 6, 7, 8]
    pd.testing.assert_frame_equal(run.table("data"), data.iloc[kept].reset_index(drop=True))
    assert (run.matrix("X") != x[kept]).nnz == 0
    assert [chunk.rows for chunk in run.chunks("data")] == [2, 3]


def test_deleting_every_row_keeps_one_empty_chunk(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("y", np.arange(5.0), chunk_rows=2)
        writer.put_table("t", pd.DataFrame({"a": ["x", "y", "z"]}), chunk_rows=2)
    with store.update_run(writer.run_id) as update:
        update.delete_rows("y", range(5))
        update.delete_rows("t", [0, 1, 2])
    run = store.open_run(writer.run_id)
    assert run.matrix("y").shape == (0,) and len(run.chunks("y")) == 1
    assert list(run.table("t").columns) == ["a"] and len(run.table("t")) == 0


def test_replace_rows_of_tables_and_sparse_matrices(store: Store) -> None:
    data = pd.DataFrame({"id": [1, 2, 3, 4], "email": ["a@x", "b@x", None, "d@x"]})
    x = sparse.csr_matrix(np.arange(12, dtype=np.float64).reshape(4, 3))
    with store.new_run("p") as writer:
        writer.put_table("data", data, chunk_rows=2)
        writer.put_matrix("X", x, chunk_rows=2)
    with store.update_run(writer.run_id) as update:
        update.replace_rows("data", [3, 0], pd.DataFrame({"id": [4, 1], "email": [None, "?"]}))
        update.replace_rows("X", [2, 0], np.array([[0.0, 0.0, 0.0], [7.0, 7.0, 7.0]]))
    run = store.open_run(writer.run_id)
    assert run.table("data")["email"].tolist()[:2] == ["?", "b@x"]
    assert run.table("data")["email"].isna().tolist() == [False, False, True, True]
    assert run.matrix("X").toarray()[2].tolist() == [0.0, 0.0, 0.0]
    assert run.matrix("X").toarray()[0].tolist() == [7.0, 7.0, 7.0]
    assert run.matrix("X").toarray()[3].tolist() == [9.0, 10.0, 11.0]


def test_replacement_rows_must_fit(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.zeros((4, 3), dtype=np.float32))
    with store.update_run(writer.run_id) as update:
        with pytest.raises(StoreError, match="2 row positions but 1 replacement rows"):
            update.replace_rows("X", [0, 1], np.ones((1, 3)))
        with pytest.raises(StoreError, match="do not fit"):
            update.replace_rows("X", [0], np.ones((1, 2)))
        with pytest.raises(StoreError, match="out of range"):
            update.delete_rows("X", [4])
        with pytest.raises(StoreError, match="repeat"):
            update.delete_rows("X", [1, 1])
    assert store.open_run(writer.run_id).version == 1


def test_versions_increase_and_old_manifests_are_deleted(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_json("n", 0)
    for value in range(1, 4):
        with store.update_run(writer.run_id, note=f"set {value}") as update:
            update.put_json("n", value)
        assert update.version == value + 1
    run = store.open_run(writer.run_id)
    assert (run.version, run.json("n")) == (4, 3)
    assert [(v.version, v.parent_version, v.note) for v in store.versions(writer.run_id)] == [
        (1, None, ""),
        (2, 1, "set 1"),
        (3, 2, "set 2"),
        (4, 3, "set 3"),
    ]
    manifests = [name for name in run_files(store, writer.run_id) if name.startswith("manifest")]
    assert manifests == ["manifest.v000004.json"]
    assert run_files(store, writer.run_id) == run.manifest.paths()


def test_update_without_changes_creates_no_version(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_json("n", 0)
    with store.update_run(writer.run_id) as update:
        update.json("n")
    assert update.version == 1 and store.run(writer.run_id).version == 1


def test_failed_update_keeps_the_old_version_and_removes_new_objects(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.zeros((10, 2)), chunk_rows=5)
    before = run_files(store, writer.run_id)
    with pytest.raises(RuntimeError), store.update_run(writer.run_id) as update:
        update.replace_rows("X", [1], np.ones((1, 2)))
        raise RuntimeError("maintenance failed")
    assert run_files(store, writer.run_id) == before
    assert store.open_run(writer.run_id).matrix("X").sum() == 0
    assert store.run(writer.run_id).version == 1


def test_unchanged_artifacts_are_reused_without_copies(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.zeros((10, 2)), chunk_rows=5)
        writer.put_bytes("pipeline.py", "code")
    old = store.open_run(writer.run_id).manifest.files()
    with store.update_run(writer.run_id) as update:
        update.put_json("extra", [1])
    new = store.open_run(writer.run_id).manifest.files()
    assert all(new[key] == entry for key, entry in old.items())


def test_replace_chunk_allows_variable_chunk_sizes(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_table("t", pd.DataFrame({"a": range(6)}), chunk_rows=3)
    with store.update_run(writer.run_id) as update:
        update.replace_chunk("t", 0, pd.DataFrame({"a": [10]}))
    run = store.open_run(writer.run_id)
    assert run.table("t")["a"].tolist() == [10, 3, 4, 5]
    assert [(c.start, c.stop) for c in run.table_chunks("t")] == [(0, 1), (1, 4)]
    assert run.locate("t", [0, 1, 3])[0].tolist() == [0, 1, 1]


def test_reader_of_a_superseded_version_gets_a_clear_error(store: Store) -> None:
    from lester.store import StaleVersionError

    with store.new_run("p") as writer:
        writer.put_json("doc", 1)
    stale = store.open_run(writer.run_id)
    with store.update_run(writer.run_id) as update:
        update.put_json("doc", 2)
    with pytest.raises(StaleVersionError, match="moved from version 1 to 2"):
        stale.json("doc")
    assert store.open_run(writer.run_id).json("doc") == 2


def test_the_base_version_of_an_update_shares_its_decoded_chunks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lester.store import view

    with store.new_run("p") as writer:
        writer.put_matrix("X", np.arange(40, dtype=np.float32).reshape(20, 2), chunk_rows=8)
    reads: list[str] = []
    real_read = view.read_file
    monkeypatch.setattr(
        view, "read_file", lambda path, size: reads.append(path) or real_read(path, size)
    )

    with store.update_run(writer.run_id) as update:
        base = update.at_version(update.base)
        before = base.matrix_take("X", [9, 10]).copy()  # chunk 1, read once...
        update.replace_rows("X", [9], np.array([[-1.0, -1.0]], dtype=np.float32))
        assert len(reads) == 1  # ...for both views
        # The base still shows the version the update started from.
        assert base.matrix_take("X", [9, 10]).tolist() == before.tolist()
        assert update.matrix_take("X", [9]).tolist() == [[-1.0, -1.0]]
    assert store.open_run(writer.run_id).matrix_take("X", [9]).tolist() == [[-1.0, -1.0]]


def test_replace_rows_of_a_table_takes_arrow_rows_and_keeps_the_stored_types(
    store: Store,
) -> None:
    import pyarrow as pa

    frame = pd.DataFrame({"name": ["a", "b", "c"], "n": pd.array([1, None, 3], dtype="Int64")})
    with store.new_run("p") as writer:
        writer.put_table("t", frame, chunk_rows=2)
    with store.update_run(writer.run_id) as update:
        rows = update.arrow_take("t", [2])
        nulled = rows.set_column(0, rows.schema.field(0), pa.nulls(1, rows.schema.field(0).type))
        update.replace_rows("t", [2], nulled.select(["n", "name"]))  # any column order
        with pytest.raises(StoreError, match="lack columns"):
            update.replace_rows("t", [0], rows.select(["n"]))
    table = store.open_run(writer.run_id).table("t")
    assert table["name"].tolist()[:2] == ["a", "b"] and pd.isna(table["name"][2])
    assert str(table["n"].dtype) == "Int64" and table["n"].tolist()[2] == 3
