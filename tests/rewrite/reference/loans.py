"""Reference rewrite of ../shared/messy/loans/messy.py.

Traps kept: a left join with the default bureau row (580 / 0) and a has-record flag; the
bureau dict keeps the last row per applicant; empty incomes count as 0 and are dropped with
zero and negative ones; the md5 split keeps ids whose digest, read as one integer, is < 8
mod 10; the credit score is standardised with the population standard deviation; the
employment one-hot order is fixed.
"""

import hashlib
import math

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import lester as lt

TEXT = {"dtype": str, "keep_default_na": False}
EMPLOYMENT_TYPES = ["salaried", "self-employed", "unemployed", "retired"]


def in_train_split(applicant_id):
    digest = hashlib.md5(applicant_id.encode("utf-8")).hexdigest()
    return int(digest, 16) % 10 < 8


def _lester_dataprep(applicants_path, credit_bureau_path):
    bureau = lt.read_csv(credit_bureau_path, name="credit_bureau", **TEXT)
    bureau = bureau.project(
        "last_of_id",
        ["applicant_id"],
        lambda df: ~df["applicant_id"].duplicated(keep="last"),
        vectorized=True,
    )
    bureau = bureau.filter("last_of_id")
    bureau = bureau.project("in_bureau", [], lambda row: "yes")
    bureau = bureau.rename(columns={"applicant_id": "bureau_id"})
    bureau = bureau[["bureau_id", "credit_score", "delinquencies", "in_bureau"]]

    apps = lt.read_csv(applicants_path, name="applicants", **TEXT)
    apps = apps.project(
        "annual_income",
        ["annual_income"],
        lambda row: float(row["annual_income"]) if row["annual_income"] else 0.0,
    )
    apps = apps.filter(lambda row: row["annual_income"] > 0, source_columns=["annual_income"])
    apps = apps.filter(
        lambda row: in_train_split(row["applicant_id"]), source_columns=["applicant_id"]
    )
    rows = lt.join(apps, bureau, left_on="applicant_id", right_on="bureau_id", how="left")
    rows = rows.project(
        "has_bureau_record", ["in_bureau"], lambda row: 1 if row["in_bureau"] == "yes" else 0
    )
    rows = rows.project(
        "credit_score",
        ["credit_score", "has_bureau_record"],
        lambda row: int(row["credit_score"]) if row["has_bureau_record"] else 580,
    )
    rows = rows.project(
        "delinquencies",
        ["delinquencies", "has_bureau_record"],
        lambda row: int(row["delinquencies"]) if row["has_bureau_record"] else 0,
    )
    rows = rows.project("loan_amount", ["loan_amount"], lambda row: float(row["loan_amount"]))
    rows = rows.project("label", ["outcome"], lambda row: 1 if row["outcome"] == "default" else 0)
    return rows[
        [
            "applicant_id",
            "annual_income",
            "loan_amount",
            "employment",
            "credit_score",
            "delinquencies",
            "has_bureau_record",
            "label",
        ]
    ]


def log_income(frame):
    return np.array([[math.log(v)] for v in frame.iloc[:, 0]]).reshape(-1, 1)


def loan_to_income(frame):
    return (frame["loan_amount"] / frame["annual_income"]).to_numpy().reshape(-1, 1)


def encode_features():
    return ColumnTransformer(
        [
            ("log_income", FunctionTransformer(log_income), ["annual_income"]),
            (
                "loan_to_income",
                FunctionTransformer(loan_to_income),
                ["loan_amount", "annual_income"],
            ),
            ("credit_score", StandardScaler(), ["credit_score"]),
            ("bureau", "passthrough", ["delinquencies", "has_bureau_record"]),
            (
                "employment",
                OneHotEncoder(
                    categories=[EMPLOYMENT_TYPES], sparse_output=False, handle_unknown="ignore"
                ),
                ["employment"],
            ),
        ]
    )


def extract_label(df):
    return np.asarray(df["label"], dtype=float)
