"""Reference rewrite of ../shared/messy/creditcard/messy.py (the paper's running example).

Traps kept: the customer dict keeps the *last* qualifying row per e-mail; the use-case match
is case-sensitive on the raw text; the title length is in characters and standardised with
the population standard deviation; the one-hot order is [UK, DE, FR].
"""

import hashlib
import re

import numpy as np
from dateutil import parser as dateparser
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import lester as lt

NEG = [
    "complaint",
    "disappointed",
    "angry",
    "never",
    "problem",
    "charged",
    "twice",
    "crashes",
    "hidden",
    "fees",
    "delays",
    "unacceptable",
    "wrong",
    "blocked",
]
POS = ["thanks", "great", "friendly", "quick", "happy", "helpful", "resolved", "withdraw"]
TEXT = {"dtype": str, "keep_default_na": False}


def sentiment(text):
    words = re.findall(r"[a-z']+", text)
    neg = sum(1 for w in words if w in NEG)
    pos = sum(1 for w in words if w in POS)
    return (pos - neg) / (pos + neg + 1)


def _lester_dataprep(customers_path, mails_path):
    target_countries = ["UK", "DE", "FR"]  # noqa: F841 (read by the filter as @target_countries)
    customers = lt.read_csv(customers_path, name="customers", **TEXT)
    customers = customers.filter("country in @target_countries")
    # dict keyed by e-mail: the last qualifying row per e-mail wins
    customers = customers.project(
        "last_of_email",
        ["customer_email"],
        lambda df: ~df["customer_email"].duplicated(keep="last"),
        vectorized=True,
    )
    customers = customers.filter("last_of_email")
    customers = customers.project("is_premium", ["level"], lambda row: row["level"] == "premium")
    customers = customers[["customer_email", "bank", "country", "is_premium"]]

    mails = lt.read_csv(mails_path, name="mails", **TEXT)
    mails = mails.project("year", ["date"], lambda row: dateparser.parse(row["date"]).year)
    mails = mails.filter("year >= 2022")
    mails = mails.filter(
        lambda row: "complaint" in row["mail_text"] or "bank account" in row["mail_text"],
        source_columns=["mail_text"],
    )
    merged = lt.join(mails, customers, left_on="email", right_on="customer_email")
    merged = merged.project("title", ["mail_subject"], lambda row: row["mail_subject"].lower())
    merged = merged.project("text", ["mail_text"], lambda row: row["mail_text"].lower())
    merged = merged.project("sentiment", ["text"], lambda row: sentiment(row["text"]))
    return merged[["title", "text", "bank", "country", "sentiment", "is_premium"]]


def embed(s, dim=16):
    v = np.zeros(dim)
    for tok in re.findall(r"[a-z0-9]+", s.lower()):
        h = int(hashlib.md5(tok.encode("utf-8")).hexdigest(), 16)
        v[h % dim] += 1.0
    norm = np.sqrt((v**2).sum())
    if norm > 0:
        v = v / norm
    return v


def embed_column(frame):
    return np.array([embed(t) for t in frame.iloc[:, 0]]).reshape(len(frame), 16)


def char_length(frame):
    return np.array([len(t) for t in frame.iloc[:, 0]], dtype=float).reshape(-1, 1)


def encode_features():
    return ColumnTransformer(
        [
            ("title_embedding", FunctionTransformer(embed_column), ["title"]),
            ("text_embedding", FunctionTransformer(embed_column), ["text"]),
            (
                "title_length",
                Pipeline(
                    [("length", FunctionTransformer(char_length)), ("scale", StandardScaler())]
                ),
                ["title"],
            ),
            (
                "country",
                OneHotEncoder(
                    categories=[["UK", "DE", "FR"]], sparse_output=False, handle_unknown="ignore"
                ),
                ["country"],
            ),
        ]
    )


def extract_label(df):
    negative = df["sentiment"].astype(float) < 0
    return (negative & df["is_premium"].astype(bool)).astype(float).to_numpy()
