"""Provenance polynomials stored as a table of monomials."""

from __future__ import annotations

import numpy as np
import pandas as pd

import lester as lt
from lester.provenance import ABSENT, Provenance, Slot


def rendered(provenance: Provenance, labels=None) -> list[str]:
    return [provenance.render(i, labels) for i in range(provenance.n_rows)]


def summed(source: str, groups: list[int], n_groups: int) -> Provenance:
    """Rows of ``source`` summed into groups: group ``g`` is the sum of its rows."""
    return Provenance.of_source(source, len(groups)).group(np.array(groups), n_groups)


# ---------------------------------------------------------------------------- construction
def test_of_source_is_one_variable_per_row():
    p = Provenance.of_source("m", 3)
    assert (p.n_rows, p.n_monomials, p.is_monomial) == (3, 3, True)
    assert rendered(p) == ["m[0]", "m[1]", "m[2]"]
    assert p.sources == ["m"]
    assert p.slots == (Slot("m", "m"),)


def test_of_source_with_tuple_ids():
    assert rendered(Provenance.of_source("m", 2, np.array([4, 7]))) == ["m[4]", "m[7]"]


def test_empty_like_keeps_slots():
    empty = Provenance.empty_like(Provenance.of_source("m", 3))
    assert (empty.n_rows, empty.n_monomials, empty.slots) == (0, 0, (Slot("m", "m"),))


def test_render_with_labels():
    p = Provenance.of_source("c", 2)
    assert rendered(p, {"c": ["C1", "C2"]}) == ["c[C1]", "c[C2]"]


# ---------------------------------------------------------------------------- take
def test_take_repeats_and_reorders_rows():
    assert rendered(Provenance.of_source("m", 5).take(np.array([4, 4, 0]))) == [
        "m[4]",
        "m[4]",
        "m[0]",
    ]


def test_take_of_sums_keeps_all_monomials():
    p = summed("m", [0, 1, 0, 1, 1], 2)
    taken = p.take(np.array([1, 0, 1]))
    assert rendered(taken) == ["m[1] + m[3] + m[4]", "m[0] + m[2]", "m[1] + m[3] + m[4]"]
    assert taken.monomial_counts().tolist() == [3, 2, 3]


def test_take_of_single_monomial_rows_of_sums_is_monomial():
    p = summed("m", [0, 1, 1], 2)
    assert p.take(np.array([0])).is_monomial


def test_take_mask():
    p = summed("m", [0, 1, 0], 2)
    assert rendered(p.take_mask(np.array([False, True]))) == ["m[1]"]
    assert rendered(Provenance.of_source("m", 3).take_mask(np.array([True, False, True]))) == [
        "m[0]",
        "m[2]",
    ]


# ---------------------------------------------------------------------------- product
def test_product_of_monomials():
    mails, customers = Provenance.of_source("mails", 3), Provenance.of_source("customers", 2)
    joined = Provenance.product(mails, np.array([0, 2, 2]), customers, np.array([1, 1, 0]))
    assert rendered(joined) == [
        "mails[0]*customers[1]",
        "mails[2]*customers[1]",
        "mails[2]*customers[0]",
    ]
    assert joined.is_monomial
    assert joined.monomials_of(1) == [(("mails", 2), ("customers", 1))]


def test_product_with_unmatched_right_row_keeps_left_alone():
    left, right = Provenance.of_source("l", 2), Provenance.of_source("r", 1)
    joined = Provenance.product(left, np.array([0, 1]), right, np.array([0, -1]))
    assert rendered(joined) == ["l[0]*r[0]", "l[1]"]
    assert joined.keys[1].tolist() == [1, ABSENT]


def test_self_product_keeps_occurrences_apart():
    c = Provenance.of_source("c", 3)
    joined = Provenance.product(c, np.array([0, 1]), c, np.array([2, 1]))
    assert rendered(joined) == ["c[0]*c[2]", "c[1]*c[1]"]
    assert [slot.name for slot in joined.slots] == ["c", "c#2"]
    assert joined.sources == ["c"]


def test_third_occurrence_gets_its_own_slot():
    c = Provenance.of_source("c", 2)
    twice = Provenance.product(c, np.array([0]), c, np.array([1]))
    thrice = Provenance.product(twice, np.array([0]), c, np.array([0]))
    assert [slot.name for slot in thrice.slots] == ["c", "c#2", "c#3"]
    assert rendered(thrice) == ["c[0]*c[1]*c[0]"]


def test_product_of_sums_expands():
    left = summed("s", [0, 0], 1)  # s[0] + s[1]
    right = summed("t", [0, 0, 1], 2)  # t[0] + t[1], t[2]
    joined = Provenance.product(left, np.array([0, 0]), right, np.array([0, 1]))
    assert rendered(joined) == [
        "s[0]*t[0] + s[0]*t[1] + s[1]*t[0] + s[1]*t[1]",
        "s[0]*t[2] + s[1]*t[2]",
    ]
    assert joined.monomial_counts().tolist() == [4, 2]


def test_product_of_sum_with_unmatched_row():
    left = summed("s", [0, 0, 1], 2)
    right = summed("t", [0, 0], 1)
    joined = Provenance.product(left, np.array([0, 1]), right, np.array([-1, 0]))
    assert rendered(joined) == ["s[0] + s[1]", "s[2]*t[0] + s[2]*t[1]"]


def test_distinct_on_both_sides_then_join_multiplies_the_sums():
    left = lt.from_pandas(pd.DataFrame({"k": [1, 1, 2]}), name="s").distinct()
    right = lt.from_pandas(pd.DataFrame({"k": [1, 2, 1]}), name="t").distinct()
    joined = lt.join(left, right, on="k")
    assert joined.to_pandas()["k"].tolist() == [1, 2]
    assert joined.provenance_of(0) == "s[0]*t[0] + s[0]*t[2] + s[1]*t[0] + s[1]*t[2]"
    assert joined.provenance_of(1) == "s[2]*t[1]"


# ---------------------------------------------------------------------------- concat
def test_concat_aligns_slots_by_name():
    a, b = Provenance.of_source("a", 1), Provenance.of_source("b", 2)
    both = Provenance.concat([a, b])
    assert rendered(both) == ["a[0]", "b[0]", "b[1]"]
    assert both.keys.tolist() == [[0, ABSENT], [ABSENT, 0], [ABSENT, 1]]
    assert both.is_monomial


def test_concat_with_sums():
    a = summed("a", [0, 0], 1)
    b = Provenance.of_source("b", 1)
    both = Provenance.concat([b, a, b])
    assert rendered(both) == ["b[0]", "a[0] + a[1]", "b[0]"]
    assert both.owners().tolist() == [0, 1, 1, 2]


def test_concat_of_the_same_source_shares_the_slot():
    a = Provenance.of_source("a", 2)
    both = Provenance.concat([a, a])
    assert len(both.slots) == 1
    assert rendered(both) == ["a[0]", "a[1]", "a[0]", "a[1]"]


# ---------------------------------------------------------------------------- group
def test_group_sums_members():
    p = summed("m", [1, 0, 1, 1], 2)
    assert rendered(p) == ["m[1]", "m[0] + m[2] + m[3]"]
    assert p.monomial_counts().tolist() == [1, 3]


def test_group_skips_rows_without_group():
    p = Provenance.of_source("m", 3).group(np.array([0, -1, 0]), 1)
    assert rendered(p) == ["m[0] + m[2]"]


def test_group_of_sums_flattens():
    inner = summed("m", [0, 0, 1, 2], 3)  # m0+m1, m2, m3
    outer = inner.group(np.array([0, 1, 0]), 2)
    assert rendered(outer) == ["m[0] + m[1] + m[3]", "m[2]"]


def test_group_into_singletons_is_monomial():
    p = Provenance.of_source("m", 2).group(np.array([1, 0]), 2)
    assert p.normalised().is_monomial
    assert rendered(p) == ["m[1]", "m[0]"]


# ---------------------------------------------------------------------------- without
def test_without_drops_rows_of_forgotten_variables():
    kept, alive = Provenance.of_source("m", 4).without({"m": np.array([1, 3])})
    assert alive.tolist() == [True, False, True, False]
    assert rendered(kept) == ["m[0]", "m[2]"]


def test_without_keeps_sum_with_surviving_monomials():
    p = summed("m", [0, 0, 1], 2)
    kept, alive = p.without({"m": np.array([0, 2])})
    assert alive.tolist() == [True, False]
    assert rendered(kept) == ["m[1]"]
    assert kept.is_monomial


def test_without_product_drops_monomials_containing_any_variable():
    joined = Provenance.product(
        Provenance.of_source("l", 2),
        np.array([0, 1]),
        Provenance.of_source("r", 2),
        np.array([1, 1]),
    )
    kept, alive = joined.without({"r": np.array([1])})
    assert alive.tolist() == [False, False]
    assert kept.n_rows == 0


def test_without_other_source_keeps_everything():
    p = Provenance.of_source("m", 2)
    kept, alive = p.without({"x": np.array([0])})
    assert alive.all()
    assert rendered(kept) == rendered(p)


def test_without_hits_both_occurrences_of_a_self_join():
    c = Provenance.of_source("c", 3)
    joined = Provenance.product(c, np.array([0, 1, 2]), c, np.array([1, 2, 2]))
    _, alive = joined.without({"c": np.array([1])})
    assert alive.tolist() == [False, False, True]


def test_rows_touching():
    p = summed("m", [0, 1, 1], 2)
    assert p.rows_touching({"m": np.array([2])}).tolist() == [False, True]
    assert p.monomials_touching({"m": np.array([2])}).tolist() == [False, False, True]


# ---------------------------------------------------------------------------- canonical
def test_canonical_sorts_monomials_and_variables():
    p = summed("m", [0, 1, 0], 2)
    assert p.canonical({"m": ["z", "y", "x"]}) == [
        ((("m", "x"),), (("m", "z"),)),
        ((("m", "y"),),),
    ]


def test_canonical_of_product_is_order_independent():
    a, b = Provenance.of_source("a", 1), Provenance.of_source("b", 1)
    ab = Provenance.product(a, np.array([0]), b, np.array([0]))
    ba = Provenance.product(b, np.array([0]), a, np.array([0]))
    labels = {"a": ["k"], "b": ["k"]}
    assert ab.canonical(labels) == ba.canonical(labels)
    assert rendered(ab) != rendered(ba)


def test_empty_polynomial_renders_zero():
    slots = Provenance.of_source("m", 1).slots
    p = Provenance(slots, np.empty((0, 1), np.int64), np.array([], np.int64), 1)
    assert p.render(0) == "0"
