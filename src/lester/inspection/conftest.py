"""Doctest fixtures: a ``store`` with one small captured run ``run_id`` (customers joined
to their mails; the pipeline drops the customers' ``channel`` and derives the label from
their ``level``; a logistic regression)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

PIPELINE = """
import lester as lt
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def _lester_dataprep(customers_path, mails_path):
    customers = lt.read_csv(customers_path, primary_key="customer_id")
    customers = customers.filter("country != 'US'")
    customers = customers.project("is_premium", ["level"], lambda row: row["level"] == "premium")
    mails = lt.read_csv(mails_path, primary_key="mail_id")
    merged = lt.join(mails, customers, on="email")
    return merged[["country", "score", "is_premium"]]


def encode_features():
    return ColumnTransformer([
        ("country", OneHotEncoder(handle_unknown="ignore"), ["country"]),
        ("score", StandardScaler(), ["score"]),
    ])


def extract_label(df):
    return df["is_premium"].astype(int).to_numpy()


def create_model(num_features):
    return LogisticRegression()
"""


@pytest.fixture(scope="session")
def _inspected_run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    from lester.runner import run
    from lester.store import Store

    folder = tmp_path_factory.mktemp("inspect-doctest")
    rng = np.random.default_rng(3)
    customers = pd.DataFrame(
        {
            "customer_id": range(40),
            "email": [f"c{i}@x.test" for i in range(40)],
            "channel": rng.choice(["direct", "third_party"], 40),
            "country": rng.choice(["DE", "FR", "UK", "US"], 40),
            "level": rng.choice(["premium", "basic"], 40),
        }
    )
    owners = rng.integers(0, 40, 160)
    mails = pd.DataFrame(
        {
            "mail_id": [f"M{i}" for i in range(160)],
            "email": [f"c{i}@x.test" for i in owners],
            "score": rng.normal(size=160) + (customers["level"].to_numpy()[owners] == "premium"),
        }
    )
    customers.to_csv(folder / "customers.csv", index=False)
    mails.to_csv(folder / "mails.csv", index=False)
    (folder / "pipeline.py").write_text(PIPELINE, encoding="utf-8")
    store = Store(folder / ".lester")
    sources = {"customers": folder / "customers.csv", "mails": folder / "mails.csv"}
    result = run(folder / "pipeline.py", sources, store=store, seed=1, quiet=True)
    return store, result.run_id


@pytest.fixture(autouse=True)
def _doctest_run(doctest_namespace: dict, _inspected_run: tuple) -> None:
    doctest_namespace["store"], doctest_namespace["run_id"] = _inspected_run
