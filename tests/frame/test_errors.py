"""Bad input raises a LesterError subclass whose message names what is wrong and what exists."""

from __future__ import annotations

import pandas as pd
import pytest

import lester as lt
from lester.errors import (
    InvalidExpressionError,
    KeyTypeError,
    LesterError,
    SchemaError,
    UnknownColumnError,
    UnknownSourceError,
)

COLUMNS = ["id", "email", "country"]


def customers() -> lt.TrackedFrame:
    data = pd.DataFrame({"id": [1, 2], "email": ["a@x", "b@x"], "country": ["DE", "FR"]})
    return lt.from_pandas(data, name="customers", primary_key="id")


def mails() -> lt.TrackedFrame:
    data = pd.DataFrame({"mid": ["m1"], "sender": ["a@x"], "text": ["hi"]})
    return lt.from_pandas(data, name="mails", primary_key="mid")


def assert_names(error: pytest.ExceptionInfo, wrong: str, available: list[str]) -> None:
    message = str(error.value)
    assert repr(wrong) in message
    for column in available:
        assert repr(column) in message


# ---------------------------------------------------------------------------- unknown columns
def test_unknown_column_in_filter_string():
    with pytest.raises(UnknownColumnError) as error:
        customers().filter("cuntry == 'DE'")
    assert_names(error, "cuntry", COLUMNS)


def test_unknown_column_among_known_ones_in_filter_string():
    with pytest.raises(UnknownColumnError) as error:
        customers().filter("country == 'DE' and age > 3")
    assert_names(error, "age", COLUMNS)
    assert "'country' " not in str(error.value).split("columns are")[0]


def test_unknown_declared_column_of_callable_filter():
    with pytest.raises(UnknownColumnError) as error:
        customers().filter(lambda row: True, source_columns=["level"])
    assert_names(error, "level", COLUMNS)


def test_unknown_source_column_of_project():
    with pytest.raises(UnknownColumnError) as error:
        customers().project("x", ["country", "level"], lambda row: 1)
    assert_names(error, "level", COLUMNS)


def test_unknown_left_join_key():
    with pytest.raises(UnknownColumnError) as error:
        lt.join(mails(), customers(), left_on="email", right_on="email")
    assert_names(error, "email", ["mid", "sender", "text"])


def test_unknown_right_join_key():
    with pytest.raises(UnknownColumnError) as error:
        lt.join(mails(), customers(), left_on="sender", right_on="mail")
    assert_names(error, "mail", COLUMNS)


def test_unknown_selected_column():
    with pytest.raises(UnknownColumnError) as error:
        customers()[["id", "bank"]]
    assert_names(error, "bank", COLUMNS)


def test_unknown_renamed_column():
    with pytest.raises(UnknownColumnError) as error:
        customers().rename(columns={"mail": "email_address"})
    assert_names(error, "mail", COLUMNS)


def test_unknown_exploded_column():
    with pytest.raises(UnknownColumnError) as error:
        customers().explode("tags")
    assert_names(error, "tags", COLUMNS)


def test_unknown_group_key():
    with pytest.raises(UnknownColumnError) as error:
        customers().groupby("city").agg(n=("id", "count"))
    assert_names(error, "city", COLUMNS)


def test_unknown_aggregated_column():
    with pytest.raises(UnknownColumnError) as error:
        customers().groupby("country").agg(total=("amount", "sum"))
    assert_names(error, "amount", COLUMNS)


def test_unknown_column_error_is_a_key_error_with_a_plain_message():
    with pytest.raises(KeyError) as error:
        customers()[["nope"]]
    assert str(error.value).startswith("unknown column 'nope'")


# ---------------------------------------------------------------------------- filter strings
@pytest.mark.parametrize("expression", ["country ==", "country = 'DE'", "(country", "a b"])
def test_invalid_filter_syntax(expression):
    with pytest.raises(InvalidExpressionError) as error:
        customers().filter(expression)
    assert repr(expression) in str(error.value)


@pytest.mark.parametrize("expression", ["", "   "])
def test_empty_filter_string(expression):
    with pytest.raises(InvalidExpressionError):
        customers().filter(expression)


def test_filter_with_undefined_variable_names_it():
    with pytest.raises(InvalidExpressionError) as error:
        customers().filter("country in @no_such_countries")
    assert "no_such_countries" in str(error.value)


def test_filter_failing_on_the_data():
    with pytest.raises(InvalidExpressionError, match="country > 5"):
        customers().filter("country > 5")


def test_filter_callable_returning_non_booleans():
    with pytest.raises(InvalidExpressionError):
        customers().filter(lambda df: df["id"] * 1.5, source_columns=["id"], vectorized=True)


def test_filter_with_neither_string_nor_callable():
    with pytest.raises(SchemaError, match="int"):
        customers().filter(42)


# ---------------------------------------------------------------------------- project
def test_project_source_columns_given_as_string():
    with pytest.raises(SchemaError) as error:
        customers().project("x", "country", lambda row: row["country"])
    assert "'country'" in str(error.value)


def test_project_with_empty_target_column():
    with pytest.raises(SchemaError):
        customers().project("", ["country"], lambda row: 1)


def test_project_with_non_callable_func():
    with pytest.raises(SchemaError, match="'x'"):
        customers().project("x", ["country"], "lower")


def test_vectorized_project_returning_wrong_length():
    with pytest.raises(SchemaError, match="'x'"):
        customers().project("x", ["id"], lambda df: [1, 2, 3], vectorized=True)


def test_vectorized_project_returning_a_scalar():
    with pytest.raises(SchemaError):
        customers().project("x", ["id"], lambda df: 1, vectorized=True)


# ---------------------------------------------------------------------------- join
def test_join_key_type_mismatch():
    numbers = lt.from_pandas(pd.DataFrame({"sender": [1]}), name="numbers")
    with pytest.raises(SchemaError) as error:
        lt.join(mails(), numbers, on="sender")
    assert "sender" in str(error.value)


def test_join_with_unsupported_how():
    with pytest.raises(SchemaError) as error:
        lt.join(mails(), customers(), left_on="sender", right_on="email", how="outer")
    assert "'outer'" in str(error.value)
    assert "'left'" in str(error.value)


def test_join_without_keys():
    with pytest.raises(SchemaError):
        lt.join(mails(), customers(), left_on="sender")


def test_join_with_different_numbers_of_keys():
    with pytest.raises(SchemaError):
        lt.join(mails(), customers(), left_on=["sender", "text"], right_on=["email"])


def test_join_with_a_pandas_frame():
    with pytest.raises(SchemaError, match="DataFrame"):
        lt.join(mails(), pd.DataFrame({"email": []}), left_on="sender", right_on="email")


# ---------------------------------------------------------------------------- select, rename
def test_select_with_a_string():
    with pytest.raises(SchemaError, match=r"\[\['country'\]\]"):
        customers()["country"]


def test_select_a_column_twice():
    with pytest.raises(SchemaError):
        customers()[["id", "id"]]


def test_rename_without_mapping():
    with pytest.raises(SchemaError):
        customers().rename(columns=["id"])


def test_rename_onto_an_existing_column():
    with pytest.raises(SchemaError, match="'email'"):
        customers().rename(columns={"country": "email"})


# ---------------------------------------------------------------------------- groupby
def test_groupby_with_unknown_aggregate_function():
    with pytest.raises(SchemaError) as error:
        customers().groupby("country").agg(n=("id", "median"))
    assert "'median'" in str(error.value)
    assert "'count'" in str(error.value)


def test_groupby_without_aggregates():
    with pytest.raises(SchemaError):
        customers().groupby("country").agg()


def test_groupby_with_malformed_aggregate():
    with pytest.raises(SchemaError, match="'n'"):
        customers().groupby("country").agg(n="count")


def test_groupby_output_clashing_with_key():
    with pytest.raises(SchemaError):
        customers().groupby("country").agg(country=("id", "count"))


# ---------------------------------------------------------------------------- forget
def test_forget_unknown_source_names_known_sources():
    with pytest.raises(UnknownSourceError) as error:
        customers().forget({"customer": [1]})
    assert "'customer'" in str(error.value)
    assert "'customers'" in str(error.value)


def test_forget_keys_of_the_wrong_type():
    with pytest.raises(KeyTypeError) as error:
        customers().forget({"customers": ["1"]})
    assert "'id'" in str(error.value)
    assert "'1'" in str(error.value)


# ---------------------------------------------------------------------------- common
def test_every_error_is_a_lester_error():
    bad_calls = [
        lambda: customers().filter("nope > 1"),
        lambda: customers().filter("nope >"),
        lambda: customers().project("x", "id", len),
        lambda: customers()[["nope"]],
        lambda: customers().forget({"nope": [1]}),
        lambda: customers().forget({"customers": [3]}),
        lambda: customers().forget({"customers": ["3"]}),
        lambda: lt.read_csv("/nonexistent/file.csv"),
    ]
    for call in bad_calls:
        with pytest.raises(LesterError):
            call()


def test_failed_operator_leaves_input_frame_usable():
    frame = customers()
    plan = str(frame.plan)
    with pytest.raises(LesterError):
        frame.filter("nope > 1")
    with pytest.raises(LesterError):
        frame.project("x", ["id"], lambda row: row["email"])
    assert str(frame.plan) == plan
    assert frame.columns == COLUMNS
    assert frame.filter("id > 1").provenance_of(0) == "customers[2]"
