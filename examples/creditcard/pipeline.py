"""The paper's running example in Lester's declarative API: find complaints of premium customers.

A financial service provider keeps customers of several banks and their mails. The pipeline
joins the customers from the UK, Germany and France with their mails since 2022 that talk
about a complaint or a bank account, encodes the mails' titles and texts as features and trains
a small neural network that flags negative mails of premium customers.

The module follows the runner's contract (``lester run examples/creditcard/pipeline.py
--source customers=... --source mails=...``):

* :func:`_lester_dataprep` - the relational data preparation; its keyword names name the
  sources.
* :func:`encode_features` - an unfitted ``ColumnTransformer``.
* :func:`extract_label` - the label vector ``y`` of the prepared data.
* :func:`create_model` - the untrained skorch classifier.

Examples
--------
>>> import tempfile
>>> from lester.datagen import generate
>>> data = generate(20, tempfile.mkdtemp(), seed=3, mails_per_customer=4)
>>> train = _lester_dataprep(customers_path=data.customers_path, mails_path=data.mails_path)
>>> train.columns
['title', 'text', 'bank', 'country', 'sentiment', 'is_premium']
>>> train.column_provenance["title"]
['mails.mail_subject']
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

import lester as lt
from lester.features.text import (
    CharacterLengthTransformer,
    SentenceEmbeddingTransformer,
    vader_sentiment,
)

CUSTOMER_COLUMNS = ["customer_id", "customer_email", "bank", "country", "level"]
MAIL_COLUMNS = ["mail_id", "email", "date", "mail_subject", "mail_text"]
OUTPUT_COLUMNS = ["title", "text", "bank", "country", "sentiment", "is_premium"]


def _lester_dataprep(customers_path: str | Path, mails_path: str | Path) -> lt.TrackedFrame:
    """The training data: one row per relevant mail of a customer from a target country.

    Parameters
    ----------
    customers_path:
        Headerless CSV with ``customer_id, customer_email, bank, country, level``.
    mails_path:
        Headerless CSV with ``mail_id, email, date, mail_subject, mail_text`` (ISO dates).

    Returns
    -------
    lester.TrackedFrame
        Columns ``title, text, bank, country, sentiment, is_premium``.
    """
    target_countries = ["UK", "DE", "FR"]  # noqa: F841 (read by the filter as @target_countries)

    # Sources are named explicitly: the file names may differ from the source names.
    customers = lt.read_csv(
        customers_path,
        name="customers",
        header=None,
        names=CUSTOMER_COLUMNS,
        primary_key="customer_id",
    )
    customers = customers.filter("country in @target_countries")
    customers = customers.project(
        target_column="is_premium",
        source_columns=["level"],
        func=lambda row: row["level"] == "premium",
    )
    customers = customers[["customer_email", "bank", "country", "is_premium"]]

    mails = lt.read_csv(
        mails_path, name="mails", header=None, names=MAIL_COLUMNS, primary_key="mail_id"
    )
    mails = mails.project(
        target_column="year",
        source_columns=["date"],
        func=lambda row: datetime.fromisoformat(str(row["date"])).year,
    )
    mails = mails.filter("year >= 2022")
    # Case-sensitive, as in the original pipeline.
    mails = mails.filter(
        "mail_text.str.contains('complaint', regex=False, na=False)"
        " or mail_text.str.contains('bank account', regex=False, na=False)"
    )

    merged = lt.join(mails, customers, left_on="email", right_on="customer_email")
    merged = merged.project(
        target_column="title",
        source_columns=["mail_subject"],
        func=lambda row: row["mail_subject"].lower(),
    )
    merged = merged.project(
        target_column="text",
        source_columns=["mail_text"],
        func=lambda row: row["mail_text"].lower(),
    )
    merged = merged.project(
        target_column="sentiment",
        source_columns=["text"],
        func=lambda row: vader_sentiment(row["text"]),
    )
    return merged[OUTPUT_COLUMNS]


def encode_features() -> ColumnTransformer:
    """The unfitted feature encoding of the prepared data.

    ``title`` feeds two ranges of ``X``: its embedding and its standardised character length.

    Examples
    --------
    >>> [name for name, _, _ in encode_features().transformers]
    ['title_embedding', 'text_embedding', 'title_length', 'country']
    """
    return ColumnTransformer(
        [
            ("title_embedding", SentenceEmbeddingTransformer(), ["title"]),
            ("text_embedding", SentenceEmbeddingTransformer(), ["text"]),
            (
                "title_length",
                Pipeline([("length", CharacterLengthTransformer()), ("scaler", StandardScaler())]),
                ["title"],
            ),
            (
                "country",
                OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
                ["country"],
            ),
        ]
    )


def extract_label(df: pd.DataFrame | lt.TrackedFrame) -> np.ndarray:
    """``y``: 1.0 for a mail with negative sentiment from a premium customer, else 0.0.

    A complaint is what the business wants to find; negative VADER sentiment (compound < 0)
    stands in for "complaint", as the prototype's sentiment label did. Missing sentiment or
    premium flags (e.g. forgotten cells) count as "no", never as a complaint.

    Examples
    --------
    >>> frame = pd.DataFrame({"sentiment": [-0.5, 0.4, -0.1], "is_premium": [True, True, False]})
    >>> extract_label(frame).tolist()
    [1.0, 0.0, 0.0]
    """
    data = df.to_pandas() if isinstance(df, lt.TrackedFrame) else df
    negative = pd.to_numeric(data["sentiment"], errors="coerce").lt(0).to_numpy()
    premium = data["is_premium"].eq(True).to_numpy()
    return (negative & premium).astype(np.float32)


class ComplaintMLP(nn.Module):
    """One hidden layer of 64 tanh units and two output logits (the prototype's MLP shape).

    tanh rather than ReLU: a smooth network that L-BFGS trains to convergence, so that a
    model update after deletions can follow the retrained model (see :func:`create_model`).

    Examples
    --------
    >>> ComplaintMLP(num_features=5)(torch.zeros(3, 5)).shape
    torch.Size([3, 2])
    """

    def __init__(self, num_features: int, hidden_units: int = 64) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(num_features, hidden_units),
            nn.Tanh(),
            nn.Linear(hidden_units, 2),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class WeightDecayLBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` on the closure's loss plus ``weight_decay / 2 * ||theta||^2``.

    ``LBFGS`` has no ``weight_decay`` argument; this one takes it like ``SGD`` and ``Adam``
    do (the penalty's gradient ``weight_decay * theta`` is added to every parameter's
    gradient), and adds the penalty to the loss as well, so that L-BFGS's line search sees
    the objective whose gradient it follows. Model updates after deletions
    (:mod:`lester.maintenance.unlearning`) read ``optimizer__weight_decay`` and minimise the
    same objective.

    Examples
    --------
    >>> weight = nn.Parameter(torch.tensor([3.0]))
    >>> optimizer = WeightDecayLBFGS([weight], weight_decay=1.0, line_search_fn="strong_wolfe")
    >>> def closure():
    ...     optimizer.zero_grad()
    ...     loss = (weight - 1.0).square().sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = optimizer.step(closure)
    >>> round(float(weight), 4)  # the minimum of (w - 1)^2 + w^2 / 2
    0.6667
    """

    def __init__(self, params, weight_decay: float = 0.0, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.weight_decay = weight_decay

    def step(self, closure):
        def penalised() -> torch.Tensor:
            loss = closure()
            squares = torch.zeros(())
            with torch.no_grad():
                for param in self.param_groups[0]["params"]:
                    squares += param.square().sum()
                    if param.grad is not None:
                        param.grad.add_(param, alpha=self.weight_decay)
            return loss + 0.5 * self.weight_decay * squares

        return super().step(penalised)


def create_model(num_features: int) -> NeuralNetClassifier:
    """The untrained classifier for ``num_features`` float32 features.

    Trains on ``X.astype(np.float32)`` and integer class labels ``y.astype(np.int64)``;
    ``predict_proba`` applies the softmax to the logits. Seeding is the runner's job.

    Training minimises the mean cross-entropy plus ``0.3 / 2 * ||theta||^2`` (all weights and
    biases) by full-batch L-BFGS, until float32 rounding stops its progress (at most 200
    iterations). Strong L2 and a smooth network make the trained model (nearly) a function
    of the data, with no batch order, which a model update after deletions can approach;
    mini-batch Adam left retrains apart by optimisation noise that no update could follow
    (``benchmarks/README.md``, which also gives the limits). The price: the L2 penalty
    shrinks predicted probabilities towards 0.5.

    Examples
    --------
    >>> net = create_model(7)
    >>> net.module.__name__, net.optimizer.__name__, net.optimizer__weight_decay
    ('ComplaintMLP', 'WeightDecayLBFGS', 0.3)
    """
    return NeuralNetClassifier(
        ComplaintMLP,
        module__num_features=num_features,
        criterion=nn.CrossEntropyLoss,
        optimizer=WeightDecayLBFGS,
        optimizer__weight_decay=0.3,
        optimizer__max_iter=200,
        optimizer__history_size=20,
        optimizer__line_search_fn="strong_wolfe",
        optimizer__tolerance_grad=1e-12,
        optimizer__tolerance_change=0.0,
        lr=1.0,
        max_epochs=1,
        batch_size=-1,
        train_split=None,
        verbose=0,
    )
