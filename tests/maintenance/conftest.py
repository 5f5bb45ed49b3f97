"""A small captured run for maintenance tests: customers and mails written as real CSV
files, a pipeline module written as a real file, run through the real runner into a real
store. The model is an L2 logistic regression so tests stay fast."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lester.runner import run
from lester.store import Store

# The data preparation every maintenance test pipeline shares; tests add their own
# encode_features, extract_label and create_model.
DATAPREP = """
import lester as lt


def _lester_dataprep(customers_path, mails_path):
    targets = ["DE", "FR", "UK"]
    customers = lt.read_csv(customers_path, primary_key="customer_id")
    customers = customers.filter("country in @targets")
    customers = customers.project("is_premium", ["level"], lambda row: row["level"] == "premium")
    mails = lt.read_csv(mails_path, primary_key="mail_id")
    merged = lt.join(mails, customers, left_on="email", right_on="email")
    merged = merged.project("title", ["subject"], _lower)
    return merged[["title", "country", "score", "is_premium"]]


def _lower(row):
    subject = row["subject"]
    return subject.lower() if isinstance(subject, str) else None
"""

PIPELINE = (
    DATAPREP
    + """
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def _title_length(frame):
    return frame.iloc[:, 0].fillna("").str.len().to_numpy(dtype=float).reshape(-1, 1)


def encode_features():
    return ColumnTransformer([
        ("title_length", make_pipeline(FunctionTransformer(_title_length), StandardScaler()),
         ["title"]),
        ("country", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["country"]),
        ("score", StandardScaler(), ["score"]),
    ])


def extract_label(df):
    return df["is_premium"].fillna(False).astype(int).to_numpy()


def create_model(num_features):
    return LogisticRegression(C=1.0, max_iter=1000)
"""
)


def write_sources(folder: Path, n_customers: int = 120, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n_customers)],
            "email": [f"user{i}@mail.test" for i in range(n_customers)],
            "country": rng.choice(["DE", "FR", "UK", "US"], n_customers),
            "level": rng.choice(["premium", "basic"], n_customers, p=[0.4, 0.6]),
        }
    )
    rows = []
    for i in range(n_customers * 4):
        customer = int(rng.integers(0, n_customers))
        card = f" card 4111 2222 {customer:04d} {i:04d}" if i % 7 == 0 else ""
        rows.append(
            {
                "mail_id": f"M{i:05d}",
                "email": f"user{customer}@mail.test",
                "subject": f"Question {int(rng.integers(0, 50))}{card}",
                "score": float(rng.normal(size=1)[0]),
            }
        )
    customers_path, mails_path = folder / "customers.csv", folder / "mails.csv"
    customers.to_csv(customers_path, index=False)
    pd.DataFrame(rows).to_csv(mails_path, index=False)
    return customers_path, mails_path


@pytest.fixture
def captured(tmp_path: Path):
    """(store, run_id, customers_path, mails_path, pipeline_path) of a fresh run."""
    data = tmp_path / "data"
    data.mkdir()
    customers_path, mails_path = write_sources(data)
    pipeline_path = tmp_path / "complaints.py"
    pipeline_path.write_text(textwrap.dedent(PIPELINE))
    store = Store(tmp_path / "store")
    result = run(
        pipeline_path,
        {"customers": customers_path, "mails": mails_path},
        store=store,
        seed=7,
        quiet=True,
    )
    return store, result.run_id, customers_path, mails_path, pipeline_path
