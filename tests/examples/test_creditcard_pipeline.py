"""The credit-card example pipeline end to end on synthetic data, checked against pandas."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import torch

import lester as lt
from lester.datagen import CUSTOMER_COLUMNS, MAIL_COLUMNS, generate
from lester.features import matrix_column_provenance

pytest.importorskip("skorch")
pytest.importorskip("sentence_transformers")
SentimentIntensityAnalyzer = pytest.importorskip(
    "vaderSentiment.vaderSentiment"
).SentimentIntensityAnalyzer

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "creditcard" / "pipeline.py"
OUTPUT_COLUMNS = ["title", "text", "bank", "country", "sentiment", "is_premium"]
DIM = 384


@pytest.fixture(scope="module")
def pipeline() -> ModuleType:
    name = "lester_example_creditcard_pipeline"
    spec = importlib.util.spec_from_file_location(name, PIPELINE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined in the file must be importable by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(60, tmp_path_factory.mktemp("creditcard"), seed=42)


@pytest.fixture(scope="module")
def prepared(pipeline, data) -> lt.TrackedFrame:
    return pipeline._lester_dataprep(customers_path=data.customers_path, mails_path=data.mails_path)


@pytest.fixture(scope="module")
def customers(data) -> pd.DataFrame:
    return pd.read_csv(data.customers_path, header=None, names=list(CUSTOMER_COLUMNS))


@pytest.fixture(scope="module")
def mails(data) -> pd.DataFrame:
    return pd.read_csv(data.mails_path, header=None, names=list(MAIL_COLUMNS))


@pytest.fixture(scope="module")
def expected(customers, mails) -> pd.DataFrame:
    """The same query in plain pandas, keeping the input keys."""
    targets = customers[customers["country"].isin(["UK", "DE", "FR"])]
    in_time = pd.to_datetime(mails["date"]).dt.year >= 2022
    relevant = mails["mail_text"].map(lambda t: "complaint" in t or "bank account" in t)
    return mails[in_time & relevant].merge(targets, left_on="email", right_on="customer_email")


@pytest.fixture(scope="module")
def frame(prepared) -> pd.DataFrame:
    return prepared.to_pandas()


@pytest.fixture(scope="module")
def encoder(pipeline, frame):
    ct = pipeline.encode_features()
    X = ct.fit_transform(frame)
    return ct, X


def row_keys(prepared: lt.TrackedFrame) -> list[tuple[str, int]]:
    """(mail_id, customer_id) of each row, read from its provenance polynomial."""
    keys = []
    for polynomial in prepared.provenance_canonical():
        (monomial,) = polynomial
        variables = dict(monomial)
        keys.append((variables["mails"], variables["customers"]))
    return keys


def test_dataprep_columns_and_rows(prepared, frame, expected):
    assert prepared.columns == OUTPUT_COLUMNS
    assert len(prepared) == len(expected) > 0
    assert set(frame["country"]) <= {"UK", "DE", "FR"}
    assert frame["sentiment"].between(-1, 1).all()


def test_every_row_matches_its_customer_and_mail(prepared, frame, expected, customers, mails):
    polarity = SentimentIntensityAnalyzer().polarity_scores
    keys = row_keys(prepared)
    assert sorted(keys) == sorted(zip(expected["mail_id"], expected["customer_id"], strict=True))
    customers, mails = customers.set_index("customer_id"), mails.set_index("mail_id")
    for i, (mail_id, customer_id) in enumerate(keys):
        row, customer, mail = frame.iloc[i], customers.loc[customer_id], mails.loc[mail_id]
        assert mail["email"] == customer["customer_email"]
        assert (row["bank"], row["country"]) == (customer["bank"], customer["country"])
        assert row["is_premium"] == (customer["level"] == "premium")
        assert row["title"] == mail["mail_subject"].lower()
        assert row["text"] == mail["mail_text"].lower()
        assert row["sentiment"] == pytest.approx(polarity(mail["mail_text"].lower())["compound"])


def test_column_provenance_and_row_dependencies(prepared):
    provenance = prepared.column_provenance
    assert provenance["title"] == ["mails.mail_subject"]
    assert provenance["text"] == ["mails.mail_text"]
    assert provenance["sentiment"] == ["mails.mail_text"]
    assert provenance["is_premium"] == ["customers.level"]
    dependencies = set(prepared.row_dependencies)
    assert {"customers.country", "mails.email", "mails.date", "mails.mail_text"} <= dependencies


def test_feature_matrix_and_its_column_provenance(encoder, frame):
    ct, X = encoder
    k = frame["country"].nunique()
    assert X.shape == (len(frame), DIM + DIM + 1 + k)
    provenance = matrix_column_provenance(ct)
    assert provenance.ranges("title") == [(0, DIM), (2 * DIM, 2 * DIM + 1)]
    assert provenance.ranges("text") == [(DIM, 2 * DIM)]
    assert provenance.ranges("country") == [(2 * DIM + 1, 2 * DIM + 1 + k)]
    length = X[:, 2 * DIM]
    assert abs(length.mean()) < 1e-6 and abs(length.std() - 1) < 1e-6


def test_labels_flag_negative_mails_of_premium_customers(pipeline, frame):
    y = pipeline.extract_label(frame)
    assert y.dtype == np.float32 and y.shape == (len(frame),)
    expected = ((frame["sentiment"] < 0) & frame["is_premium"]).to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(y, expected)


def test_the_model_trains(pipeline, encoder, frame):
    _, X = encoder
    y = pipeline.extract_label(frame)
    torch.manual_seed(0)
    net = pipeline.create_model(X.shape[1]).set_params(max_epochs=2)
    net.fit(X.astype(np.float32), y.astype(np.int64))
    losses = net.history[:, "train_loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))
    probabilities = net.predict_proba(X.astype(np.float32))
    assert probabilities.shape == (len(frame), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The store rebuilds the module from its class, found by name in the pipeline module.
    assert getattr(pipeline, type(net.module_).__name__) is type(net.module_)
