"""Round trips of every artifact kind, chunk tables and row ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse

from lester.store import ArtifactKindError, Store, StoreError, UnknownArtifactError
from lester.store.errors import UntrustedTypeError


def test_dense_float32_matrix_round_trips_memory_mapped(store: Store) -> None:
    x = np.random.default_rng(0).random((1000, 6), dtype=np.float32)
    with store.new_run("p") as writer:
        writer.put_matrix("train/X", x, chunk_rows=256)
    run = store.open_run(writer.run_id)
    assert run.matrix_shape("train/X") == (1000, 6)
    chunks = run.matrix_chunks("train/X", mmap=True)
    assert [len(chunk) for chunk in chunks] == [256, 256, 256, 232]
    assert all(isinstance(chunk, np.memmap) and chunk.dtype == np.float32 for chunk in chunks)
    assert isinstance(run.matrix_rows("train/X", 300, 400, mmap=True), np.memmap)
    whole = run.matrix("train/X", mmap=True)
    assert whole.dtype == np.float32
    np.testing.assert_array_equal(whole, x)
    np.testing.assert_array_equal(run.matrix_rows("train/X", 250, 770), x[250:770])


def test_single_chunk_matrix_is_the_memmap_itself(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("y", np.arange(10, dtype=np.int64))
    y = store.open_run(writer.run_id).matrix("y", mmap=True)
    assert isinstance(y, np.memmap)
    assert y.tolist() == list(range(10))


@pytest.mark.parametrize("kind", [sparse.csr_matrix, sparse.csr_array, sparse.coo_matrix])
def test_sparse_matrix_round_trips(store: Store, kind: type) -> None:
    x = kind(sparse.random(300, 40, density=0.1, random_state=1, format="csr"))
    with store.new_run("p") as writer:
        writer.put_matrix("X", x, chunk_rows=64)
    run = store.open_run(writer.run_id)
    loaded = run.matrix("X")
    assert sparse.issparse(loaded) and loaded.format == "csr"
    assert isinstance(loaded, sparse.sparray) == isinstance(x, sparse.sparray)
    assert (loaded != x.tocsr()).nnz == 0
    assert (run.matrix_rows("X", 60, 130) != x.tocsr()[60:130]).nnz == 0
    assert [chunk.file.path.endswith(".npz") for chunk in run.chunks("X")] == [True] * 5


def test_table_round_trips_strings_nulls_bools_floats(store: Store) -> None:
    data = pd.DataFrame(
        {
            "name": ["a", None, "c", "d", "é"],
            "flag": [True, False, None, True, False],
            "strict_flag": [True, False, True, True, False],
            "score": [1.5, np.nan, 3.0, None, -0.0],
            "count": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "kind": pd.Categorical(["x", "y", "x", None, "y"]),
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-04-01", "2024-05-01"]),
        }
    )
    with store.new_run("p") as writer:
        writer.put_table("train/data", data, chunk_rows=2)
    run = store.open_run(writer.run_id)
    pd.testing.assert_frame_equal(run.table("train/data"), data)
    assert [chunk.rows for chunk in run.table_chunks("train/data")] == [2, 2, 1]
    pd.testing.assert_frame_equal(
        run.table_chunk("train/data", 1), data.iloc[2:4].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        run.table_rows("train/data", 1, 4), data.iloc[1:4].reset_index(drop=True)
    )
    assert list(run.table("train/data", columns=["score"]).columns) == ["score"]
    chunk_of, inside = run.locate("train/data", [0, 3, 4])
    assert chunk_of.tolist() == [0, 1, 2] and inside.tolist() == [0, 1, 0]


def test_empty_table_and_matrix_round_trip(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_table("t", pd.DataFrame({"a": pd.Series([], dtype="float64")}))
        writer.put_matrix("X", np.empty((0, 3), dtype=np.float32))
    run = store.open_run(writer.run_id)
    assert run.table("t").shape == (0, 1)
    assert run.matrix("X").shape == (0, 3) and run.n_rows("X") == 0


def test_json_bytes_and_text_round_trip(store: Store) -> None:
    document = {"metrics": {"auc": np.float64(0.75)}, "ids": np.arange(3), "nested": [None, "x"]}
    with store.new_run("p") as writer:
        writer.put_json("provenance_meta", document)
        writer.put_bytes("pipeline.py", "def f():\n    return 'ü'\n")
        writer.put_bytes("blob", b"\x00\xff")
    run = store.open_run(writer.run_id)
    assert run.json("provenance_meta") == {
        "metrics": {"auc": 0.75},
        "ids": [0, 1, 2],
        "nested": [None, "x"],
    }
    assert run.text("pipeline.py") == "def f():\n    return 'ü'\n"
    assert run.bytes("blob") == b"\x00\xff"


def test_a_shared_json_document_is_parsed_once_per_content(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_json("index", {"v": 1})
        first = writer.json("index", shared=True)
        assert writer.json("index", shared=True) is first
        assert writer.json("index") == first and writer.json("index") is not first
        writer.put_json("index", {"v": 2})  # new content, new parse
        assert writer.json("index", shared=True) == {"v": 2} and first == {"v": 1}


def test_sklearn_round_trips_through_skops(store: Store) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.DataFrame({"c": ["x", "y", "x", "z"], "v": [1.0, 2.0, 3.0, 4.0]})
    encoders = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["c"]),
            ("scale", StandardScaler(), ["v"]),
        ]
    )
    model = Pipeline([("encode", encoders), ("learn", LogisticRegression())]).fit(
        frame, [0, 1, 0, 1]
    )
    with store.new_run("p") as writer:
        writer.put_sklearn("model", model)
    loaded = store.open_run(writer.run_id).sklearn("model")
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    assert store.open_run(writer.run_id).artifact("model").parts[0].path.endswith(".skops")


class Homemade:
    """A type skops will not trust."""


def test_sklearn_refuses_untrusted_types(store: Store) -> None:
    with store.new_run("p") as writer, pytest.raises(UntrustedTypeError, match="Homemade"):
        writer.put_sklearn("bad", {"x": Homemade()})


def test_torch_state_dict_round_trips_and_rebuilds(store: Store) -> None:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2)
    module = {"class": "torch.nn.Linear", "kwargs": {"in_features": 4, "out_features": 2}}
    with store.new_run("p") as writer:
        writer.put_torch("model/weights", net.state_dict(), module=module)
    run = store.open_run(writer.run_id)
    state = run.torch("model/weights")
    assert set(state) == {"weight", "bias"}
    assert all(torch.equal(state[key], value) for key, value in net.state_dict().items())
    assert run.torch_spec("model/weights")["tensors"]["weight"]["shape"] == [2, 4]
    rebuilt = run.torch_module("model/weights")
    sample = torch.ones(1, 4)
    assert torch.equal(rebuilt(sample), net(sample))
    files = [part.path for part in run.artifact("model/weights").parts]
    assert files[0].endswith(".safetensors") and files[1].endswith(".json")


def test_reading_a_missing_or_wrong_kind_artifact_is_a_clear_error(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_json("doc", {})
    run = store.open_run(writer.run_id)
    with pytest.raises(UnknownArtifactError, match=r"no artifact 'X'.*\['doc'\]"):
        run.matrix("X")
    with pytest.raises(ArtifactKindError, match="is a json, not a matrix"):
        run.matrix("doc")


@pytest.mark.parametrize("name", ["", "../x", "a//b", "/abs", "a/./b", "x#1", "sp ace"])
def test_invalid_artifact_names_are_refused(store: Store, name: str) -> None:
    with store.new_run("p") as writer, pytest.raises(StoreError, match="invalid artifact name"):
        writer.put_json(name, 1)


def test_object_arrays_are_refused(store: Store) -> None:
    with store.new_run("p") as writer, pytest.raises(StoreError, match="dtype object"):
        writer.put_matrix("X", np.array([{"a": 1}], dtype=object))


def test_identical_content_is_stored_once(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_matrix("a", np.zeros((10, 2)), chunk_rows=5)
        writer.put_matrix("b", np.zeros((10, 2)), chunk_rows=5)
    run = store.open_run(writer.run_id)
    paths = {chunk.file.path for name in ("a", "b") for chunk in run.chunks(name)}
    assert len(paths) == 1


def test_chunks_read_twice_are_shared_read_only_and_public_reads_are_writable(store: Store) -> None:
    """A view caches decoded chunks (an update reads rows, then rewrites their chunks): a
    caller that changes what it got must not change what the next caller reads."""
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.arange(12, dtype=np.float32).reshape(6, 2), chunk_rows=2)
        writer.put_matrix("y", np.arange(3))
    run = store.open_run(writer.run_id)
    chunk = run.matrix_chunk("X", 1)
    assert chunk is run.matrix_chunk("X", 1) and not chunk.flags.writeable
    for got in (run.matrix("y"), run.matrix_rows("X", 2, 4), run.matrix("X")):
        got[...] = -1  # writable copies
    assert run.matrix("y").tolist() == [0, 1, 2]
    assert run.matrix_rows("X", 2, 4).tolist() == [[4.0, 5.0], [6.0, 7.0]]
