"""Reference rewrite of ../shared/messy/healthcare/messy.py.

Traps kept: the county mode is computed over *all* patients (before any filter; ties go to
the county seen first); the patient dict keeps the last qualifying row per ssn; the smoker
one-hot order is [no, yes] and the county one-hot is over the sorted counties of the prepared
rows; min-max scaling over the prepared rows.
"""

from collections import Counter

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

import lester as lt

TEXT = {"dtype": str, "keep_default_na": False}
THRESHOLDS = {"18-34": 2, "35-59": 3, "60+": 4}


def impute_mode(df):
    counts = Counter(c for c in df["county"] if c != "")
    mode = max(counts, key=counts.get) if counts else None  # first seen wins a tie
    return df["county"].where(df["county"] != "", mode)


def age_group(age):
    if age < 35:
        return "18-34"
    if age < 60:
        return "35-59"
    return "60+"


def _lester_dataprep(patients_path, histories_path):
    patients = lt.read_csv(patients_path, name="patients", **TEXT)
    patients = patients.project("county", ["county"], impute_mode, vectorized=True)
    patients = patients.filter("age != ''")
    patients = patients.project("age", ["age"], lambda row: int(row["age"]))
    patients = patients.filter("age >= 18")
    patients = patients.project("age_group", ["age"], lambda row: age_group(row["age"]))
    patients = patients.project(
        "last_of_ssn", ["ssn"], lambda df: ~df["ssn"].duplicated(keep="last"), vectorized=True
    )
    patients = patients.filter("last_of_ssn")
    patients = patients.rename(columns={"ssn": "patient_ssn"})
    patients = patients[["patient_ssn", "age", "age_group", "county", "smoker"]]

    histories = lt.read_csv(histories_path, name="histories", **TEXT)
    histories = histories.project("visit_year", ["visit_year"], lambda row: int(row["visit_year"]))
    histories = histories.filter("visit_year >= 2018")
    for column in ("num_visits", "complications", "medication_count"):
        histories = histories.project(column, [column], lambda row, c=column: int(row[c]))
    data = lt.join(histories, patients, left_on="ssn", right_on="patient_ssn")
    data = data.project(
        "label",
        ["complications", "age_group"],
        lambda row: 1 if row["complications"] > THRESHOLDS[row["age_group"]] else 0,
    )
    return data[
        [
            "ssn",
            "age",
            "age_group",
            "county",
            "smoker",
            "num_visits",
            "complications",
            "medication_count",
            "label",
        ]
    ]


def encode_features():
    return ColumnTransformer(
        [
            ("scaled", MinMaxScaler(), ["age", "num_visits", "medication_count"]),
            (
                "smoker",
                OneHotEncoder(
                    categories=[["no", "yes"]], sparse_output=False, handle_unknown="ignore"
                ),
                ["smoker"],
            ),
            ("county", OneHotEncoder(sparse_output=False), ["county"]),
        ]
    )


def extract_label(df):
    return np.asarray(df["label"], dtype=float)
