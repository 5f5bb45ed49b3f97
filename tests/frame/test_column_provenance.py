"""Column provenance (which source columns a column is computed from) and row dependencies
(which source columns decide which rows appear), on the paper's example and through every
operator."""

from __future__ import annotations

import pandas as pd
import pytest

import lester as lt

target_countries = ["UK", "DE", "FR"]


def matches_usecase(text: str) -> bool:
    return "complaint" in text or "bank account" in text


def sentiment_of(text: str) -> str:
    return "negative" if "angry" in text else "positive"


@pytest.fixture
def paper_sources(tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "0,a@x.com,Bank A,DE,premium\n1,b@x.com,Bank B,US,standard\n2,c@x.com,Bank C,FR,standard\n"
    )
    mails = tmp_path / "mails.csv"
    mails.write_text(
        "m0,a@x.com,2022-12-05,Urgent,I am angry and I have a complaint\n"
        "m1,b@x.com,2023-01-01,Hello,about my bank account\n"
        "m2,c@x.com,2021-03-01,Old,an old complaint\n"
        "m3,c@x.com,2023-08-20,Thanks,thanks for my bank account\n"
        "m4,a@x.com,2023-02-02,Spam,nothing relevant\n"
    )
    return customers, mails


def paper_pipeline(customers_path, mails_path) -> lt.TrackedFrame:
    customer_df = lt.read_csv(
        customers_path,
        header=None,
        names=["customer_id", "customer_email", "bank", "country", "level"],
    )
    customer_df = customer_df.filter("country in @target_countries")
    customer_df = customer_df.project(
        target_column="is_premium",
        source_columns=["level"],
        func=lambda row: row["level"] == "premium",
    )
    customer_df = customer_df[["customer_email", "bank", "country", "is_premium"]]
    mails_df = lt.read_csv(
        mails_path, header=None, names=["mail_id", "email", "raw_date", "mail_subject", "mail_text"]
    )
    mails_df = mails_df.project(
        target_column="mail_date",
        source_columns=["raw_date"],
        func=lambda df: pd.to_datetime(df["raw_date"]),
        vectorized=True,
    )
    mails_df = mails_df.filter("mail_date.dt.year >= 2022")
    mails_df = mails_df.filter("mail_text.apply(@matches_usecase)")
    merged_df = lt.join(mails_df, customer_df, left_on="email", right_on="customer_email")
    merged_df = merged_df.project(
        target_column="title",
        source_columns=["mail_subject"],
        func=lambda row: row["mail_subject"].lower(),
    )
    merged_df = merged_df.project(
        target_column="text",
        source_columns=["mail_text"],
        func=lambda row: row["mail_text"].lower(),
    )
    merged_df = merged_df.project(
        target_column="sentiment",
        source_columns=["mail_text"],
        func=lambda row: sentiment_of(row["mail_text"]),
    )
    return merged_df[["title", "text", "bank", "country", "sentiment", "is_premium"]]


def test_paper_example_rows(paper_sources):
    result = paper_pipeline(*paper_sources)
    assert result.to_pandas()["title"].tolist() == ["urgent", "thanks"]
    assert [result.provenance_of(i) for i in range(2)] == [
        "mails[0]*customers[0]",
        "mails[3]*customers[2]",
    ]


def test_paper_example_column_provenance(paper_sources):
    result = paper_pipeline(*paper_sources)
    assert result.column_provenance == {
        "title": ["mails.mail_subject"],
        "text": ["mails.mail_text"],
        "bank": ["customers.bank"],
        "country": ["customers.country"],
        "sentiment": ["mails.mail_text"],
        "is_premium": ["customers.level"],
    }


def test_paper_example_row_dependencies(paper_sources):
    result = paper_pipeline(*paper_sources)
    assert result.row_dependencies == [
        "customers.country",
        "customers.customer_email",
        "mails.email",
        "mails.mail_text",
        "mails.raw_date",
    ]


def test_title_is_the_only_output_column_from_mail_subject(paper_sources):
    result = paper_pipeline(*paper_sources)
    leaked = [
        c for c, sources in result.column_provenance.items() if "mails.mail_subject" in sources
    ]
    assert leaked == ["title"]


# ---------------------------------------------------------------------------- transitivity
def source(name: str, **columns) -> lt.TrackedFrame:
    return lt.from_pandas(pd.DataFrame(columns), name=name)


def test_source_columns_credit_themselves():
    frame = source("s", a=[1], b=[2])
    assert frame.column_provenance == {"a": ["s.a"], "b": ["s.b"]}
    assert frame.row_dependencies == []


def test_chained_projects_credit_the_source_columns():
    frame = source("s", a=[1], b=[2], c=[3])
    frame = frame.project("ab", ["a", "b"], lambda row: row["a"] + row["b"])
    frame = frame.project("abc", ["ab", "c"], lambda row: row["ab"] * row["c"])
    assert frame.column_provenance["ab"] == ["s.a", "s.b"]
    assert frame.column_provenance["abc"] == ["s.a", "s.b", "s.c"]


def test_project_without_source_columns_credits_nothing():
    frame = source("s", a=[1]).project("one", [], lambda row: 1)
    assert frame.to_pandas()["one"].tolist() == [1]
    assert frame.column_provenance["one"] == []


def test_rename_keeps_provenance_under_the_new_name():
    frame = source("s", a=[1], b=[2]).rename(columns={"a": "alpha"})
    frame = frame.project("twice", ["alpha"], lambda row: row["alpha"] * 2)
    assert frame.column_provenance == {"alpha": ["s.a"], "b": ["s.b"], "twice": ["s.a"]}


def test_filter_after_rename_depends_on_the_original_column():
    frame = source("s", a=[1, 2]).rename(columns={"a": "alpha"}).filter("alpha > 1")
    assert frame.row_dependencies == ["s.a"]


def test_column_derived_after_join_credits_both_sources():
    mails = source("mails", email=["a"], subject=["Hi"])
    customers = source("customers", customer_email=["a"], bank=["B"])
    joined = lt.join(mails, customers, left_on="email", right_on="customer_email")
    joined = joined.project("line", ["subject", "bank"], lambda row: row["subject"] + row["bank"])
    assert joined.column_provenance["line"] == ["customers.bank", "mails.subject"]
    assert joined.column_provenance["email"] == ["mails.email"]
    assert joined.column_provenance["customer_email"] == ["customers.customer_email"]
    assert joined.row_dependencies == ["customers.customer_email", "mails.email"]


def test_suffixed_columns_credit_their_side():
    left = source("l", k=[1], v=[2])
    right = source("r", k=[1], v=[3])
    joined = lt.join(left, right, on="k")
    assert joined.column_provenance == {"k": ["l.k", "r.k"], "v_x": ["l.v"], "v_y": ["r.v"]}


def test_shared_key_of_left_join_credits_the_left_side_only():
    left = source("l", k=[1, 2])
    right = source("r", k=[1], v=[3])
    joined = lt.join(left, right, on="k", how="left")
    assert joined.column_provenance == {"k": ["l.k"], "v": ["r.v"]}
    assert joined.row_dependencies == ["l.k", "r.k"]


def test_filter_predicate_of_dropped_column_stays_a_row_dependency():
    frame = source("s", a=[1, 2], b=[3, 4]).filter("a > 1 and b < 10")[["b"]]
    assert frame.column_provenance == {"b": ["s.b"]}
    assert frame.row_dependencies == ["s.a", "s.b"]


def test_groupby_credits_keys_and_aggregated_columns():
    mails = source("mails", email=["a", "a"], n=[1, 2])
    customers = source("customers", email=["a"], country=["DE"])
    joined = lt.join(mails, customers, on="email")
    grouped = joined.groupby("country").agg(total=("n", "sum"), k=("email", "count"))
    assert grouped.column_provenance == {
        "country": ["customers.country"],
        "total": ["mails.n"],
        "k": ["customers.email", "mails.email"],
    }
    assert grouped.row_dependencies == ["customers.country", "customers.email", "mails.email"]


def test_union_credits_every_input():
    a = source("a", x=[1], y=[2])
    b = source("b", z=[3], y=[4]).rename(columns={"z": "x"})
    both = lt.union([a, b])
    assert both.column_provenance == {"x": ["a.x", "b.z"], "y": ["a.y", "b.y"]}


def test_union_keeps_row_dependencies_of_every_input():
    a = source("a", x=[1]).filter("x > 0")
    b = source("b", x=[3])
    assert lt.union([a, b]).row_dependencies == ["a.x"]


def test_distinct_rows_depend_on_every_column():
    frame = source("s", a=[1], b=[2])[["b"]].distinct()
    assert frame.column_provenance == {"b": ["s.b"]}
    assert frame.row_dependencies == ["s.b"]


def test_explode_keeps_column_provenance():
    frame = source("s", tags=[["x", "y"]], id=[1]).explode("tags")
    assert frame.column_provenance == {"tags": ["s.tags"], "id": ["s.id"]}


def test_column_provenance_is_a_copy():
    frame = source("s", a=[1])
    frame.column_provenance["a"].append("other.column")
    frame.row_dependencies.append("other.column")
    assert frame.column_provenance == {"a": ["s.a"]}
    assert frame.row_dependencies == []
