"""Typed column lineage of plans built with the public API, against expectations written
from each operator's meaning."""

from __future__ import annotations

import pandas as pd

import lester as lt
from lester.lineage.columns import plan_lineage

ORDERS = pd.DataFrame({"id": [1, 2, 3], "cid": [1, 1, 2], "amount": [5.0, 7.0, 1.0],
                       "tags": [["a"], ["b", "c"], []]})  # fmt: skip
CUSTOMERS = pd.DataFrame({"cid": [1, 2], "country": ["DE", "FR"], "age": [30, 40]})


def frames():
    orders = lt.from_pandas(ORDERS, "orders", primary_key="id")
    customers = lt.from_pandas(CUSTOMERS, "customers", primary_key="cid")
    return orders, customers


def test_selection_rename_and_filter_copy_values_and_filters_decide_rows():
    orders, _ = frames()
    frame = orders.filter("amount > 2").rename(columns={"amount": "total"})[["total", "cid"]]
    lineage = plan_lineage(frame._node)
    assert lineage.columns == {
        "total": {"orders.amount": "IDENTITY"},
        "cid": {"orders.cid": "IDENTITY"},
    }
    assert lineage.rows == {"orders.amount": ["FILTER"]}


def test_projection_transforms_and_join_keys_decide_rows():
    orders, customers = frames()
    joined = lt.join(orders, customers, left_on="cid", right_on="cid")
    frame = joined.project("label", ["country", "amount"], lambda row: f"{row['country']}")
    lineage = plan_lineage(frame._node)
    assert lineage.columns["label"] == {
        "customers.country": "TRANSFORMATION",
        "orders.amount": "TRANSFORMATION",
    }
    # the shared key column of an inner join holds the value of both keys
    assert lineage.columns["cid"] == {"customers.cid": "IDENTITY", "orders.cid": "IDENTITY"}
    assert lineage.rows == {"customers.cid": ["JOIN"], "orders.cid": ["JOIN"]}


def test_a_column_both_filtered_on_and_joined_on_has_both_subtypes():
    orders, customers = frames()
    customers = customers.filter("age > 35")
    frame = lt.join(orders.filter("cid > 0"), customers, left_on="cid", right_on="cid")
    assert plan_lineage(frame._node).rows == {
        "customers.age": ["FILTER"],
        "customers.cid": ["JOIN"],
        "orders.cid": ["FILTER", "JOIN"],
    }


def test_group_aggregates_and_distinct():
    orders, _ = frames()
    grouped = orders.groupby(["cid"]).agg(total=("amount", "sum"))
    lineage = plan_lineage(grouped._node)
    assert lineage.columns == {
        "cid": {"orders.cid": "IDENTITY"},
        "total": {"orders.amount": "AGGREGATION"},
    }
    assert lineage.rows == {"orders.cid": ["GROUP_BY"]}
    distinct = plan_lineage(orders[["cid"]].distinct()._node)
    assert distinct.rows == {"orders.cid": ["GROUP_BY"]}


def test_explode_transforms_its_column_and_decides_rows():
    orders, _ = frames()
    lineage = plan_lineage(orders.explode("tags")._node)
    assert lineage.columns["tags"] == {"orders.tags": "TRANSFORMATION"}
    assert lineage.columns["amount"] == {"orders.amount": "IDENTITY"}
    assert lineage.rows == {"orders.tags": ["EXPLODE"]}


def test_union_keeps_the_strongest_kind_per_source_column():
    orders, _ = frames()
    doubled = orders.project("amount", ["amount"], lambda row: row["amount"] * 2)
    lineage = plan_lineage(lt.union([orders, doubled])._node)
    assert lineage.columns["amount"] == {"orders.amount": "TRANSFORMATION"}
    assert lineage.columns["cid"] == {"orders.cid": "IDENTITY"}


def test_typed_lineage_agrees_with_the_plans_column_provenance():
    orders, customers = frames()
    joined = lt.join(orders.explode("tags"), customers.filter("age > 1"), left_on="cid",
                     right_on="cid", how="left")  # fmt: skip
    frame = joined.project("x", ["age", "tags"], lambda row: 1).distinct()
    lineage = plan_lineage(frame._node)
    for column, sources in frame.column_provenance.items():
        assert sorted(lineage.columns[column]) == sources
    assert sorted(lineage.rows) == frame.row_dependencies
