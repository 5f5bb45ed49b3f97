"""A small captured run for lineage tests: real CSV sources, a real pipeline module and a
real store. The pipeline filters, projects, renames, joins and selects; its encoder
one-hot encodes, scales and passes a column through, so every kind of column lineage
occurs. The model is a logistic regression so tests stay fast."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from lester.store import Store
from tests.maintenance.conftest import write_sources

PIPELINE = """
import lester as lt
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def _lester_dataprep(customers_path, mails_path):
    targets = ["DE", "FR", "UK"]
    customers = lt.read_csv(customers_path, primary_key="customer_id")
    customers = customers.filter("country in @targets")
    customers = customers.project("is_premium", ["level"], lambda row: row["level"] == "premium")
    customers = customers.rename(columns={"country": "land"})
    mails = lt.read_csv(mails_path, primary_key="mail_id")
    merged = lt.join(mails, customers, left_on="email", right_on="email")
    merged = merged.project("title", ["subject"], lambda row: str(row["subject"]).lower())
    return merged[["title", "land", "score", "is_premium"]]


def encode_features():
    return ColumnTransformer([
        ("land", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["land"]),
        ("scaled", StandardScaler(), ["score"]),
        ("raw", "passthrough", ["score"]),
    ])


def extract_label(df):
    return df["is_premium"].astype(int).to_numpy()


def create_model(num_features):
    return LogisticRegression(max_iter=1000)
"""


@dataclass
class Captured:
    """A captured run and where its parts are."""

    store: Store
    run_id: str
    customers: Path
    mails: Path
    pipeline: Path


@pytest.fixture
def pipeline_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(customers.csv, mails.csv, pipeline.py), written to a fresh folder."""
    data = tmp_path / "data"
    data.mkdir()
    customers, mails = write_sources(data, n_customers=60)
    pipeline = tmp_path / "lineage_demo.py"
    pipeline.write_text(textwrap.dedent(PIPELINE))
    return customers, mails, pipeline


def run_pipeline(files: tuple[Path, Path, Path], store: Store, lineage=None) -> Captured:
    """Run the test pipeline into ``store`` with the given lineage sinks."""
    from lester.runner import run

    customers, mails, pipeline = files
    result = run(pipeline, {"customers": customers, "mails": mails}, store=store, seed=3,
                 quiet=True, lineage=lineage)  # fmt: skip
    return Captured(store, result.run_id, customers, mails, pipeline)
