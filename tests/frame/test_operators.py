"""Each operator's rows and provenance polynomials on small hand-made data."""

from __future__ import annotations

import pandas as pd
import pytest

import lester as lt
from lester.errors import SchemaError, UndeclaredColumnError

MIN_AGE = 40  # read by a filter string as @MIN_AGE
shadowed = 100  # a test defines a local of the same name, which must win


def people() -> lt.TrackedFrame:
    data = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["ann", "bob", "cid", "dan"],
            "age": [30, 17, 45, 17],
            "city": ["DE", "FR", "DE", "US"],
        }
    )
    return lt.from_pandas(data, name="p", primary_key="id")


def customers() -> lt.TrackedFrame:
    data = pd.DataFrame(
        {"cid": ["C1", "C2", "C3"], "email": ["a@x", "b@x", "c@x"], "name": ["A", "B", "C"]}
    )
    return lt.from_pandas(data, name="customers", primary_key="cid")


def mails() -> lt.TrackedFrame:
    data = pd.DataFrame(
        {"mid": [10, 11, 12, 13], "email": ["a@x", "c@x", "a@x", "z@x"], "name": list("wxyz")}
    )
    return lt.from_pandas(data, name="mails", primary_key="mid")


def provenances(frame: lt.TrackedFrame) -> list[str]:
    return [frame.provenance_of(i) for i in range(len(frame))]


def rows(frame: lt.TrackedFrame, columns: list[str]) -> list[tuple]:
    """Sorted (values..., provenance) tuples; missing values become None."""
    data = frame.to_pandas()[columns].astype(object)
    data = data.where(data.notna(), None)
    result = [
        (*values, frame.provenance_of(i))
        for i, values in enumerate(data.itertuples(index=False, name=None))
    ]
    return sorted(result, key=repr)


# ---------------------------------------------------------------------------- filter
def test_filter_string_with_local_variable():
    limit = 18  # noqa: F841 - read by the filter string as @limit
    adults = people().filter("age > @limit")
    assert adults.to_pandas()["name"].tolist() == ["ann", "cid"]
    assert provenances(adults) == ["p[1]", "p[3]"]


def test_filter_string_with_global_variable():
    old = people().filter("age >= @MIN_AGE")
    assert old.to_pandas()["name"].tolist() == ["cid"]
    assert provenances(old) == ["p[3]"]


def test_filter_local_variable_shadows_global():
    shadowed = 18  # noqa: F841 - read by the filter string as @shadowed
    assert people().filter("age > @shadowed").to_pandas()["name"].tolist() == ["ann", "cid"]


def test_filter_binds_variables_when_called():
    cities = ["DE"]
    frame = people().filter("city in @cities")
    cities = ["FR", "US"]  # noqa: F841 - rebinding after the call must not matter
    again = frame.plan.execute()
    assert again.to_pandas()["name"].tolist() == ["ann", "cid"]
    assert provenances(again) == ["p[1]", "p[3]"]


def test_filter_string_with_email_literal_containing_at():
    frame = customers().filter("email == 'b@x'")
    assert provenances(frame) == ["customers[C2]"]


def test_filter_string_with_backticked_column():
    data = pd.DataFrame({"first name": ["ann", "bob"]})
    frame = lt.from_pandas(data, name="s").filter("`first name` == 'bob'")
    assert provenances(frame) == ["s[1]"]
    assert frame.row_dependencies == ["s.first name"]


def test_filter_callable_per_row():
    frame = people().filter(lambda row: row["city"] == "DE", source_columns=["city"])
    assert frame.to_pandas()["name"].tolist() == ["ann", "cid"]
    assert provenances(frame) == ["p[1]", "p[3]"]
    assert frame.row_dependencies == ["p.city"]


def test_filter_callable_without_declared_columns_depends_on_all_columns():
    frame = people().filter(lambda row: row["age"] < 20 and row["city"] == "FR")
    assert provenances(frame) == ["p[2]"]
    assert frame.row_dependencies == ["p.age", "p.city", "p.id", "p.name"]


def test_filter_callable_vectorized():
    frame = people().filter(lambda df: df["age"] < 20, source_columns=["age"], vectorized=True)
    assert frame.to_pandas()["name"].tolist() == ["bob", "dan"]
    assert provenances(frame) == ["p[2]", "p[4]"]


def test_filter_keeping_no_rows():
    frame = people().filter("age > 1000")
    assert len(frame) == 0
    assert frame.columns == ["id", "name", "age", "city"]
    assert frame.to_pandas().empty


# ---------------------------------------------------------------------------- project
def test_project_per_row():
    frame = people().project("adult", ["age"], lambda row: row["age"] >= 18)
    assert frame.columns == ["id", "name", "age", "city", "adult"]
    assert frame.to_pandas()["adult"].tolist() == [True, False, True, False]
    assert provenances(frame) == ["p[1]", "p[2]", "p[3]", "p[4]"]


def test_project_row_function_sees_only_declared_columns():
    seen = []

    def record(row):
        seen.append((type(row).__name__, sorted(row)))
        return row["name"].upper()

    frame = people().project("loud", ["name", "age"], record)
    assert frame.to_pandas()["loud"].tolist() == ["ANN", "BOB", "CID", "DAN"]
    assert not any(kind == "Series" for kind, _ in seen)
    assert {tuple(columns) for _, columns in seen} == {("age", "name")}


def test_project_vectorized():
    frame = people().project("double", ["age"], lambda df: df["age"] * 2, vectorized=True)
    assert frame.to_pandas()["double"].tolist() == [60, 34, 90, 34]
    assert frame.column_provenance["double"] == ["p.age"]


def test_project_replaces_an_existing_column():
    frame = people().project("name", ["city"], lambda row: row["city"].lower())
    assert frame.columns == ["id", "name", "age", "city"]
    assert frame.to_pandas()["name"].tolist() == ["de", "fr", "de", "us"]
    assert frame.column_provenance["name"] == ["p.city"]


def test_project_on_empty_frame():
    frame = people().filter("age > 1000").project("x", ["age"], lambda row: row["age"] + 1)
    assert len(frame) == 0
    assert frame.columns[-1] == "x"


@pytest.mark.parametrize(
    "func",
    [
        lambda row: row["city"],
        lambda row: row.city,
        lambda row: row.get("city"),
    ],
    ids=["item", "attribute", "get"],
)
def test_project_reading_undeclared_column_names_it_and_declared_list(func):
    with pytest.raises(UndeclaredColumnError) as error:
        people().project("out", ["name", "age"], func)
    assert "'city'" in str(error.value)
    assert "['name', 'age']" in str(error.value)


def test_project_reading_column_absent_from_frame_is_undeclared():
    with pytest.raises(UndeclaredColumnError, match="'salary'"):
        people().project("out", ["age"], lambda row: row["salary"])


def test_vectorized_project_reading_undeclared_column():
    with pytest.raises(UndeclaredColumnError) as error:
        people().project("out", ["age"], lambda df: df["city"], vectorized=True)
    assert "'city'" in str(error.value)
    assert "['age']" in str(error.value)


def test_vectorized_project_reading_column_absent_from_frame():
    with pytest.raises(UndeclaredColumnError) as error:
        people().project("out", ["age"], lambda df: df["salary"], vectorized=True)
    assert "'salary'" in str(error.value)
    assert "['age']" in str(error.value)


def test_row_filter_reading_undeclared_column():
    with pytest.raises(UndeclaredColumnError, match="'age'"):
        people().filter(lambda row: row["age"] > 1, source_columns=["city"])


def test_vectorized_filter_reading_undeclared_column():
    with pytest.raises(UndeclaredColumnError) as error:
        people().filter(lambda df: df["age"] > 1, source_columns=["city"], vectorized=True)
    assert "'age'" in str(error.value)
    assert "['city']" in str(error.value)


# ---------------------------------------------------------------------------- join
def test_inner_join_rows_and_polynomials():
    joined = lt.join(mails(), customers(), left_on="email", right_on="email")
    assert rows(joined, ["mid", "cid"]) == [
        (10, "C1", "mails[10]*customers[C1]"),
        (11, "C3", "mails[11]*customers[C3]"),
        (12, "C1", "mails[12]*customers[C1]"),
    ]


def test_join_method_equals_function():
    by_method = mails().join(customers(), left_on="email", right_on="email")
    by_function = lt.join(mails(), customers(), on="email")
    pd.testing.assert_frame_equal(by_method.to_pandas(), by_function.to_pandas())
    assert provenances(by_method) == provenances(by_function)


def test_join_suffixes_clashing_columns_and_keeps_shared_key_once():
    joined = lt.join(mails(), customers(), on="email")
    assert joined.columns == ["mid", "email", "name_x", "cid", "name_y"]
    assert rows(joined, ["name_x", "name_y"]) == [
        ("w", "A", "mails[10]*customers[C1]"),
        ("x", "C", "mails[11]*customers[C3]"),
        ("y", "A", "mails[12]*customers[C1]"),
    ]


def test_join_custom_suffixes():
    joined = lt.join(mails(), customers(), on="email", suffixes=("_mail", "_customer"))
    assert joined.columns == ["mid", "email", "name_mail", "cid", "name_customer"]


def test_join_with_different_key_names_keeps_both_keys():
    renamed = customers().rename(columns={"email": "customer_email"})
    joined = lt.join(mails(), renamed, left_on="email", right_on="customer_email")
    assert joined.columns == ["mid", "email", "name_x", "cid", "customer_email", "name_y"]
    data = joined.to_pandas()
    assert (data["email"] == data["customer_email"]).all()


def test_left_join_keeps_unmatched_rows_with_nulls():
    joined = lt.join(mails(), customers(), on="email", how="left")
    assert rows(joined, ["mid", "cid", "name_y"]) == [
        (10, "C1", "A", "mails[10]*customers[C1]"),
        (11, "C3", "C", "mails[11]*customers[C3]"),
        (12, "C1", "A", "mails[12]*customers[C1]"),
        (13, None, None, "mails[13]"),
    ]


def test_null_keys_do_not_match():
    left = lt.from_pandas(pd.DataFrame({"k": ["a", None, "b"]}), name="l")
    right = lt.from_pandas(pd.DataFrame({"k": [None, "a"], "v": [1, 2]}), name="r")
    inner = lt.join(left, right, on="k")
    assert rows(inner, ["k", "v"]) == [("a", 2, "l[0]*r[1]")]
    outer = lt.join(left, right, on="k", how="left")
    assert rows(outer, ["v"]) == [(2, "l[0]*r[1]"), (None, "l[1]"), (None, "l[2]")]


def test_join_on_multiple_columns():
    left = lt.from_pandas(pd.DataFrame({"a": [1, 1, 2], "b": ["x", "y", "x"]}), name="l")
    right = lt.from_pandas(
        pd.DataFrame({"a": [1, 2, 1], "c": ["x", "x", "z"], "v": [7, 8, 9]}), name="r"
    )
    joined = lt.join(left, right, left_on=["a", "b"], right_on=["a", "c"])
    assert joined.columns == ["a", "b", "c", "v"]
    assert rows(joined, ["a", "b", "v"]) == [(1, "x", 7, "l[0]*r[0]"), (2, "x", 8, "l[2]*r[1]")]


def test_self_join_keeps_both_occurrences_apart():
    c = lt.from_pandas(pd.DataFrame({"id": [0, 1, 2], "g": ["a", "b", "b"]}), name="c")
    joined = c.join(c, on="g")
    assert joined.columns == ["id_x", "g", "id_y"]
    assert rows(joined, ["id_x", "id_y"]) == [
        (0, 0, "c[0]*c[0]"),
        (1, 1, "c[1]*c[1]"),
        (1, 2, "c[1]*c[2]"),
        (2, 1, "c[2]*c[1]"),
        (2, 2, "c[2]*c[2]"),
    ]


def test_join_of_join_multiplies_three_sources():
    third = lt.from_pandas(pd.DataFrame({"cid": ["C1"], "tier": ["gold"]}), name="t")
    joined = lt.join(lt.join(mails(), customers(), on="email"), third, on="cid")
    assert rows(joined, ["mid", "tier"]) == [
        (10, "gold", "mails[10]*customers[C1]*t[0]"),
        (12, "gold", "mails[12]*customers[C1]*t[0]"),
    ]


def test_join_of_two_sources_with_the_same_name_is_an_error():
    one = lt.from_pandas(pd.DataFrame({"k": [1]}), name="s")
    other = lt.from_pandas(pd.DataFrame({"k": [1]}), name="s")
    with pytest.raises(SchemaError, match="'s'"):
        lt.join(one, other, on="k")


# ---------------------------------------------------------------------------- select, rename
def test_select_keeps_given_order():
    frame = people()[["city", "id"]]
    assert frame.columns == ["city", "id"]
    assert list(frame.to_pandas().columns) == ["city", "id"]
    assert provenances(frame) == ["p[1]", "p[2]", "p[3]", "p[4]"]
    assert frame.column_provenance == {"city": ["p.city"], "id": ["p.id"]}


def test_select_method_equals_indexing():
    assert people().select(["age", "name"]).columns == ["age", "name"]


def test_rename():
    frame = people().rename(columns={"name": "full_name", "city": "town"})
    assert frame.columns == ["id", "full_name", "age", "town"]
    assert frame.to_pandas()["town"].tolist() == ["DE", "FR", "DE", "US"]
    assert frame.column_provenance["full_name"] == ["p.name"]
    assert provenances(frame) == ["p[1]", "p[2]", "p[3]", "p[4]"]


# ---------------------------------------------------------------------------- explode
def test_explode_copies_provenance_to_each_element():
    data = pd.DataFrame({"id": ["a", "b", "c"], "tags": [["x", "y"], [], ["z"]]})
    frame = lt.from_pandas(data, name="s", primary_key="id").explode("tags")
    assert frame.to_pandas()["id"].tolist() == ["a", "a", "b", "c"]
    tags = frame.to_pandas()["tags"].tolist()
    assert tags[:2] == ["x", "y"]
    assert pd.isna(tags[2])
    assert tags[3] == "z"
    assert provenances(frame) == ["s[a]", "s[a]", "s[b]", "s[c]"]


def test_explode_after_join_copies_products():
    data = pd.DataFrame({"cid": ["C1", "C3"], "tags": [["t1", "t2"], ["t3"]]})
    tags = lt.from_pandas(data, name="tags")
    frame = lt.join(customers(), tags, on="cid").explode("tags")
    assert rows(frame, ["tags"]) == [
        ("t1", "customers[C1]*tags[0]"),
        ("t2", "customers[C1]*tags[0]"),
        ("t3", "customers[C3]*tags[1]"),
    ]


def test_explode_of_projected_lists():
    data = pd.DataFrame({"id": [1, 2], "text": ["a b", "c"]})
    words = lt.from_pandas(data, name="s", primary_key="id")
    words = words.project("words", ["text"], lambda row: row["text"].split())
    assert words.to_pandas()["words"].tolist() == [["a", "b"], ["c"]]
    exploded = words.explode("words")
    assert exploded.to_pandas()["words"].tolist() == ["a", "b", "c"]
    assert provenances(exploded) == ["s[1]", "s[1]", "s[2]"]
    assert exploded.column_provenance["words"] == ["s.text"]


# ---------------------------------------------------------------------------- union
def test_union_has_bag_semantics():
    frame = people()[["city"]]
    both = lt.union([frame, frame])
    assert len(both) == 8
    assert both.to_pandas()["city"].tolist() == ["DE", "FR", "DE", "US"] * 2
    assert provenances(both) == ["p[1]", "p[2]", "p[3]", "p[4]"] * 2


def test_union_of_different_sources_aligns_columns_by_name():
    a = lt.from_pandas(pd.DataFrame({"x": [1], "y": ["a"]}), name="a")
    b = lt.from_pandas(pd.DataFrame({"y": ["b", "c"], "x": [2, 3]}), name="b")
    both = lt.union([a, b])
    assert both.columns == ["x", "y"]
    assert rows(both, ["x", "y"]) == [(1, "a", "a[0]"), (2, "b", "b[0]"), (3, "c", "b[1]")]
    assert both.sources == ["a", "b"]


def test_union_with_mismatched_schema_names_both_schemas():
    a = lt.from_pandas(pd.DataFrame({"x": [1]}), name="a")
    b = lt.from_pandas(pd.DataFrame({"z": [1]}), name="b")
    with pytest.raises(SchemaError) as error:
        lt.union([a, b])
    assert "'x'" in str(error.value)
    assert "'z'" in str(error.value)


def test_union_of_nothing_is_an_error():
    with pytest.raises(SchemaError):
        lt.union([])


# ---------------------------------------------------------------------------- distinct
def test_distinct_sums_the_polynomials_of_duplicates():
    frame = people()[["city"]].distinct()
    assert frame.to_pandas()["city"].tolist() == ["DE", "FR", "US"]
    assert provenances(frame) == ["p[1] + p[3]", "p[2]", "p[4]"]


def test_distinct_of_union_adds_both_sides():
    a = lt.from_pandas(pd.DataFrame({"x": [1, 2]}), name="a")
    b = lt.from_pandas(pd.DataFrame({"x": [2, 3]}), name="b")
    frame = lt.union([a, b]).distinct()
    assert rows(frame, ["x"]) == [(1, "a[0]"), (2, "a[1] + b[0]"), (3, "b[1]")]


def test_distinct_of_self_union_keeps_repeated_monomials():
    a = lt.from_pandas(pd.DataFrame({"x": [1]}), name="a")
    assert provenances(lt.union([a, a]).distinct()) == ["a[0] + a[0]"]


# ---------------------------------------------------------------------------- groupby
@pytest.fixture
def scores() -> lt.TrackedFrame:
    data = pd.DataFrame({"k": ["a", "b", "a", "a"], "v": [1.0, 2.0, 3.0, 5.0]})
    return lt.from_pandas(data, name="s")


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("count", [3, 1]),
        ("sum", [9.0, 2.0]),
        ("mean", [3.0, 2.0]),
        ("min", [1.0, 2.0]),
        ("max", [5.0, 2.0]),
    ],
)
def test_groupby_aggregate(scores, function, expected):
    grouped = scores.groupby("k").agg(out=("v", function))
    assert grouped.columns == ["k", "out"]
    data = grouped.to_pandas()
    assert data["k"].tolist() == ["a", "b"]
    assert data["out"].tolist() == expected
    assert provenances(grouped) == ["s[0] + s[2] + s[3]", "s[1]"]


def test_groupby_several_aggregates_and_keys():
    data = pd.DataFrame({"k": ["a", "a", "a", "b"], "j": [1, 1, 2, 1], "v": [1, 2, 3, 4]})
    grouped = (
        lt.from_pandas(data, name="s").groupby(["k", "j"]).agg(n=("v", "count"), total=("v", "sum"))
    )
    assert grouped.columns == ["k", "j", "n", "total"]
    assert rows(grouped, ["k", "j", "n", "total"]) == [
        ("a", 1, 2, 3, "s[0] + s[1]"),
        ("a", 2, 1, 3, "s[2]"),
        ("b", 1, 1, 4, "s[3]"),
    ]


def test_groupby_after_join_sums_products():
    joined = lt.join(mails(), customers(), on="email")
    grouped = joined.groupby("cid").agg(n=("mid", "count"))
    assert rows(grouped, ["cid", "n"]) == [
        ("C1", 2, "mails[10]*customers[C1] + mails[12]*customers[C1]"),
        ("C3", 1, "mails[11]*customers[C3]"),
    ]


def test_groupby_of_empty_frame_has_no_groups(scores):
    grouped = scores.filter("v > 100").groupby("k").agg(n=("v", "count"))
    assert len(grouped) == 0
    assert grouped.columns == ["k", "n"]


# ---------------------------------------------------------------------------- results
def test_to_pandas_returns_only_user_columns():
    joined = lt.join(mails(), customers(), on="email").distinct()
    data = joined.to_pandas()
    assert list(data.columns) == joined.columns
    assert not any("lester" in str(column) or "prov" in str(column) for column in data.columns)
    assert isinstance(data.index, pd.RangeIndex)


def test_to_pandas_returns_a_copy():
    frame = people()
    data = frame.to_pandas()
    data.loc[0, "name"] = "changed"
    data["extra"] = 1
    assert frame.to_pandas()["name"].tolist() == ["ann", "bob", "cid", "dan"]
    assert frame.columns == ["id", "name", "age", "city"]


def test_operators_leave_their_input_unchanged():
    base = people()
    before, plan_before = base.to_pandas(), str(base.plan)
    base.filter("age > 18")
    base.project("age", ["age"], lambda row: row["age"] + 1)
    base.project("x", ["age"], lambda df: df["age"] * 0, vectorized=True)
    base[["name"]]
    base.rename(columns={"name": "n"})
    base.join(base, on="id")
    lt.union([base, base])
    base.distinct()
    base.groupby("city").agg(n=("id", "count"))
    pd.testing.assert_frame_equal(base.to_pandas(), before)
    assert str(base.plan) == plan_before
    assert base.columns == ["id", "name", "age", "city"]
    assert provenances(base) == ["p[1]", "p[2]", "p[3]", "p[4]"]


def test_plan_prints_every_node():
    limit = 18  # noqa: F841 - read by the filter string as @limit
    adults = people().filter("age > @limit")
    adults = adults.project("adult", ["age"], lambda row: row["age"] >= 18)
    joined = lt.join(adults, customers(), left_on="name", right_on="name", how="left")
    result = joined.rename(columns={"cid": "customer"})[["name", "customer"]].distinct()
    assert str(result.plan).splitlines() == [
        "Distinct",
        "└─ Select[name, customer]",
        "   └─ Rename[cid -> customer]",
        "      └─ Join[left: name = name]",
        "         ├─ Project[adult <- age]",
        "         │  └─ Filter[age > @limit]",
        "         │     └─ Source[p key=id]",
        "         └─ Source[customers key=cid]",
    ]


def test_plan_prints_union_groupby_explode_and_file_sources(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text("k,t\na,x\n")
    tags = lt.read_csv(path)
    frame = lt.union([tags, tags]).explode("t").groupby("k").agg(n=("t", "count"))
    assert str(frame.plan).splitlines() == [
        "GroupBy[k: n=count(t)]",
        "└─ Explode[t]",
        "   └─ Union[2]",
        f"      ├─ Source[tags path={path}]",
        f"      └─ Source[tags path={path}]",
    ]


def test_shape_and_len():
    frame = people().filter("age > 18")
    assert len(frame) == 2
    assert frame.shape == (2, 4)


def test_provenance_of_out_of_range_row():
    with pytest.raises(IndexError):
        people().provenance_of(4)
    assert people().provenance_of(-1) == "p[4]"


def test_distinct_keep_last_is_a_dicts_last_assignment():
    rows = pd.DataFrame({"id": [1, 2, 3, 4], "email": ["a", "b", "a", "a"], "bank": list("wxyz")})
    frame = lt.from_pandas(rows, name="customers", primary_key="id")
    by_email = {}
    for email, bank in zip(rows["email"], rows["bank"], strict=True):
        by_email[email] = bank
    last = frame.distinct(subset=["email"], keep="last").to_pandas()
    assert dict(zip(last["email"], last["bank"], strict=True)) == by_email
    first = frame.distinct(subset="email", keep="first").to_pandas()
    assert first["bank"].tolist() == ["w", "x"]


def test_distinct_keep_last_carries_only_the_kept_rows_provenance_and_forget_revives_the_previous():
    rows = pd.DataFrame({"id": [1, 2, 3], "email": ["a", "a", "a"], "bank": ["x", "y", "z"]})
    last = lt.from_pandas(rows, name="c", primary_key="id").distinct(subset=["email"], keep="last")
    assert last.provenance_of(0) == "c[3]"
    assert not last.plan.root.is_monotone
    revived = last.forget({"c": [3]})
    assert revived.to_pandas()["bank"].tolist() == ["y"]
    assert revived.provenance_of(0) == "c[2]"
    assert last.forget({"c": [1]}).to_pandas()["bank"].tolist() == ["z"]


def test_distinct_on_a_subset_must_say_which_duplicate_stays():
    frame = lt.from_pandas(pd.DataFrame({"k": [1], "v": [2]}), name="s")
    with pytest.raises(lt.LesterError, match="keep='first' or keep='last'"):
        frame.distinct(subset=["k"])
    with pytest.raises(lt.LesterError, match="keep='middle'"):
        frame.distinct(subset=["k"], keep="middle")
    with pytest.raises(lt.LesterError, match="unknown column 'x' in distinct subset"):
        frame.distinct(subset=["x"], keep="last")
