"""Tests of the synthetic data generator and the ``lester datagen`` command on real files."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lester.cli.datagen_cmd import datagen
from lester.datagen import (
    COMPLAINT_SUBJECTS,
    CUSTOMER_COLUMNS,
    MAIL_COLUMNS,
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    THANKS_SUBJECTS,
    DatagenError,
    DatagenResult,
    generate,
    is_luhn_valid,
)

NUM_CUSTOMERS = 2000
CARD = re.compile(r"\d{4} \d{4} \d{4} \d{4}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> DatagenResult:
    return generate(NUM_CUSTOMERS, tmp_path_factory.mktemp("datagen"))


@pytest.fixture(scope="module")
def customers(generated: DatagenResult) -> pd.DataFrame:
    return pd.read_csv(generated.customers_path, header=None, names=list(CUSTOMER_COLUMNS))


@pytest.fixture(scope="module")
def mails(generated: DatagenResult) -> pd.DataFrame:
    return pd.read_csv(generated.mails_path, header=None, names=list(MAIL_COLUMNS))


def _file_bytes(result: DatagenResult) -> list[bytes]:
    paths = (result.customers_path, result.mails_path, result.leaks_path)
    return [path.read_bytes() for path in paths]


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    first = generate(300, tmp_path / "a", seed=5)
    second = generate(300, tmp_path / "b", seed=5)
    other = generate(300, tmp_path / "c", seed=6)
    assert _file_bytes(first) == _file_bytes(second)
    assert first.leaked_mail_ids == second.leaked_mail_ids
    assert _file_bytes(first)[0] != _file_bytes(other)[0]
    assert _file_bytes(first)[1] != _file_bytes(other)[1]


def test_counts(generated: DatagenResult, customers: pd.DataFrame, mails: pd.DataFrame) -> None:
    assert (generated.num_customers, generated.num_mails) == (NUM_CUSTOMERS, 10 * NUM_CUSTOMERS)
    assert customers["customer_id"].tolist() == list(range(NUM_CUSTOMERS))
    assert len(mails) == 10 * NUM_CUSTOMERS
    assert mails.groupby("email").size().eq(10).all()
    assert mails["mail_id"].is_unique


def test_mails_per_customer_is_configurable(tmp_path: Path) -> None:
    result = generate(7, tmp_path, mails_per_customer=3)
    mails = pd.read_csv(result.mails_path, header=None, names=list(MAIL_COLUMNS))
    assert result.num_mails == len(mails) == 21


def test_customers_columns(customers: pd.DataFrame) -> None:
    assert customers["customer_email"].is_unique
    assert customers["customer_email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+").all()
    assert set(customers["level"]) == {"premium", "standard"}
    assert 0.07 <= (customers["level"] == "premium").mean() <= 0.13
    assert customers["bank"].nunique() > 10
    countries = set(customers["country"])
    assert {"UK", "DE", "FR"} <= countries
    assert countries - {"UK", "DE", "FR"}
    assert customers["country"].isin(["UK", "DE", "FR"]).mean() > 0.8


def test_every_mail_belongs_to_a_customer(customers: pd.DataFrame, mails: pd.DataFrame) -> None:
    assert set(mails["email"]) == set(customers["customer_email"])


def test_mail_ids_are_uuid4(mails: pd.DataFrame) -> None:
    for mail_id in mails["mail_id"].head(500):
        assert uuid.UUID(mail_id).version == 4


def test_dates_are_iso_and_in_range(mails: pd.DataFrame) -> None:
    assert mails["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    dates = pd.to_datetime(mails["date"], format="%Y-%m-%d")
    assert dates.min() >= pd.Timestamp("2021-01-01")
    assert dates.max() <= pd.Timestamp("2023-12-31")
    assert dates.dt.year.nunique() == 3


def test_complaints_and_thanks(mails: pd.DataFrame) -> None:
    subjects = mails["mail_subject"].str.replace(r" - my credit card is .*", "", regex=True)
    texts = mails["mail_text"].str.lower()
    complaint = subjects.isin(COMPLAINT_SUBJECTS)
    assert (complaint | subjects.isin(THANKS_SUBJECTS)).all()
    assert 0.45 <= complaint.mean() <= 0.55
    assert texts[complaint].str.contains("complaint|bank account").all()
    assert texts[complaint].str.contains("|".join(NEGATIVE_WORDS)).all()
    assert texts[~complaint].str.contains("|".join(POSITIVE_WORDS)).all()
    assert texts.nunique() > 0.9 * len(texts)


def test_card_numbers_leak_only_in_subjects_of_german_customers(
    generated: DatagenResult, customers: pd.DataFrame, mails: pd.DataFrame
) -> None:
    leaking = mails[mails["mail_subject"].str.contains(CARD)]
    assert set(leaking["mail_id"]) == set(generated.leaked_mail_ids)
    owners = customers[customers["customer_email"].isin(leaking["email"])]
    assert set(owners["customer_id"]) == set(generated.leaked_customer_ids)
    assert (owners["country"] == "DE").all()
    num_german = (customers["country"] == "DE").sum()
    assert len(generated.leaked_customer_ids) == max(1, round(0.01 * num_german))
    leaked_emails = set(owners["customer_email"])
    assert set(mails.loc[mails["email"].isin(leaked_emails), "mail_id"]) == set(leaking["mail_id"])
    for subject in leaking["mail_subject"]:
        assert is_luhn_valid(CARD.search(subject).group())
    for column in ("mail_id", "email", "date", "mail_text"):
        assert not mails[column].str.contains(CARD).any()


def test_leaks_json_matches_result(generated: DatagenResult, customers: pd.DataFrame) -> None:
    leaks = json.loads(generated.leaks_path.read_text(encoding="utf-8"))
    assert leaks["leaked_customer_ids"] == list(generated.leaked_customer_ids)
    assert leaks["leaked_mail_ids"] == list(generated.leaked_mail_ids)
    emails = customers.set_index("customer_id").loc[leaks["leaked_customer_ids"], "customer_email"]
    assert leaks["leaked_customer_emails"] == emails.tolist()
    assert (leaks["num_customers"], leaks["num_mails"]) == (NUM_CUSTOMERS, 10 * NUM_CUSTOMERS)


def test_raw_lines_split_into_five_fields(generated: DatagenResult) -> None:
    for path in (generated.customers_path, generated.mails_path):
        raw = path.read_bytes()
        assert b"\r" not in raw and b'"' not in raw
        lines = raw.decode("utf-8").split("\n")
        assert lines[-1] == ""
        assert all(len(line.split(",")) == 5 for line in lines[:-1])
        assert all(field.strip() for line in lines[:-1] for field in line.split(","))


def test_luhn_check() -> None:
    assert is_luhn_valid("4532 0151 1283 0366")
    assert not is_luhn_valid("4532 0151 1283 0367")
    assert not is_luhn_valid("")


@pytest.mark.parametrize(("num_customers", "mails_per_customer"), [(0, 10), (-3, 10), (5, 0)])
def test_generate_rejects_bad_sizes_and_writes_nothing(
    tmp_path: Path, num_customers: int, mails_per_customer: int
) -> None:
    with pytest.raises(DatagenError, match="at least 1"):
        generate(num_customers, tmp_path / "out", mails_per_customer=mails_per_customer)
    assert not (tmp_path / "out").exists()


def test_generate_rejects_a_file_as_out_dir(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("keep me")
    with pytest.raises(DatagenError, match="existing file"):
        generate(3, file)
    with pytest.raises(DatagenError, match="is a file"):
        generate(3, file / "sub")
    assert file.read_text() == "keep me"


def test_generate_rejects_unwritable_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Faked because the tests may run as root, who can write into a read-only directory.
    monkeypatch.setattr("lester.datagen.os.access", lambda path, mode: path != tmp_path)
    with pytest.raises(DatagenError, match="not writable"):
        generate(3, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_files(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(
        datagen,
        ["--customers", "50", "--out", str(out), "--seed", "3", "--mails-per-customer", "2"],
    )
    assert result.exit_code == 0, result.output
    assert {path.name for path in out.iterdir()} == {"customers.csv", "mails.csv", "leaks.json"}
    assert len((out / "mails.csv").read_text().splitlines()) == 100
    assert "50 customers" in result.output
    assert "credit-card number" in result.output


def test_cli_rejects_zero_customers(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(datagen, ["--customers", "0", "--out", str(out)])
    assert result.exit_code != 0
    assert "--customers" in result.output
    assert not out.exists()


def test_cli_rejects_existing_file_as_out(tmp_path: Path) -> None:
    file = tmp_path / "file.csv"
    file.write_text("keep me")
    result = CliRunner().invoke(datagen, ["--customers", "5", "--out", str(file)])
    assert result.exit_code != 0
    assert "existing file" in result.output
    assert file.read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file.csv"]
