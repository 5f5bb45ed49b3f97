"""The Spark engine computes the same rows, polynomials and column provenance as the pandas
engine, for random plans of every operator (the strategies of the forget property test)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lester as lt
from lester.engine.spark import SparkEngine
from tests.frame.test_property_forget import (
    KINDS,
    apply_random_operator,
    as_multiset,
    make_sources,
    random_plan,
    random_plan_on,
)


def assert_same_on_spark(frame: lt.TrackedFrame, spark) -> None:
    with SparkEngine(spark=spark) as engine:
        on_spark = engine.collect(frame._node)
    assert on_spark.columns == frame.columns
    assert on_spark.column_provenance == frame.column_provenance
    assert on_spark.row_dependencies == frame.row_dependencies
    assert [s.name for s in on_spark.provenance.slots] == [s.name for s in frame.provenance.slots]
    assert as_multiset(on_spark) == as_multiset(frame), str(frame.plan)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_random_plans_with_each_operator_equal_the_pandas_engine(kind, data, spark):
    sources = make_sources(data.draw)
    base = {name: lt.from_pandas(df, name=name, primary_key="id") for name, df in sources.items()}
    frame = random_plan(data.draw, base, depth=1)
    frame = apply_random_operator(data.draw, frame, base, depth=1, kind=kind)
    frame = random_plan_on(data.draw, frame, base, depth=1)
    assert_same_on_spark(frame, spark)


def test_sums_meet_joins_unions_and_self_joins(spark):
    """Polynomials with several monomials (distinct, group-by) through every binary operator."""
    alpha = lt.from_pandas(
        pd.DataFrame(
            {"id": [1, 2, 3, 4, 5], "k": [1.0, 1.0, 2.0, None, 2.0], "v": [1, 1, 2, 3, 2]}
        ),
        name="alpha",
        primary_key="id",
    )
    beta = lt.from_pandas(pd.DataFrame({"k": [1.0, 2.0, 2.0], "w": ["x", "y", "y"]}), name="beta")
    sums = alpha[["k", "v"]].distinct()
    groups = beta.groupby("k").agg(n=("w", "count"))
    joined = lt.join(sums, groups, on="k", how="left")
    frame = lt.union([joined, lt.join(joined, joined, on="k")[["k", "v_x", "n_x"]].rename(
        columns={"v_x": "v", "n_x": "n"})]).distinct()  # fmt: skip
    assert any(len(p) > 1 for p in frame.provenance_canonical())  # the test needs real sums
    assert_same_on_spark(frame, spark)
    train, test = frame.split(test_size=0.5, seed=3)
    assert_same_on_spark(train, spark)
    assert_same_on_spark(test, spark)
