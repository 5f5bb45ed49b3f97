"""Train/test leakage against the leave-one-out ground truth of re-running the plan."""

from __future__ import annotations

import pytest
from tests.inspection.conftest import capture

import lester as lt

MAILS_ONLY = """
import lester as lt
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def _lester_dataprep(customers_path, mails_path):
    mails = lt.read_csv(mails_path, primary_key="mail_id")
    customers = lt.read_csv(customers_path, primary_key="customer_id")
    return mails.filter("score > -1.5")[["score", "email"]]


def encode_features():
    return ColumnTransformer([("score", StandardScaler(), ["score"])])


def extract_label(df):
    return (df["score"] > 0.5).astype(int).to_numpy()


def create_model(num_features):
    return LogisticRegression()
"""


def test_shared_tuples_are_those_that_feed_both_splits(captured, tuple_rows):
    report = lt.inspect.leakage(captured.run_id, captured.store)
    assert report.leaks
    for source, truth in tuple_rows.items():
        both = truth[(truth["train_rows"] > 0) & (truth["test_rows"] > 0)]
        shared = report.sources[source].set_index("key")
        assert sorted(shared.index) == sorted(both["key"])
        for row in both.itertuples(index=False):
            assert shared.loc[row.key, "train_rows"] == row.train_rows
            assert shared.loc[row.key, "test_rows"] == row.test_rows
        summary = report.summary()[source]
        assert summary["shared_tuples"] == len(both)
        assert summary["train_rows"] == both["train_rows"].sum()


def test_customers_leak_through_the_join_and_mails_do_not(captured, tuple_rows):
    report = lt.inspect.leakage(captured.run_id, captured.store)
    assert len(report.sources["customers"]) > 0
    assert report.sources["mails"].empty  # a mail feeds at most one row
    totals = report.sources["customers"][["train_rows", "test_rows"]].sum(axis=1).tolist()
    assert totals == sorted(totals, reverse=True)


@pytest.fixture(scope="module")
def without_join(tmp_path_factory):
    return capture(tmp_path_factory.mktemp("no-join"), MAILS_ONLY)


def test_a_pipeline_without_join_does_not_leak(without_join):
    report = lt.inspect.leakage(without_join.run_id, without_join.store)
    assert not report.leaks
    assert report.summary()["mails"]["shared_tuples"] == 0
