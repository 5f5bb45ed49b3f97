"""Sources: read_csv, read_parquet and from_pandas, and the identity of their tuples."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import lester as lt
from lester.errors import DuplicateKeyError, LesterError, SchemaError, SourceReadError

CUSTOMER_NAMES = ["customer_id", "customer_email", "bank", "country", "level"]


def write(path, text: str):
    path.write_text(text)
    return path


@pytest.fixture
def customers_csv(tmp_path):
    return write(
        tmp_path / "customers.csv",
        "C00001,a@x.com,Bank A,DE,premium\n"
        "C00002,b@x.com,Bank B,FR,standard\n"
        "C00003,c@x.com,Bank C,US,premium\n",
    )


def test_read_csv_names_source_after_file_stem(customers_csv):
    frame = lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES)
    assert frame.sources == ["customers"]
    assert frame.provenance_of(0) == "customers[0]"


def test_read_csv_name_overrides_file_stem(customers_csv):
    frame = lt.read_csv(customers_csv, name="clients", header=None, names=CUSTOMER_NAMES)
    assert frame.sources == ["clients"]
    assert frame.provenance_of(2) == "clients[2]"


def test_read_csv_with_header_none_and_names(customers_csv):
    frame = lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES)
    data = frame.to_pandas()
    assert frame.columns == CUSTOMER_NAMES
    assert list(data.columns) == CUSTOMER_NAMES
    assert data["customer_id"].tolist() == ["C00001", "C00002", "C00003"]
    assert data["country"].tolist() == ["DE", "FR", "US"]


def test_read_csv_with_header_row(tmp_path):
    path = write(tmp_path / "people.csv", "id,name\n7,ann\n9,bob\n")
    frame = lt.read_csv(path, primary_key="id")
    assert frame.columns == ["id", "name"]
    assert frame.provenance_of(1) == "people[9]"


def test_primary_key_values_identify_tuples(customers_csv):
    frame = lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES, primary_key="customer_id")
    assert [frame.provenance_of(i) for i in range(3)] == [
        "customers[C00001]",
        "customers[C00002]",
        "customers[C00003]",
    ]
    assert frame.source_keys("customers").tolist() == ["C00001", "C00002", "C00003"]


def test_primary_key_identity_survives_filter(customers_csv):
    frame = lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES, primary_key="customer_id")
    premium = frame.filter("level == 'premium'")
    assert [premium.provenance_of(i) for i in range(2)] == [
        "customers[C00001]",
        "customers[C00003]",
    ]


def test_without_primary_key_tuples_are_row_numbers(customers_csv):
    frame = lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES)
    filtered = frame.filter("country != 'DE'")
    assert [filtered.provenance_of(i) for i in range(2)] == ["customers[1]", "customers[2]"]
    assert filtered.source_keys("customers").tolist() == [1, 2]


def test_duplicate_primary_key_names_the_duplicates(tmp_path):
    path = write(tmp_path / "dup.csv", "id,v\nK1,1\nK2,2\nK1,3\nK3,4\nK3,5\n")
    with pytest.raises(DuplicateKeyError) as error:
        lt.read_csv(path, primary_key="id")
    message = str(error.value)
    assert "'K1'" in message
    assert "'K3'" in message
    assert "'K2'" not in message
    assert "'id'" in message


def test_duplicate_primary_key_in_from_pandas():
    with pytest.raises(DuplicateKeyError, match="7"):
        lt.from_pandas(pd.DataFrame({"id": [7, 8, 7]}), name="s", primary_key="id")


def test_unknown_primary_key_column_names_columns(customers_csv):
    with pytest.raises(LesterError) as error:
        lt.read_csv(customers_csv, header=None, names=CUSTOMER_NAMES, primary_key="cid")
    assert "'cid'" in str(error.value)
    assert "customer_id" in str(error.value)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "missing.csv"
    with pytest.raises(SourceReadError) as error:
        lt.read_csv(path, header=None, names=["a"])
    assert str(path) in str(error.value)


def test_missing_parquet_file_names_the_path(tmp_path):
    path = tmp_path / "missing.parquet"
    with pytest.raises(SourceReadError, match=r"missing\.parquet"):
        lt.read_parquet(path)


def test_directory_is_not_a_source_file(tmp_path):
    with pytest.raises(SourceReadError, match=re.escape(tmp_path.name)):
        lt.read_csv(tmp_path)


def test_names_shorter_than_fields_is_schema_error(tmp_path):
    path = write(tmp_path / "wide.csv", "x1,a,b\nx2,c,d\n")
    with pytest.raises(SchemaError) as error:
        lt.read_csv(path, header=None, names=["first", "second"])
    assert "'first'" in str(error.value)


def test_names_shorter_than_fields_with_sequential_ids_is_schema_error(tmp_path):
    # Like the paper's customers.csv, whose first field is 0, 1, 2, ...: pandas turns the
    # surplus leading field into a RangeIndex, which must not hide the mismatch.
    path = write(tmp_path / "customers.csv", "0,a@x,DE\n1,b@x,FR\n2,c@x,US\n")
    with pytest.raises(SchemaError):
        lt.read_csv(path, header=None, names=["email", "country"])


def test_names_longer_than_fields_is_schema_error(tmp_path):
    path = write(tmp_path / "narrow.csv", "1,a\n2,b\n")
    with pytest.raises(SchemaError) as error:
        lt.read_csv(path, header=None, names=["id", "name", "extra"])
    assert "'extra'" in str(error.value)
    assert "2 fields" in str(error.value)


def test_read_parquet(tmp_path):
    path = tmp_path / "mails.parquet"
    pd.DataFrame({"mail_id": ["m1", "m2"], "subject": ["hi", "yo"]}).to_parquet(path)
    frame = lt.read_parquet(path, primary_key="mail_id")
    assert frame.sources == ["mails"]
    assert frame.to_pandas()["subject"].tolist() == ["hi", "yo"]
    assert frame.provenance_of(1) == "mails[m2]"


def test_read_parquet_ignores_stored_index_and_overrides_name(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"v": [1, 2]}, index=[10, 20]).to_parquet(path)
    frame = lt.read_parquet(path, name="values")
    assert frame.sources == ["values"]
    assert frame.provenance_of(1) == "values[1]"
    assert frame.to_pandas().index.tolist() == [0, 1]


def test_from_pandas_ignores_the_index():
    data = pd.DataFrame({"v": ["a", "b", "c"]}, index=pd.Index([30, 10, 20], name="idx"))
    frame = lt.from_pandas(data, name="s")
    assert frame.columns == ["v"]
    assert [frame.provenance_of(i) for i in range(3)] == ["s[0]", "s[1]", "s[2]"]
    assert frame.to_pandas().index.tolist() == [0, 1, 2]
    assert frame.filter("v == 'c'").source_keys("s").tolist() == [2]


def test_from_pandas_with_primary_key():
    frame = lt.from_pandas(pd.DataFrame({"id": [5, 3], "v": [1, 2]}), "s", primary_key="id")
    assert frame.provenance_of(1) == "s[3]"


def test_from_pandas_is_not_affected_by_later_changes_of_the_input():
    data = pd.DataFrame({"v": [1, 2]})
    frame = lt.from_pandas(data, name="s")
    data.loc[0, "v"] = 99
    assert frame.to_pandas()["v"].tolist() == [1, 2]


def test_from_pandas_rejects_non_frames():
    with pytest.raises(SchemaError, match="list"):
        lt.from_pandas([1, 2], name="s")


def test_sources_need_a_non_empty_name():
    with pytest.raises(SchemaError):
        lt.from_pandas(pd.DataFrame({"a": [1]}), name="")


def test_read_csv_of_an_empty_or_header_only_file_with_names_has_no_rows(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,country\n")
    for path, header in ((empty, None), (header_only, 0)):
        frame = lt.read_csv(path, header=header, names=["id", "country"], dtype=str)
        assert frame.columns == ["id", "country"]
        assert len(frame) == 0
    with pytest.raises(lt.LesterError, match="empty"):
        lt.read_csv(empty)
