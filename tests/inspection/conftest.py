"""A small captured run for the inspection tests, and the ground truth they compare with.

Customers (with a ``channel`` the pipeline projects away) are joined to their mails, so a
customer with several mails feeds training and test rows alike. The ground truth re-runs the
pipeline's data preparation and split on sources written without some tuples: a row derives
from a tuple exactly when it disappears with it (the plan only filters, projects and joins),
and each row keeps its split side because the side is a hash of the row's provenance.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lester.pipeline import Pipeline, load_pipeline
from lester.runner import run
from lester.store import Store

SEED, TEST_SIZE = 5, 0.3

PIPELINE = """
import lester as lt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def _lester_dataprep(customers_path, mails_path):
    customers = lt.read_csv(customers_path, primary_key="customer_id")
    customers = customers.filter("country != 'US'")
    customers = customers.project("is_premium", ["level"], lambda row: row["level"] == "premium")
    mails = lt.read_csv(mails_path, primary_key="mail_id")
    mails = mails.filter("score > -1.5")
    merged = lt.join(mails, customers, on="email")
    merged = merged.project("title", ["subject"], lambda row: row["subject"].lower())
    return merged[["title", "country", "score", "is_premium"]]


def _length(frame):
    return frame.iloc[:, 0].str.len().to_numpy(dtype=float).reshape(-1, 1)


def encode_features():
    length = FunctionTransformer(_length, feature_names_out="one-to-one")
    return ColumnTransformer([
        ("title_length", make_pipeline(length, StandardScaler()), ["title"]),
        ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["country"]),
        ("score", StandardScaler(), ["score"]),
    ])


def extract_label(df):
    return df["is_premium"].astype(int).to_numpy()


def create_model(num_features):
    return LogisticRegression(C=0.5)
"""


def customers_frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "email": [f"user{i}@mail.test" for i in range(n)],
            "channel": rng.choice(["direct", "third_party"], n),
            "country": rng.choice(["DE", "FR", "UK", "US"], n, p=[0.3, 0.3, 0.3, 0.1]),
            "level": rng.choice(["premium", "basic"], n),
        }
    )


def mails_frame(customers: pd.DataFrame, n: int = 90, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    owners = rng.integers(0, len(customers), n)
    premium = customers["level"].to_numpy()[owners] == "premium"
    return pd.DataFrame(
        {
            "mail_id": [f"M{i:04d}" for i in range(n)],
            "email": customers["email"].to_numpy()[owners],
            "subject": [f"Question {'x' * int(k)}" for k in rng.integers(1, 30, n)],
            "score": rng.normal(size=n) + 1.5 * premium,
        }
    )


@dataclass
class Captured:
    """A real run in a real store, with its source frames and pipeline."""

    store: Store
    run_id: str
    customers: pd.DataFrame
    mails: pd.DataFrame
    pipeline: Pipeline
    folder: Path

    def rerun(self, customers: pd.DataFrame, mails: pd.DataFrame) -> tuple:
        """The pipeline's train and test frames on these sources (written as files)."""
        folder = self.folder / "rerun"
        folder.mkdir(exist_ok=True)
        customers.to_csv(folder / "customers.csv", index=False)
        mails.to_csv(folder / "mails.csv", index=False)
        prepared = self.pipeline.dataprep(
            customers_path=str(folder / "customers.csv"), mails_path=str(folder / "mails.csv")
        )
        train, test = prepared.split(test_size=TEST_SIZE, seed=SEED)
        return train.to_pandas(), test.to_pandas()

    def rows_without(self, source: str, key: object) -> tuple[int, int]:
        """Train and test rows of the pipeline on the sources without one tuple."""
        customers, mails = self.customers, self.mails
        if source == "customers":
            customers = customers[customers["customer_id"] != key]
        else:
            mails = mails[mails["mail_id"] != key]
        train, test = self.rerun(customers, mails)
        return len(train), len(test)


def capture(folder: Path, code: str = PIPELINE, customers=None, mails=None) -> Captured:
    folder.mkdir(parents=True, exist_ok=True)
    customers = customers_frame() if customers is None else customers
    mails = mails_frame(customers) if mails is None else mails
    customers.to_csv(folder / "customers.csv", index=False)
    mails.to_csv(folder / "mails.csv", index=False)
    path = folder / "mailing.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    store = Store(folder / "store")
    sources = {"customers": folder / "customers.csv", "mails": folder / "mails.csv"}
    result = run(path, sources, store=store, seed=SEED, test_size=TEST_SIZE, quiet=True)
    return Captured(store, result.run_id, customers, mails, load_pipeline(path), folder)


@pytest.fixture(scope="session")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    return capture(tmp_path_factory.mktemp("inspect"))


@pytest.fixture(scope="session")
def tuple_rows(captured: Captured) -> dict[str, pd.DataFrame]:
    """Ground truth: per source tuple, the train and test rows that vanish without it."""
    full_train, full_test = captured.rerun(captured.customers, captured.mails)
    truth = {}
    for source, frame, key in (
        ("customers", captured.customers, "customer_id"),
        ("mails", captured.mails, "mail_id"),
    ):
        counts = [captured.rows_without(source, value) for value in frame[key]]
        truth[source] = pd.DataFrame(
            {
                "key": frame[key].to_numpy(),
                "train_rows": [len(full_train) - train for train, _ in counts],
                "test_rows": [len(full_test) - test for _, test in counts],
            }
        )
    return truth
