"""The lookup indexes agree with brute force over the full tables, also after deletions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lester.maintenance.scan import scan_files
from lester.provenance import Provenance, Slot
from lester.provenance.sources import SourceInfo
from lester.runner import index
from lester.runner.capture import provenance_table
from lester.store import Store, writer


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(writer, "TARGET_CHUNK_BYTES", 1)
    monkeypatch.setattr(writer, "MIN_CHUNK_ROWS", 3)


def captured(tmp_path, seed: int):
    """A run with a random two-source provenance (a self-join on ``b``) and shuffled keys."""
    rng = np.random.default_rng(seed)
    n_a, n_b, n_rows = 40, 25, 60
    keys_a = [f"A{i:03d}" for i in rng.permutation(n_a)]
    keys_b = rng.permutation(1000)[:n_b].tolist()
    columns = np.stack(
        [rng.integers(0, n_a, n_rows), rng.integers(0, n_b, n_rows), rng.integers(-1, n_b, n_rows)],
        axis=1,
    )
    provenance = Provenance(
        [Slot("a", "a"), Slot("b", "b"), Slot("b2", "b")], columns, None, n_rows
    )
    sources = {
        "a": SourceInfo("a", "id", pd.Index(keys_a)),
        "b": SourceInfo("b", "id", pd.Index(keys_b)),
    }
    store = Store(tmp_path / "store")
    with store.new_run("p") as new:
        new.put_table("train/data", pd.DataFrame({"row": np.arange(n_rows)}))
        new.put_table("train/provenance", provenance_table(provenance))
        index.write_indexes(new, {"train": provenance}, sources)
    return store, new.run_id, provenance, {"a": keys_a, "b": keys_b}


def brute_rows(run, source: str, ids) -> np.ndarray:
    table = run.table("train/provenance")
    columns = [c for c in table.columns if c.rstrip("2") == source]
    return np.flatnonzero(table[columns].isin(list(ids)).any(axis=1).to_numpy())


@pytest.mark.parametrize("seed", range(4))
def test_lookups_read_few_chunks_and_match_brute_force(tmp_path, seed):
    store, run_id, _, keys = captured(tmp_path, seed)
    run = store.open_run(run_id)
    assert len(run.chunks("index/keys/a")) > 3  # the lookups below cross chunk fences
    rng = np.random.default_rng(seed)
    for source, known in keys.items():
        wanted = [known[i] for i in rng.choice(len(known), 6, replace=False)]
        wanted += ["nope"] if source == "a" else [5000]
        expected = [known.index(k) if k in known else -1 for k in wanted]
        assert index.tuple_ids(run, source, wanted).tolist() == expected
        ids = rng.choice(len(known), 5, replace=False)
        assert index.rows_reached(run, "train", source, ids).tolist() == (
            brute_rows(run, source, ids).tolist()
        )


@pytest.mark.parametrize("seed", range(4))
def test_rows_reached_stays_right_after_several_deletions(tmp_path, seed):
    store, run_id, _, keys = captured(tmp_path, seed)
    rng = np.random.default_rng(seed + 100)
    for _ in range(3):
        with store.update_run(run_id) as update:
            n_rows = update.n_rows("train/data")
            gone = np.sort(rng.choice(n_rows, 7, replace=False))
            index.log_deleted(update, "train", gone)
            update.delete_rows("train/data", gone)
            update.delete_rows("train/provenance", gone)
        run = store.open_run(run_id)
        assert index.rows_indexed(run, "train", "b")
        for source, known in keys.items():
            ids = rng.choice(len(known), 6, replace=False)
            assert index.rows_reached(run, "train", source, ids).tolist() == (
                brute_rows(run, source, ids).tolist()
            )


def test_appending_rows_drops_the_row_index_even_when_as_many_were_deleted(tmp_path):
    """``correct`` removes and appends rows in one update: the counts may match, but the
    appended rows are not in the index, so the split's row index must go."""
    store, run_id, _, _ = captured(tmp_path, 0)
    with store.update_run(run_id) as update:
        index.log_deleted(update, "train", np.array([0]))
        update.delete_rows("train/data", [0])
        index.drop_row_index(update, "train")
        last = len(update.chunks("train/data")) - 1
        chunk = update.table_chunk("train/data", last)
        update.replace_chunk("train/data", last, pd.concat([chunk, chunk.tail(1)]))
    run = store.open_run(run_id)
    assert not index.rows_indexed(run, "train", "a")
    assert not [name for name in run.artifacts() if name.startswith("index/rows/train")]


@pytest.mark.parametrize("seed", range(4))
def test_forgotten_keys_leave_the_key_index_and_its_fences(tmp_path, seed):
    store, run_id, _, keys = captured(tmp_path, seed)
    rng = np.random.default_rng(seed)
    fences = store.open_run(run_id).json("index")["keys"]["a"]
    # Forget the fence keys (the worst case) and a few others, over two updates.
    first = fences[:3] + [keys["a"][int(i)] for i in rng.choice(40, 4, replace=False)]
    second = [k for k in keys["a"] if k not in first][:12]  # empties at least one chunk
    for gone in (first, second):
        with store.update_run(run_id) as update:
            index.forget_keys(update, "a", gone)
    run = store.open_run(run_id)
    forgotten = set(first) | set(second)
    expected = [-1 if k in forgotten else i for i, k in enumerate(keys["a"])]
    assert index.tuple_ids(run, "a", keys["a"]).tolist() == expected
    assert not forgotten & set(json.dumps(run.json("index")).split('"'))
    assert scan_files(store.root, sorted(forgotten)).clean


def test_non_ascii_keys_are_found_and_keys_of_mixed_kinds_get_no_index(tmp_path):
    sources = {
        "a": SourceInfo("a", "id", pd.Index(["ö3", "ä1", "b2"])),
        "n": SourceInfo("n", "id", pd.Index([7, 3, 5])),
        "mixed": SourceInfo("mixed", "id", pd.Index(["x", 1], dtype=object)),
    }
    store = Store(tmp_path / "store")
    with store.new_run("p") as new:
        index.write_indexes(new, {}, sources)
    run = store.open_run(new.run_id)
    assert index.key_indexed(run, "a") and not index.key_indexed(run, "mixed")
    assert index.tuple_ids(run, "a", ["ä1", "ö3", "ö", "ö3x", 3]).tolist() == [1, 0, -1, -1, -1]
    assert index.tuple_ids(run, "n", [5, "5", 5.5, 7.0]).tolist() == [2, -1, -1, 0]
