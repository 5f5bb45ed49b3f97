"""Finding affected runs, artifacts and row counts."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import lester as lt
from lester.errors import UnknownKeyError
from lester.maintenance import find_affected


def test_runs_are_found_by_source_name_path_and_content(captured, tmp_path):
    store, run_id, customers_path, _, _ = captured
    copy = tmp_path / "moved.csv"
    shutil.copy(customers_path, copy)

    by_name = find_affected(store, "customers")
    by_path = find_affected(store, str(customers_path))
    by_content = find_affected(store, str(copy))

    assert [i.run_id for i in by_name] == [run_id]
    assert [(i.run_id, i.matched_by) for i in by_path] == [(run_id, "path")]
    assert [(i.run_id, i.matched_by) for i in by_content] == [(run_id, "sha256")]


def test_column_filter_names_the_artifacts_and_x_ranges(captured):
    store, _run_id, *_ = captured
    (impact,) = find_affected(store, "mails", column="subject")
    artifacts = {a.artifact: a.parts for a in impact.artifacts}

    assert artifacts["train/data"] == ("title",)
    assert artifacts["train/X"] == ("X[0:1]",)  # the title length block
    assert "model" in artifacts
    assert "train/y" not in artifacts  # the label does not read the subject


def test_a_column_no_artifact_reads_affects_nothing(captured):
    store, *_ = captured
    assert find_affected(store, "customers", column="no_such_column") == []
    assert find_affected(store, "unknown_source") == []


def test_row_counts_equal_an_independent_count(captured):
    store, _run_id, customers_path, mails_path, _ = captured
    customers, mails = pd.read_csv(customers_path), pd.read_csv(mails_path)
    chosen = customers[customers["country"] == "DE"]["customer_id"].head(3).tolist()
    emails = customers.set_index("customer_id").loc[chosen, "email"]
    expected = int(mails["email"].isin(emails).sum())

    (impact,) = find_affected(store, "customers", keys=chosen)

    assert impact.rows["train"] + impact.rows["test"] == expected
    model = next(a for a in impact.artifacts if a.artifact == "model")
    assert model.rows == impact.rows["train"]


def test_where_selects_like_keys(captured):
    store, _run_id, customers_path, *_ = captured
    customers = pd.read_csv(customers_path)
    german = customers[customers["country"] == "DE"]["customer_id"].tolist()

    (by_keys,) = find_affected(store, "customers", keys=german)
    (by_where,) = find_affected(store, "customers", where="country == 'DE'")

    assert by_keys.rows == by_where.rows
    assert sum(by_keys.rows.values()) > 0


def test_unknown_keys_are_an_error(captured):
    store, *_ = captured
    with pytest.raises(UnknownKeyError, match="C9999"):
        find_affected(store, "customers", keys=["C9999"])


def test_affected_rows_match_the_frame_provenance(captured):
    store, _run_id, customers_path, mails_path, pipeline_path = captured
    prepared = lt.load_pipeline(pipeline_path).dataprep(customers_path, mails_path)
    key = prepared.source_keys("customers")[0]
    (impact,) = find_affected(store, "customers", keys=[key])
    assert impact.rows["train"] + impact.rows["test"] == len(prepared.rows_from("customers", [key]))
