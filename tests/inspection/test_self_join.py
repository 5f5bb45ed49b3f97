"""A self-join: each mail row carries its customer and that customer's referrer, both tuples
of ``customers``. Usage counts a row once per tuple whatever occurrence it feeds, and a
fairness group counts every row that any of its customers feeds (a row whose customer and
referrer are in different groups counts in both). Ground truth: re-running the plan without
one customer, or without all customers of a group, and counting the rows that disappear."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.inspection.conftest import PIPELINE, capture, customers_frame, mails_frame

import lester as lt

SELF_JOIN = PIPELINE.replace(
    """    customers = customers.filter("country != 'US'")
""",
    """    referrers = customers[["customer_id", "country"]].rename(
        columns={"customer_id": "referrer_id", "country": "referrer_country"}
    )
    customers = customers.filter("country != 'US'")
""",
).replace(
    """    merged = lt.join(mails, customers, on="email")
""",
    """    merged = lt.join(mails, customers, on="email")
    merged = lt.join(merged, referrers, on="referrer_id")
""",
)


@pytest.fixture(scope="module")
def referred(tmp_path_factory):
    customers = customers_frame()
    rng = np.random.default_rng(9)
    customers["referrer_id"] = rng.choice(customers["customer_id"], len(customers))
    return capture(
        tmp_path_factory.mktemp("self-join"), SELF_JOIN, customers, mails_frame(customers)
    )


def test_the_plan_joins_customers_twice(referred):
    slots = referred.store.open_run(referred.run_id).json("provenance")["slots"]["test"]
    assert [source for _, source in slots].count("customers") == 2


def vanishing_rows(referred, kept_customers: pd.DataFrame) -> tuple[int, int]:
    full_train, full_test = referred.rerun(referred.customers, referred.mails)
    train, test = referred.rerun(kept_customers, referred.mails)
    return len(full_train) - len(train), len(full_test) - len(test)


def test_usage_counts_each_row_once_per_customer(referred):
    usage = lt.inspect.usage(referred).sources["customers"]
    customers = referred.customers
    for position, key in enumerate(customers["customer_id"]):
        train, test = vanishing_rows(referred, customers[customers["customer_id"] != key])
        assert (usage.train_rows[position], usage.test_rows[position]) == (train, test), key


def test_a_row_of_two_groups_counts_in_both(referred):
    report = lt.inspect.fairness(referred, group="customers.channel", metric="accuracy")
    customers = referred.customers
    n_test = referred.store.open_run(referred.run_id).n_rows("test/data")
    rows = {}
    for channel in ("direct", "third_party"):
        _, rows[channel] = vanishing_rows(referred, customers[customers["channel"] != channel])
    assert report.table.set_index("group")["rows"].to_dict() == rows
    assert report.ambiguous_rows == sum(rows.values()) - n_test > 0
