"""The forgotten-value scan reads every byte, including compressed containers."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import OneHotEncoder

from lester.maintenance.scan import memorised_values, scan_files

SECRET = "4111 2222 3333 4444"


def test_finds_a_value_in_plain_files_and_reports_the_file(tmp_path):
    (tmp_path / "log.txt").write_text(f"subject: my card is {SECRET}\n")
    (tmp_path / "clean.txt").write_text("nothing here\n")
    result = scan_files(tmp_path, [SECRET])
    assert result.found == [("log.txt", 0)]
    assert result.files == 2


def test_finds_a_value_inside_compressed_parquet(tmp_path):
    # A near-duplicate first: the compressor then stores the secret as a back-reference.
    near = [f"card {SECRET[:-1]}{digit}" for digit in "0123"]
    frame = pd.DataFrame({"title": [*near, f"card {SECRET}"] + ["filler text"] * 5000})
    frame.to_parquet(tmp_path / "data.parquet", compression="zstd")
    assert SECRET.encode() not in (tmp_path / "data.parquet").read_bytes()  # hidden by zstd
    assert scan_files(tmp_path, [SECRET]).found == [("data.parquet", 0)]


def test_arrow_chunks_are_searched_raw_and_a_hit_across_two_cells_is_no_hit(tmp_path):
    """The store's tables are uncompressed Arrow IPC: strings sit back to back in one buffer,
    so a raw hit must be confirmed cell by cell; elsewhere in the file (the schema, pandas
    metadata, a dictionary) a raw hit counts."""
    split = len(SECRET) // 2
    across = pd.DataFrame({"title": [f"x {SECRET[:split]}", f"{SECRET[split:]} y", "z"]})
    assert SECRET.encode() in _arrow_bytes(across)  # the raw bytes hold it, no cell does
    (tmp_path / "across.arrow").write_bytes(_arrow_bytes(across))
    (tmp_path / "cell.arrow").write_bytes(_arrow_bytes(pd.DataFrame({"t": [f"a {SECRET} b"]})))
    named = pd.DataFrame({SECRET: [1, 2]})  # a one-hot feature name, say
    (tmp_path / "schema.arrow").write_bytes(_arrow_bytes(named))
    category = pd.DataFrame({"c": pd.Categorical(["ok", SECRET, "ok"])})
    (tmp_path / "dictionary.arrow").write_bytes(_arrow_bytes(category))
    assert sorted(scan_files(tmp_path, [SECRET]).found) == [
        ("cell.arrow", 0), ("dictionary.arrow", 0), ("schema.arrow", 0)
    ]  # fmt: skip


def _arrow_bytes(frame: pd.DataFrame) -> bytes:
    from lester.store.codecs import TABLE

    return TABLE.encode(TABLE.prepare(frame)[0])


def test_finds_a_value_inside_a_zip_archive(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", ("x" * 1000) + SECRET)
    (tmp_path / "encoder.skops").write_bytes(buffer.getvalue())
    assert scan_files(tmp_path, [SECRET]).found == [("encoder.skops", 0)]


def test_short_values_are_reported_as_not_checkable(tmp_path):
    (tmp_path / "a.txt").write_text("DE FR UK")
    result = scan_files(tmp_path, ["DE", SECRET])
    assert result.clean and result.too_short == 1 and result.checked == 1


def test_memorised_values_in_vocabularies_and_categories():
    vectorizer = CountVectorizer().fit(["secretword appears", "other text"])
    encoder = OneHotEncoder().fit(np.array([["leaked-value"], ["fine"]]))
    (path,) = memorised_values(vectorizer, ["secretword"])
    assert path.startswith("encoders.vocabulary_[entry ") and "secretword" not in path
    assert memorised_values(encoder, ["leaked-value"]) == ["encoders.categories_[0]"]
    assert memorised_values(encoder, ["absent"]) == []


def test_a_value_kept_rows_hold_inside_a_longer_cell_is_no_leak(tmp_path):
    """The scan searches substrings: a forgotten subject that is part of a kept subject is
    found in the kept row's files, which is no leak; a value only a forgotten row held is."""
    import pytest

    from lester.maintenance.updates import ForgottenValueFoundError, _scan
    from lester.store import Store

    store = Store(tmp_path / "store")
    kept = pd.DataFrame({"title": ["question about fees", "refund please"]})
    with store.new_run("p") as writer:
        writer.put_table("train/data", kept)
        writer.put_table("test/data", kept.iloc[:0])
    run_id = writer.run_id

    assert _scan(store, ["question about"], [run_id]).clean  # inside a kept cell
    with pytest.raises(ForgottenValueFoundError):
        _scan(store, ["question about"])  # without kept rows to excuse it
    with pytest.raises(ForgottenValueFoundError):  # kept rows not counted: still a leak
        _scan(store, ["question about"], [run_id], {run_id: {"train": [0]}})
