"""Small, fast pipelines written as files, on generated CSVs of about 200 rows."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

COUNTRIES = ["DE", "FR", "UK", "US"]

DATAPREP = """
def _lester_dataprep(customers_path, accounts_path):
    customers = lt.read_csv(customers_path, name="customers", primary_key="customer_id")
    customers = customers.filter("age >= 21")
    accounts = lt.read_csv(accounts_path, name="accounts", primary_key="account_id")
    merged = lt.join(accounts, customers, on="customer_id")
    return merged[["age", "income", "country", "balance", "churned"]]
"""

DENSE_ENCODER = """
def encode_features():
    return ColumnTransformer([
        ("numeric", StandardScaler(), ["age", "income", "balance"]),
        ("country", OneHotEncoder(handle_unknown="ignore"), ["country"]),
    ])
"""

LABEL = """
def extract_label(df):
    return df["churned"].to_numpy()
"""

HEADER = """
import lester as lt
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import OneHotEncoder, StandardScaler
"""


def model_code(model: str = "LogisticRegression()") -> str:
    return f"\ndef create_model(num_features):\n    return {model}\n"


def pipeline_code(
    dataprep: str = DATAPREP,
    encoder: str = DENSE_ENCODER,
    label: str = LABEL,
    model: str = "LogisticRegression()",
) -> str:
    parts = [HEADER, dataprep, encoder, label, model_code(model)]
    return "\n".join(textwrap.dedent(part).strip() + "\n" for part in parts)


def write_pipeline(folder: Path, name: str = "churn", **parts: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(pipeline_code(**parts), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Sources:
    customers: Path
    accounts: Path

    def as_dict(self) -> dict[str, str]:
        return {"customers": str(self.customers), "accounts": str(self.accounts)}

    def as_options(self) -> list[str]:
        return [f"--source={name}={path}" for name, path in self.as_dict().items()]


def customers_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1000, 1000 + n),
            "age": rng.integers(16, 80, n),
            "income": rng.normal(50_000, 15_000, n).round(2),
            "country": rng.choice(COUNTRIES, n),
            "notes": [f"note {i}" for i in range(n)],
        }
    )


def accounts_frame(customers: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(customers)
    balance = rng.normal(1_000, 800, n).round(2)
    return pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "customer_id": rng.permutation(customers["customer_id"].to_numpy()),
            "balance": balance,
            "churned": ((balance + rng.normal(0, 300, n)) < 800).astype(int),
        }
    )


def write_sources(folder: Path, customers: pd.DataFrame | None = None) -> Sources:
    folder.mkdir(parents=True, exist_ok=True)
    customers = customers_frame() if customers is None else customers
    paths = Sources(folder / "customers.csv", folder / "accounts.csv")
    customers.to_csv(paths.customers, index=False)
    accounts_frame(customers).to_csv(paths.accounts, index=False)
    return paths


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    return write_sources(tmp_path / "data")
