"""The paper's generated data-preparation code (Figure 1, right) on the paper's example data,
checked against an independent pure-pandas computation of the same query."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import lester as lt

parser = pytest.importorskip("dateutil.parser")

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lester-example"
CUSTOMER_COLUMNS = ["customer_id", "customer_email", "bank", "country", "level"]
MAIL_COLUMNS = ["mail_id", "email", "raw_date", "mail_subject", "mail_text"]
OUTPUT_COLUMNS = ["title", "text", "bank", "country", "sentiment", "is_premium"]

target_countries = ["UK", "DE", "FR"]


def matches_usecase(text):
    return "complaint" in text or "bank account" in text


def sanitize(text):
    return text.lower()


def sentiment_predictor(text):
    """Stands in for the paper's transformer model (same output format)."""
    label = "NEGATIVE" if "angry" in text or "complaint" in text else "POSITIVE"
    return [{"label": label, "score": 1.0}]


# --- The paper's generated code, unchanged (sentiment model replaced above) ---
# fmt: off
def _lester_dataprep(customers_path, mails_path):
    # Load customer data
    customer_df = lt.read_csv(customers_path, header=None,
                              names=['customer_id', 'customer_email', 'bank', 'country', 'level'])
    customer_df = customer_df.filter('country in @target_countries')
    customer_df = customer_df.project(target_column='is_premium', source_columns=['level'],
                                      func=lambda row: row['level'] == 'premium')

    # Select relevant columns for merging
    customer_df = customer_df[['customer_email', 'bank', 'country', 'is_premium']]

    # Load mails data
    mails_df = lt.read_csv(mails_path, header=None, names=['mail_id', 'email', 'raw_date', 'mail_subject', 'mail_text'])  # noqa: E501
    mails_df = mails_df.project(target_column='mail_date', source_columns=['raw_date'],
                                func=lambda row: parser.parse(row['raw_date']))
    mails_df = mails_df.filter('mail_date.dt.year >= 2022')

    mails_df = mails_df.filter('mail_text.apply(@matches_usecase)')

    # Merge dataframes
    merged_df = lt.join(mails_df, customer_df, left_on='email', right_on='customer_email')

    # Process and assign new columns
    merged_df = merged_df.project(target_column='title', source_columns=['mail_subject'],
                                  func=lambda row: sanitize(row['mail_subject']))
    merged_df = merged_df.project(target_column='text', source_columns=['mail_text'],
                                  func=lambda row: sanitize(row['mail_text']))
    merged_df = merged_df.project(target_column='sentiment', source_columns=['mail_text'],
                                  func=lambda row: sentiment_predictor(row['mail_text'])[0]['label'].lower())  # noqa: E501

    # Select the required columns
    result_df = merged_df[['title', 'text', 'bank', 'country', 'sentiment', 'is_premium']]

    return result_df
# fmt: on
# --- end of the paper's code ---


@pytest.fixture(
    scope="module",
    params=[
        ("customers.csv", "mails.csv"),
        ("synthetic_customers_100.csv", "synthetic_mails_100.csv"),
    ],
    ids=["example", "synthetic_100"],
)
def paths(request) -> tuple[Path, Path]:
    customers, mails = (DATA / name for name in request.param)
    if not (customers.is_file() and mails.is_file()):
        pytest.skip(f"the paper's example data is not available under {DATA}")
    return customers, mails


@pytest.fixture(scope="module")
def result(paths) -> lt.TrackedFrame:
    return _lester_dataprep(*map(str, paths))


@pytest.fixture(scope="module")
def expected(paths) -> pd.DataFrame:
    """The same query in plain pandas; keeps each input row's 0-based position."""
    customers = pd.read_csv(paths[0], header=None, names=CUSTOMER_COLUMNS)
    customers = customers.rename_axis("customer_row").reset_index()
    customers = customers[customers["country"].isin(target_countries)]
    mails = pd.read_csv(paths[1], header=None, names=MAIL_COLUMNS)
    mails = mails.rename_axis("mail_row").reset_index()
    years = mails["raw_date"].map(lambda value: parser.parse(value).year)
    mails = mails[(years >= 2022) & mails["mail_text"].map(matches_usecase)]
    return mails.merge(customers, left_on="email", right_on="customer_email")


@pytest.fixture(scope="module")
def names(paths) -> tuple[str, str]:
    """The source names: the file stems (customers, mails)."""
    return paths[0].stem, paths[1].stem


def parse_products(frame: lt.TrackedFrame, names: tuple[str, str]) -> list[tuple[str, str]]:
    """(mail, customer) of each row whose polynomial is ``mails[m]*customers[c]``."""
    customers, mails = map(re.escape, names)
    product = re.compile(rf"^{mails}\[([^\]]+)\]\*{customers}\[([^\]]+)\]$")
    pairs = []
    for i in range(len(frame)):
        match = product.match(frame.provenance_of(i))
        assert match, frame.provenance_of(i)
        pairs.append(match.groups())
    return pairs


def test_output_schema(result):
    assert result.columns == OUTPUT_COLUMNS
    assert list(result.to_pandas().columns) == OUTPUT_COLUMNS


def test_row_count_matches_pandas(result, expected):
    assert len(expected) > 0
    assert len(result) == len(expected)


def test_each_row_names_its_mail_and_customer(result, expected, names):
    pairs = Counter((int(m), int(c)) for m, c in parse_products(result, names))
    assert pairs == Counter(zip(expected["mail_row"], expected["customer_row"], strict=True))


def test_row_values_agree_with_the_tuples_in_their_provenance(result, paths, names):
    customers = pd.read_csv(paths[0], header=None, names=CUSTOMER_COLUMNS)
    mails = pd.read_csv(paths[1], header=None, names=MAIL_COLUMNS)
    data = result.to_pandas()
    for i, (mail, customer) in enumerate(parse_products(result, names)):
        mail_row, customer_row = mails.iloc[int(mail)], customers.iloc[int(customer)]
        assert mail_row["email"] == customer_row["customer_email"]
        assert data["title"].iloc[i] == mail_row["mail_subject"].lower()
        assert data["text"].iloc[i] == mail_row["mail_text"].lower()
        assert data["bank"].iloc[i] == customer_row["bank"]
        assert data["country"].iloc[i] == customer_row["country"]
        assert data["is_premium"].iloc[i] == (customer_row["level"] == "premium")


def test_source_keys_name_the_customers_reaching_the_result(result, expected, names):
    assert result.sources == [names[1], names[0]]
    assert result.source_keys(names[0]).tolist() == sorted(set(expected["customer_row"]))
    assert result.source_keys(names[1]).tolist() == sorted(set(expected["mail_row"]))


def test_column_provenance(result, names):
    customers, mails = names
    assert result.column_provenance == {
        "title": [f"{mails}.mail_subject"],
        "text": [f"{mails}.mail_text"],
        "bank": [f"{customers}.bank"],
        "country": [f"{customers}.country"],
        "sentiment": [f"{mails}.mail_text"],
        "is_premium": [f"{customers}.level"],
    }
    assert result.row_dependencies == [
        f"{customers}.country",
        f"{customers}.customer_email",
        f"{mails}.email",
        f"{mails}.mail_text",
        f"{mails}.raw_date",
    ]


def test_plan_has_every_step(result):
    lines = [line.lstrip("│├└─ ") for line in str(result.plan).splitlines()]
    assert lines[0] == "Select[title, text, bank, country, sentiment, is_premium]"
    assert "Join[inner: email = customer_email]" in lines
    assert "Filter[country in @target_countries]" in lines
    assert "Filter[mail_text.apply(@matches_usecase)]" in lines
    assert sum(line.startswith("Source[") for line in lines) == 2


def test_forgetting_german_customers_removes_their_rows(result, expected, paths, names):
    customers = pd.read_csv(paths[0], header=None, names=CUSTOMER_COLUMNS)
    german = customers.index[customers["country"] == "DE"].tolist()
    forgotten = result.forget({names[0]: german})
    remaining = expected[~expected["customer_row"].isin(german)]
    assert len(forgotten) == len(remaining)
    assert set(forgotten.to_pandas()["country"]) <= {"FR", "UK"}
    pairs = Counter((int(m), int(c)) for m, c in parse_products(forgotten, names))
    assert pairs == Counter(zip(remaining["mail_row"], remaining["customer_row"], strict=True))


def test_rows_with_leaked_card_numbers_trace_back_to_their_mails(result, paths, names):
    mails = pd.read_csv(paths[1], header=None, names=MAIL_COLUMNS)
    leaked = mails.index[mails["mail_subject"].str.contains("credit card")].tolist()
    if not leaked:
        pytest.skip("no mail subject in this data carries a card number")
    data = result.to_pandas()
    rows = result.rows_from(names[1], leaked)
    assert len(rows) > 0
    assert sorted(rows) == sorted(data.index[data["title"].str.contains("credit card")])
    assert set(data["country"].iloc[rows]) == {"DE"}
