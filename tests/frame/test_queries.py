"""Provenance queries: source_keys, rows_from and forget."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import lester as lt
from lester.errors import (
    KeyTypeError,
    LesterError,
    SchemaError,
    UnknownKeyError,
    UnknownSourceError,
)

CUSTOMERS = pd.DataFrame(
    {
        "cid": ["C1", "C2", "C3", "C4"],
        "email": ["a@x", "b@x", "c@x", "d@x"],
        "country": ["DE", "FR", "DE", "US"],
    }
)
MAILS = pd.DataFrame(
    {
        "mid": [10, 11, 12, 13, 14, 15],
        "email": ["a@x", "a@x", "b@x", "c@x", "c@x", "z@x"],
        "n": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0],
    }
)

Pipeline = Callable[[lt.TrackedFrame, lt.TrackedFrame], lt.TrackedFrame]


def sources(
    customers: pd.DataFrame = CUSTOMERS, mails: pd.DataFrame = MAILS
) -> tuple[lt.TrackedFrame, lt.TrackedFrame]:
    return (
        lt.from_pandas(customers, name="customers", primary_key="cid"),
        lt.from_pandas(mails, name="mails", primary_key="mid"),
    )


def contents(frame: lt.TrackedFrame) -> Counter:
    """The frame as a multiset of (row values, canonical polynomial); nulls become None."""
    data = frame.to_pandas().astype(object)
    data = data.where(data.notna(), None)
    values = data.itertuples(index=False, name=None)
    return Counter(zip(values, frame.provenance_canonical(), strict=True))


def assert_forget_equals_rebuild(pipeline: Pipeline, forget: dict) -> lt.TrackedFrame:
    """forget on the pipeline's output equals the pipeline run on the remaining tuples."""
    frame = pipeline(*sources())
    forgotten = frame.forget(forget)
    remaining = sources(
        CUSTOMERS[~CUSTOMERS["cid"].isin(forget.get("customers", []))],
        MAILS[~MAILS["mid"].isin(forget.get("mails", []))],
    )
    assert contents(forgotten) == contents(pipeline(*remaining))
    assert forgotten.columns == frame.columns
    return forgotten


def by_key(frame: lt.TrackedFrame, key: str) -> dict:
    return {row[key]: row for row in frame.to_pandas().to_dict("records")}


def inner(customers, mails):
    return lt.join(mails, customers, on="email")


def customer_mails(customers, mails):
    return lt.join(customers, mails, on="email", how="left")


def mail_stats(customers, mails):
    return mails.groupby("email").agg(
        k=("n", "count"), total=("n", "sum"), avg=("n", "mean"), lo=("n", "min"), hi=("n", "max")
    )


# ---------------------------------------------------------------------------- source_keys
def test_source_keys_names_the_customers_that_reach_the_result():
    result = inner(*sources()).filter("n < 10")
    assert result.source_keys("customers").tolist() == ["C1", "C2", "C3"]
    assert result.source_keys("mails").tolist() == [10, 11, 12, 13]


def test_source_keys_of_row_number_source():
    frame = lt.from_pandas(pd.DataFrame({"v": [5, 6, 7, 8]}), name="s").filter("v % 2 == 0")
    assert frame.source_keys("s").tolist() == [1, 3]


def test_source_keys_include_every_monomial_of_a_group():
    grouped = mail_stats(*sources()).filter("k > 1")
    assert grouped.source_keys("mails").tolist() == [10, 11, 13, 14]


def test_source_keys_of_self_join_cover_both_occurrences():
    c = lt.from_pandas(pd.DataFrame({"id": ["u", "v", "w"], "g": [1, 2, 2]}), "c", "id")
    pairs = c.join(c, on="g").filter("id_x != id_y")
    assert pairs.source_keys("c").tolist() == ["v", "w"]


def test_source_keys_of_empty_result():
    frame = inner(*sources()).filter("n > 1000")
    assert frame.source_keys("customers").tolist() == []


def test_source_keys_of_unknown_source_names_the_known_ones():
    with pytest.raises(UnknownSourceError) as error:
        inner(*sources()).source_keys("orders")
    assert "'orders'" in str(error.value)
    assert "'customers'" in str(error.value)
    assert "'mails'" in str(error.value)


# ---------------------------------------------------------------------------- rows_from
def test_rows_from_returns_positions_of_rows_touching_the_keys():
    result = inner(*sources())
    positions = result.rows_from("customers", ["C1", "C3"])
    emails = result.to_pandas()["email"].iloc[positions].tolist()
    assert sorted(emails) == ["a@x", "a@x", "c@x", "c@x"]
    assert len(positions) == 4


def test_rows_from_a_group_member():
    grouped = mail_stats(*sources())
    positions = grouped.rows_from("mails", [14])
    assert grouped.to_pandas()["email"].iloc[positions].tolist() == ["c@x"]


def test_rows_from_key_that_reaches_nothing():
    result = inner(*sources())
    assert result.rows_from("customers", ["C4"]).tolist() == []


def test_rows_from_unknown_key():
    with pytest.raises(UnknownKeyError, match="C9"):
        inner(*sources()).rows_from("customers", ["C9"])


# ---------------------------------------------------------------------------- forget: positive
def test_forget_removes_rows_of_a_join():
    result = inner(*sources())
    forgotten = result.forget({"customers": ["C1"]})
    assert sorted(forgotten.to_pandas()["mid"].tolist()) == [12, 13, 14]
    assert sorted(forgotten.provenance_of(i) for i in range(3)) == [
        "mails[12]*customers[C2]",
        "mails[13]*customers[C3]",
        "mails[14]*customers[C3]",
    ]
    assert "C1" not in forgotten.source_keys("customers").tolist()


def test_forget_leaves_the_original_frame_unchanged():
    result = inner(*sources())
    before = contents(result)
    result.forget({"customers": ["C1"], "mails": [13]})
    assert contents(result) == before


def test_forget_on_filter_and_join_equals_rebuild():
    def pipeline(customers, mails):
        return inner(customers.filter("country == 'DE'"), mails.filter("n > 1"))

    assert_forget_equals_rebuild(pipeline, {"mails": [13], "customers": ["C1"]})


def test_forget_keeps_distinct_row_with_fewer_monomials():
    distinct = lt.from_pandas(MAILS, "mails", "mid")[["email"]].distinct()
    forgotten = distinct.forget({"mails": [10]})
    rows = dict(zip(forgotten.to_pandas()["email"], range(len(forgotten)), strict=True))
    assert forgotten.provenance_of(rows["a@x"]) == "mails[11]"
    assert forgotten.provenance_of(rows["c@x"]) == "mails[13] + mails[14]"


def test_forget_removes_distinct_row_when_all_monomials_are_gone():
    distinct = lt.from_pandas(MAILS, "mails", "mid")[["email"]].distinct()
    forgotten = distinct.forget({"mails": [10, 11]})
    assert sorted(forgotten.to_pandas()["email"]) == ["b@x", "c@x", "z@x"]


def test_forget_on_union_and_distinct_equals_rebuild():
    def pipeline(customers, mails):
        return lt.union([customers[["email"]], mails[["email"]]]).distinct()

    assert_forget_equals_rebuild(pipeline, {"customers": ["C1", "C2"], "mails": [10, 15]})


def test_forget_on_explode():
    data = pd.DataFrame({"id": ["a", "b"], "tags": [["x", "y"], ["z"]]})
    exploded = lt.from_pandas(data, "s", "id").explode("tags")
    forgotten = exploded.forget({"s": ["a"]})
    assert forgotten.to_pandas()["tags"].tolist() == ["z"]
    assert forgotten.provenance_of(0) == "s[b]"


def test_forget_on_self_join_removes_both_occurrences():
    c = lt.from_pandas(pd.DataFrame({"id": ["u", "v", "w"], "g": [1, 2, 2]}), "c", "id")
    forgotten = c.join(c, on="g").forget({"c": ["w"]})
    assert sorted(forgotten.provenance_of(i) for i in range(len(forgotten))) == [
        "c[u]*c[u]",
        "c[v]*c[v]",
    ]


# ---------------------------------------------------------------------------- forget: groupby
def test_forget_recomputes_group_aggregates():
    forgotten = mail_stats(*sources()).forget({"mails": [13]})
    group = by_key(forgotten, "email")["c@x"]
    assert (group["k"], group["total"], group["avg"], group["lo"], group["hi"]) == (
        1,
        16.0,
        16.0,
        16.0,
        16.0,
    )
    untouched = by_key(forgotten, "email")["a@x"]
    assert (untouched["k"], untouched["total"], untouched["avg"]) == (2, 3.0, 1.5)


def test_forget_recomputed_group_has_remaining_members_as_provenance():
    forgotten = mail_stats(*sources()).forget({"mails": [11]})
    row = forgotten.to_pandas()["email"].tolist().index("a@x")
    assert forgotten.provenance_of(row) == "mails[10]"


def test_forget_removes_group_when_all_members_are_gone():
    forgotten = mail_stats(*sources()).forget({"mails": [13, 14]})
    assert sorted(forgotten.to_pandas()["email"]) == ["a@x", "b@x", "z@x"]


def test_forget_on_groupby_equals_rebuild():
    assert_forget_equals_rebuild(mail_stats, {"mails": [10, 12, 14]})


def test_forget_on_groupby_after_join_equals_rebuild():
    def pipeline(customers, mails):
        return (
            inner(customers, mails).groupby("country").agg(k=("mid", "count"), total=("n", "sum"))
        )

    assert_forget_equals_rebuild(pipeline, {"customers": ["C3"], "mails": [10]})


def test_forget_can_make_a_filtered_group_appear():
    data = pd.DataFrame({"id": [1, 2, 3, 4], "k": ["a", "a", "b", "b"], "v": [5, -4, 2, 2]})
    threshold = 3
    big = lt.from_pandas(data, "s", "id").groupby("k").agg(total=("v", "sum"))
    big = big.filter("total >= @threshold")
    threshold = 100  # noqa: F841 - the filter keeps the value bound when it was called
    assert big.to_pandas()["k"].tolist() == ["b"]
    forgotten = big.forget({"s": [2]})
    assert sorted(forgotten.to_pandas()["k"]) == ["a", "b"]
    row = forgotten.to_pandas()["k"].tolist().index("a")
    assert forgotten.provenance_of(row) == "s[1]"
    assert forgotten.to_pandas()["total"].iloc[row] == 5


def test_forget_on_join_above_groupby_equals_rebuild():
    def pipeline(customers, mails):
        stats = mail_stats(customers, mails)
        return lt.join(stats, customers, on="email").filter("total > 2")

    assert_forget_equals_rebuild(pipeline, {"mails": [10, 13], "customers": ["C2"]})


# ---------------------------------------------------------------------------- forget: left join
def test_forget_only_partner_makes_left_row_reappear_unmatched():
    result = customer_mails(*sources())
    forgotten = result.forget({"mails": [12]})
    row = forgotten.to_pandas()["cid"].tolist().index("C2")
    data = forgotten.to_pandas().iloc[row]
    assert pd.isna(data["mid"])
    assert pd.isna(data["n"])
    assert forgotten.provenance_of(row) == "customers[C2]"
    assert forgotten.to_pandas()["cid"].tolist().count("C2") == 1


def test_forget_one_of_two_partners_keeps_left_row_matched():
    forgotten = customer_mails(*sources()).forget({"mails": [10]})
    data = forgotten.to_pandas()
    c1 = data[data["cid"] == "C1"]
    assert c1["mid"].tolist() == [11]
    assert sorted(forgotten.provenance_of(i) for i in np.flatnonzero(data["cid"] == "C1")) == [
        "customers[C1]*mails[11]"
    ]


def test_forget_all_partners_makes_left_row_reappear_once():
    forgotten = customer_mails(*sources()).forget({"mails": [10, 11]})
    data = forgotten.to_pandas()
    c1 = data[data["cid"] == "C1"]
    assert len(c1) == 1
    assert pd.isna(c1["mid"].iloc[0])


def test_forget_left_row_of_left_join_removes_it():
    forgotten = customer_mails(*sources()).forget({"customers": ["C4", "C1"]})
    assert sorted(set(forgotten.to_pandas()["cid"])) == ["C2", "C3"]


def test_forget_on_left_join_equals_rebuild():
    assert_forget_equals_rebuild(customer_mails, {"mails": [10, 11, 12, 13], "customers": ["C4"]})


def test_forget_on_groupby_above_left_join_equals_rebuild():
    def pipeline(customers, mails):
        return customer_mails(customers, mails).groupby("cid").agg(k=("mid", "count"))

    forgotten = assert_forget_equals_rebuild(pipeline, {"mails": [12, 13]})
    assert by_key(forgotten, "cid")["C2"]["k"] == 0


# ---------------------------------------------------------------------------- forget: repeated
@pytest.mark.parametrize("pipeline", [inner, mail_stats, customer_mails], ids=lambda f: f.__name__)
def test_forget_twice_equals_forget_union(pipeline):
    frame = pipeline(*sources())
    twice = frame.forget({"mails": [10, 13]}).forget({"mails": [12, 14]})
    once = frame.forget({"mails": [10, 12, 13, 14]})
    assert contents(twice) == contents(once)


@pytest.mark.parametrize("pipeline", [inner, customer_mails], ids=lambda f: f.__name__)
def test_forget_twice_from_two_sources_equals_forget_union(pipeline):
    frame = pipeline(*sources())
    twice = frame.forget({"mails": [11]}).forget({"customers": ["C3"], "mails": [12]})
    once = frame.forget({"mails": [11, 12], "customers": ["C3"]})
    assert contents(twice) == contents(once)


def test_forget_the_same_keys_twice_is_idempotent():
    frame = mail_stats(*sources())
    once = frame.forget({"mails": [13]})
    assert contents(once.forget({"mails": [13]})) == contents(once)


def test_operators_apply_after_forget():
    forgotten = inner(*sources()).forget({"customers": ["C3"]})
    result = forgotten.project("double", ["n"], lambda row: row["n"] * 2).filter("double > 2")
    assert sorted(result.to_pandas()["double"].tolist()) == [4.0, 8.0]
    grouped = forgotten.groupby("cid").agg(k=("mid", "count"))
    assert by_key(grouped, "cid")["C1"]["k"] == 2
    assert "C3" not in grouped.to_pandas()["cid"].tolist()


def test_forget_after_forget_and_groupby_equals_rebuild():
    frame = mail_stats(*sources()).forget({"mails": [10]})
    regrouped = frame.groupby("k").agg(emails=("email", "count"))
    forgotten = regrouped.forget({"mails": [13]})
    expected = mail_stats(*sources(mails=MAILS[~MAILS["mid"].isin([10, 13])]))
    expected = expected.groupby("k").agg(emails=("email", "count"))
    assert contents(forgotten) == contents(expected)


def test_forget_nothing_keeps_every_row():
    frame = mail_stats(*sources())
    assert contents(frame.forget({"mails": []})) == contents(frame)


# ---------------------------------------------------------------------------- forget: keys
def test_forget_keys_are_row_numbers_without_primary_key():
    frame = lt.from_pandas(pd.DataFrame({"v": ["a", "b", "c"]}), name="s").filter("v != 'a'")
    forgotten = frame.forget({"s": [2]})
    assert forgotten.to_pandas()["v"].tolist() == ["b"]
    assert forgotten.provenance_of(0) == "s[1]"


def test_forget_accepts_a_single_key():
    forgotten = inner(*sources()).forget({"customers": "C1"})
    assert sorted(forgotten.source_keys("customers").tolist()) == ["C2", "C3"]


def test_forget_accepts_numpy_integer_keys():
    forgotten = inner(*sources()).forget({"mails": np.array([10, 11])})
    assert forgotten.source_keys("mails").tolist() == [12, 13, 14]


def test_forget_of_unknown_source_names_the_known_sources():
    with pytest.raises(UnknownSourceError) as error:
        inner(*sources()).forget({"orders": [1]})
    assert "'orders'" in str(error.value)
    assert "'customers'" in str(error.value)
    assert "'mails'" in str(error.value)


def test_forget_with_keys_of_the_wrong_type():
    with pytest.raises(KeyTypeError) as error:
        inner(*sources()).forget({"mails": ["10"]})
    assert "'10'" in str(error.value)
    assert "str" in str(error.value)


def test_forget_with_row_numbers_of_the_wrong_type():
    frame = lt.from_pandas(pd.DataFrame({"v": [1, 2]}), name="s")
    with pytest.raises(KeyTypeError, match="row number"):
        frame.forget({"s": [1.0]})


def test_forget_with_bool_row_numbers_is_a_type_error():
    frame = lt.from_pandas(pd.DataFrame({"v": [1, 2]}), name="s")
    with pytest.raises(KeyTypeError):
        frame.forget({"s": [True]})


def test_forget_with_unknown_key_names_it():
    with pytest.raises(UnknownKeyError) as error:
        inner(*sources()).forget({"customers": ["C1", "C9"]})
    assert "'C9'" in str(error.value)
    assert "'C1'" not in str(error.value)


def test_forget_with_row_number_out_of_range():
    frame = lt.from_pandas(pd.DataFrame({"v": [1, 2]}), name="s")
    with pytest.raises(UnknownKeyError, match="5"):
        frame.forget({"s": [5]})


@pytest.mark.parametrize("argument", [["C1"], "customers", ("customers", ["C1"])])
def test_forget_needs_a_mapping(argument):
    with pytest.raises(SchemaError) as error:
        inner(*sources()).forget(argument)
    assert isinstance(error.value, LesterError)
    assert "mapping" in str(error.value)
