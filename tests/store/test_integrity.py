"""Checksums, failed writes and unusable roots."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from lester.errors import LesterError
from lester.store import Dependency, IntegrityError, Store, StoreError, UnknownRunError
from lester.store.manifest import Manifest

from .conftest import run_files


def _run_with_matrix(store: Store) -> str:
    with store.new_run("p") as writer:
        writer.put_matrix("X", np.arange(40, dtype=np.float32).reshape(20, 2), chunk_rows=8)
        writer.put_json("doc", {"a": 1})
    return writer.run_id


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("mmap", [False, True])
def test_corrupted_chunk_is_an_integrity_error_naming_the_file(store: Store, mmap: bool) -> None:
    run_id = _run_with_matrix(store)
    chunk = store.open_run(run_id).chunks("X")[1]
    path = store.run_path(run_id) / chunk.file.path
    _flip_a_byte(path)
    run = store.open_run(run_id)
    run.matrix_rows("X", 0, 8)  # chunk 0 is intact
    with pytest.raises(IntegrityError, match=str(path)) as caught:
        run.matrix("X", mmap=mmap)
    assert isinstance(caught.value, LesterError)
    with pytest.raises(IntegrityError, match=str(path)):
        store.verify(run_id)


@pytest.mark.parametrize("change", [b"extra", b""])
def test_a_chunk_grown_or_cut_short_is_an_integrity_error(store: Store, change: bytes) -> None:
    """Chunks are read with the size the manifest records: a longer file is still read whole
    (and rejected), a shorter one too."""
    run_id = _run_with_matrix(store)
    path = store.run_path(run_id) / store.open_run(run_id).chunks("X")[1].file.path
    data = path.read_bytes()
    path.write_bytes(data + change if change else data[:-1])
    with pytest.raises(IntegrityError, match="corrupt"):
        store.open_run(run_id).matrix("X")


def test_corrupted_manifest_and_missing_file_are_integrity_errors(store: Store) -> None:
    run_id = _run_with_matrix(store)
    run = store.open_run(run_id)
    doc = store.run_path(run_id) / run.artifact("doc").parts[0].path
    doc.unlink()
    with pytest.raises(IntegrityError, match=f"{doc} .*is missing"):
        store.open_run(run_id).json("doc")
    manifest = store.run_path(run_id) / "manifest.v000001.json"
    document = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**document, "note": "x"}))  # valid JSON, other content
    with pytest.raises(IntegrityError, match=f"manifest {manifest} .*is corrupt"):
        store.open_run(run_id)


def test_a_manifest_is_parsed_once_per_store_and_checked_at_every_open(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run_with_matrix(store)
    parses = []
    parse = Manifest.from_bytes.__func__

    def counting(cls, data: bytes) -> Manifest:
        parses.append(len(data))
        return parse(cls, data)

    monkeypatch.setattr(Manifest, "from_bytes", classmethod(counting))
    first, second = store.open_run(run_id), store.open_run(run_id)
    with store.update_run(run_id) as update:
        update.put_json("doc", {"a": 2})

    assert len(parses) == 1 and first.manifest is second.manifest is update.base
    # The committed version is the writer's own manifest: no parse in this store...
    assert store.open_run(run_id).manifest is update.manifest and len(parses) == 1
    assert store.open_run(run_id).json("doc") == {"a": 2}
    # ...and one in another
    assert Store(store.root).open_run(run_id).version == 2 and len(parses) == 2
    manifest = store.run_path(run_id) / "manifest.v000002.json"
    _flip_a_byte(manifest)
    with pytest.raises(IntegrityError, match="is corrupt"):
        store.open_run(run_id)  # parsed before, but its bytes are checked again


def test_verify_counts_checked_files(store: Store) -> None:
    run_id = _run_with_matrix(store)
    assert store.verify(run_id) == 3 + 1 + 1  # three chunks, the document, the manifest
    assert store.verify() == 5


def test_failing_new_run_leaves_no_folder_and_no_catalog_row(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.new_run("p") as writer:
        writer.put_matrix("X", np.ones((100, 3)), chunk_rows=10)
        writer.set_catalog(metrics={"auc": 1.0})
        raise RuntimeError("boom")
    assert store.runs() == []
    assert not store.run_path(writer.run_id).exists()
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.runs_dir.iterdir()) == []
    with pytest.raises(UnknownRunError):
        store.open_run(writer.run_id)


def test_failing_catalog_insert_removes_the_moved_run_folder(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown source"), store.new_run("p") as writer:
        writer.put_json("doc", 1)
        # Bypass set_catalog's own check so that the catalog insert itself fails.
        writer._lineage["dependencies"] = [Dependency("nope", "c", "doc")]
    assert store.runs() == [] and list(store.runs_dir.iterdir()) == []


def test_written_files_are_complete_and_checksummed(store: Store) -> None:
    run_id = _run_with_matrix(store)
    manifest = json.loads((store.run_path(run_id) / "manifest.v000001.json").read_text())
    assert manifest["version"] == 1 and manifest["parent_version"] is None
    assert set(manifest) >= {"version", "artifacts", "created", "parent_version", "note"}
    objects = []  # (path, sha256, size) from the manifest's parallel arrays
    for artifact in manifest["artifacts"].values():
        exts = artifact["ext"]
        exts = [exts] * len(artifact["sha256"]) if isinstance(exts, str) else exts
        for digest, size, ext in zip(artifact["sha256"], artifact["size"], exts, strict=True):
            objects.append((f"objects/{digest[:2]}/{digest}.{ext}", digest, size))
    assert run_files(store, run_id) == {"manifest.v000001.json"} | {p for p, _, _ in objects}
    for path, digest, size in objects:
        content = (store.run_path(run_id) / path).read_bytes()
        assert len(content) == size and hashlib.sha256(content).hexdigest() == digest


def test_root_under_a_regular_file_is_a_store_error_and_creates_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=str(blocker)):
        Store(blocker / "store")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["afile"]
    with pytest.raises(StoreError, match="not a directory"):
        Store(blocker)


def test_root_inside_an_unwritable_folder_is_a_store_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permission bits do not stop writes")
        with pytest.raises(StoreError, match=str(locked)):
            Store(locked / "store")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_default_root_is_dot_lester_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store()
    assert store.root == tmp_path / ".lester"
    assert (tmp_path / ".lester" / "catalog.sqlite").is_file()


def test_invalid_pipeline_name_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="invalid pipeline name"):
        store.new_run("../evil")


def test_manifests_of_format_1_are_still_read() -> None:
    """Stores written before the compact manifest (a ``files`` map of entries) stay readable."""
    from lester.store.manifest import Manifest

    entry = {"path": "objects/ab/abcd.npy", "sha256": "abcd", "size": 7}
    old = {
        "format": 1, "run_id": "r", "version": 2, "parent_version": 1, "created": "t",
        "note": "n", "files": {"X#00000": entry},
        "artifacts": {"X": {"kind": "matrix", "files": ["X#00000"], "rows": [3], "attrs": {}}},
    }  # fmt: skip
    manifest = Manifest.from_bytes(json.dumps(old).encode())
    assert manifest.artifacts["X"].parts[0] == ("objects/ab/abcd.npy", "abcd", 7)
    again = json.loads(manifest.to_bytes())
    assert again["format"] == 2 and again["artifacts"]["X"]["sha256"] == ["abcd"]


def test_skops_types_kept_in_the_manifest_are_still_enforced(store: Store) -> None:
    """The trusted-type list stored with an encoder spares an audit pass at load; a list
    naming an untrusted type, or lacking one the data holds, is refused."""
    from lester.features.scaling import SampleStandardScaler
    from lester.store.codecs import decode_skops, encode_skops
    from lester.store.errors import UntrustedTypeError

    encoder = SampleStandardScaler().fit([[1.0], [3.0]])
    with store.new_run("p") as writer:
        writer.put_sklearn("encoder", encoder)
    run = store.open_run(writer.run_id)
    types = run.artifact("encoder").attrs["trusted_types"]
    assert types and run.sklearn("encoder").mean_.tolist() == [2.0]
    data, _ = encode_skops(encoder)
    with pytest.raises(UntrustedTypeError, match=r"os\.system"):
        decode_skops(data, [*types, "os.system"])
    with pytest.raises(UntrustedTypeError, match="not stored with"):
        decode_skops(data, [])  # lacks the type the data holds


def test_table_chunks_written_as_parquet_are_still_read() -> None:
    """Stores written before tables became Arrow IPC hold Parquet chunks."""
    import io

    import pandas as pd

    from lester.store.codecs import TABLE

    frame = pd.DataFrame({"id": [1, 2], "name": ["a", None]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    assert TABLE.decode(buffer.getvalue()).to_pandas().equals(frame)
    assert TABLE.decode(buffer.getvalue(), columns=["name"]).column_names == ["name"]
    assert TABLE.decode(TABLE.encode(TABLE.prepare(frame)[0])).to_pandas().equals(frame)
