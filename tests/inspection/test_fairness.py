"""Group fairness (task T1) against a ground truth computed without provenance: the plan is
re-run on the customers of one group only, its test (or train) rows are encoded and
predicted with the run's stored encoders and model, and the metric is computed with numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.inspection.conftest import PIPELINE, capture

import lester as lt
from lester.errors import UnknownColumnError
from lester.inspection import InspectionError


def expected_metric(captured, column: str, value: object, metric: str, split: str) -> tuple:
    """(rows, metric) of the group ``customers.column == value``, by re-running the plan."""
    customers = captured.customers[captured.customers[column] == value]
    train, test = captured.rerun(customers, captured.mails)
    rows = test if split == "test" else train
    run = captured.store.open_run(captured.run_id)
    predictions = run.sklearn("model").predict(run.sklearn("encoders").transform(rows))
    labels = captured.pipeline.extract_label(rows)
    if metric == "accuracy":
        value = np.mean(predictions == labels)
    elif metric == "demographic_parity":
        value = np.mean(predictions == 1)
    else:
        value = np.mean(predictions[labels == 1] == 1) if (labels == 1).any() else np.nan
    return len(rows), value


@pytest.mark.parametrize("metric", ["equal_opportunity", "demographic_parity", "accuracy"])
@pytest.mark.parametrize("column", ["channel", "country"])
def test_metric_per_group_matches_rerunning_the_plan_per_group(captured, metric, column):
    report = lt.inspect.fairness(
        captured.run_id, captured.store, group=f"customers.{column}", metric=metric
    )
    groups = report.table.set_index("group")
    kept = captured.customers[captured.customers["country"] != "US"]
    assert sorted(groups.index) == sorted(kept[column].unique())
    expected = {}
    for value in groups.index:
        rows, expected[value] = expected_metric(captured, column, value, metric, "test")
        assert groups.loc[value, "rows"] == rows
        np.testing.assert_allclose(groups.loc[value, "value"], expected[value])
    defined = [v for v in expected.values() if not np.isnan(v)]
    np.testing.assert_allclose(report.difference, max(defined) - min(defined))
    assert report.ambiguous_rows == 0 and report.positive == 1


def test_the_group_column_is_one_the_pipeline_projected_away(captured):
    data = captured.store.open_run(captured.run_id).table("test/data")
    assert "channel" not in data.columns
    report = lt.inspect.fairness(captured, group="customers.channel", metric="accuracy")
    assert report.table["rows"].sum() == len(data)


def test_groups_differ_in_the_fixture(captured):
    report = lt.inspect.fairness(captured, group="customers.country", metric="accuracy")
    assert report.difference > 0


def test_train_split_uses_the_stored_model_on_the_training_rows(captured):
    report = lt.inspect.fairness(
        captured, group="customers.channel", metric="demographic_parity", split="train"
    )
    for row in report.table.itertuples(index=False):
        rows, value = expected_metric(captured, "channel", row.group, "demographic_parity", "train")
        assert row.rows == rows
        np.testing.assert_allclose(row.value, value)


def test_group_of_a_mail_column(captured):
    report = lt.inspect.fairness(captured, group="mails.email", metric="accuracy")
    data = captured.store.open_run(captured.run_id).table("test/data")
    assert report.table["rows"].sum() == len(data)
    assert len(report.table) > 5  # one group per customer address with test rows


def test_a_changed_keyed_source_is_matched_by_key_with_a_warning(tmp_path):
    run = capture(tmp_path / "changed")
    path = tmp_path / "changed" / "customers.csv"
    before = lt.inspect.fairness(run, group="customers.channel", metric="accuracy").table
    run.customers.iloc[::-1].to_csv(path, index=False)  # same tuples, other order
    after = lt.inspect.fairness(run, group="customers.channel", metric="accuracy")
    assert after.warnings and "changed since the run" in after.warnings[0]
    assert after.table.equals(before)


@pytest.mark.parametrize(
    ("group", "error", "named"),
    [
        ("customers.age", UnknownColumnError, "'channel'"),
        ("accounts.age", InspectionError, "'customers'"),
        ("channel", InspectionError, "SOURCE.COLUMN"),
    ],
)
def test_bad_groups_name_what_exists(captured, group, error, named):
    with pytest.raises(error, match=named):
        lt.inspect.fairness(captured, group=group)


def test_bad_metric_split_and_positive_class(captured):
    with pytest.raises(InspectionError, match="accuracy"):
        lt.inspect.fairness(captured, group="customers.channel", metric="f1")
    with pytest.raises(InspectionError, match="'train' or 'test'"):
        lt.inspect.fairness(captured, group="customers.channel", split="validation")
    with pytest.raises(InspectionError, match="classes are"):
        lt.inspect.fairness(captured, group="customers.channel", positive="7")


def test_unknown_run_and_missing_store(captured, tmp_path):
    with pytest.raises(lt.LesterError, match="unknown run"):
        lt.inspect.usage("nope", captured.store)
    with pytest.raises(InspectionError, match="no store"):
        lt.inspect.usage("latest", tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


ROW_NUMBER_MAILS = PIPELINE.replace(
    'lt.read_csv(mails_path, primary_key="mail_id")', "lt.read_csv(mails_path)"
)


@pytest.fixture(scope="module")
def row_numbered(tmp_path_factory):
    return capture(tmp_path_factory.mktemp("row-numbers"), ROW_NUMBER_MAILS)


def test_a_source_without_key_is_looked_up_by_row_number(row_numbered):
    """Ground truth with plain pandas: a test row's score is unique, so it names its mail."""
    run = row_numbered.store.open_run(row_numbered.run_id)
    data = run.table("test/data").assign(
        label=run.matrix("test/y"), prediction=run.matrix("test/predictions")
    )
    mails = pd.read_csv(row_numbered.folder / "mails.csv")
    assert mails["score"].is_unique
    rows = data.merge(mails[["score", "email"]], on="score")  # the group column: mails.email
    assert len(rows) == len(data)
    report = lt.inspect.fairness(row_numbered, group="mails.email", metric="accuracy")
    assert report.table["rows"].sum() == len(data)
    by_email = rows.groupby("email").apply(lambda g: (g["label"] == g["prediction"]).mean())
    table = report.table.set_index("group")["value"]
    pd.testing.assert_series_equal(
        table.sort_index(), by_email.sort_index(), check_names=False, check_index_type=False
    )


def test_a_changed_source_without_key_is_an_error(row_numbered):
    path = row_numbered.folder / "mails.csv"
    original = path.read_bytes()
    try:
        row_numbered.mails.iloc[::-1].to_csv(path, index=False)
        with pytest.raises(InspectionError, match="identified by row number"):
            lt.inspect.fairness(row_numbered, group="mails.email")
    finally:
        path.write_bytes(original)
