"""Compile plan nodes to Spark DataFrames that carry row provenance.

A compiled node is a Spark DataFrame with the node's columns (under Spark-safe internal
names) and its provenance, in the same layout as :class:`lester.provenance.Provenance`:
while every row has one monomial, one ``bigint`` column per slot (``__s0``, ``__s1``, ...,
``-1`` where a slot is absent); once distinct, group-by or a join with such rows adds
polynomials, one ``array<array<bigint>>`` column ``__prov`` (a row's monomials, each with
one tuple id per slot). Slots are named exactly as the pandas engine names them, so the
collected polynomials are the same.

Row functions run as Arrow-batched pandas UDFs; filters compile to Spark expressions
(:mod:`lester.engine.spark.filters`); join, union, distinct, group-by, explode, select and
rename are native Spark operators.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lester.engine.spark.filters import check_filter, compile_filter
from lester.engine.spark.session import SparkExecutionError
from lester.engine.spark.sources import ROW, StagedSource
from lester.engine.spark.types import infer_type
from lester.errors import SchemaError
from lester.frame.plan import (
    Distinct,
    Explode,
    Filter,
    GroupBy,
    Join,
    PlanNode,
    Project,
    Rename,
    Select,
    Source,
    Split,
    Union,
)
from lester.provenance.polynomial import ABSENT, Slot, _disambiguate

PROV = "__prov"


@dataclass(frozen=True)
class Compiled:
    """A node as a Spark DataFrame: user column -> internal column, slots, representation."""

    df: Any
    names: dict[str, str]
    slots: tuple[Slot, ...]
    monomial: bool

    def slot_columns(self) -> list[str]:
        return [f"__s{j}" for j in range(len(self.slots))]

    def provenance_columns(self) -> list[str]:
        return self.slot_columns() if self.monomial else [PROV]


def check_plan(root: PlanNode) -> None:
    """Everything the Spark engine can check before running anything: every filter string
    compiles, every node is of a kind it executes.

    Examples
    --------
    >>> from lester.frame.plan import Source, Filter
    >>> check_plan(Filter(Source("s", ("a",)), "a.str.zfill(2) == '01'", ["a"]))
    Traceback (most recent call last):
    ...
    lester.engine.spark.filters.UnsupportedFilterError: filter "a.str.zfill(2) == '01'" uses ...
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, tuple(_KINDS)):
            raise SparkExecutionError(f"the Spark engine cannot execute {node.describe()}")
        if isinstance(node, Filter) and isinstance(node.predicate, str):
            check_filter(node.predicate)
        stack.extend(node.children)


def ship_by_value(functions: Sequence[Callable[..., Any]]) -> None:
    """Send the modules of user functions to Spark workers by value: a pipeline module
    loaded from a file (or a test module) cannot be imported by a worker process."""
    from pyspark import cloudpickle

    for function in functions:
        name = getattr(function, "__module__", None)
        module = sys.modules.get(name or "")
        if module is None or name == "__main__" or name.split(".")[0] in ("lester", "pyspark"):
            continue
        path = getattr(module, "__file__", "") or ""
        if "site-packages" in path or "dist-packages" in path:
            continue
        cloudpickle.register_pickle_by_value(module)


class SparkCompiler:
    """Compiles the nodes of one plan; compiled nodes are shared (a self-join compiles its
    input once)."""

    def __init__(
        self,
        spark: Any,
        staged: dict[int, StagedSource],
        samples: dict[int, pd.DataFrame],
        key_hashes: dict[str, np.ndarray],
    ) -> None:
        self.spark = spark
        self.staged = staged
        self.samples = samples
        self.key_hashes = key_hashes
        self._done: dict[int, Compiled] = {}
        self._counter = itertools.count()

    def fresh(self) -> str:
        return f"v{next(self._counter)}"

    def compile(self, node: PlanNode) -> Compiled:
        if id(node) not in self._done:
            inputs = [self.compile(child) for child in node.children]
            self._done[id(node)] = _KINDS[type(node)](self, node, *inputs)
        return self._done[id(node)]

    # ------------------------------------------------------------------ helpers
    def select(
        self, compiled: Compiled, names: dict[str, str], df: Any = None, **changes: Any
    ) -> Compiled:
        """Keep only ``names``' columns (and the provenance)."""
        from pyspark.sql import functions as F

        df = compiled.df if df is None else df
        columns = [F.col(c) for c in dict.fromkeys(names.values())]
        columns += [F.col(c) for c in compiled.provenance_columns()]
        return Compiled(df.select(*columns), dict(names), compiled.slots, compiled.monomial)

    def as_sums(self, compiled: Compiled) -> Any:
        """The provenance as one ``array<array<bigint>>`` column expression."""
        from pyspark.sql import functions as F

        if not compiled.monomial:
            return F.col(PROV)
        ids = [F.coalesce(F.col(c), F.lit(ABSENT)).cast("bigint") for c in compiled.slot_columns()]
        return F.array(F.array(*ids))

    def sample_of(self, node: PlanNode, compiled: Compiled | None = None) -> pd.DataFrame:
        """Rows of ``node``'s output to infer types from: the pandas run on the sources'
        first rows, or (when that left no rows) the first rows Spark computes."""
        sample = self.samples.get(id(node))
        if (sample is None or sample.empty) and compiled is not None:
            internal = list(compiled.names.values())
            rows = compiled.df.select(*internal).limit(1000).toPandas()
            sample = rows.set_axis(list(compiled.names), axis=1)
        return sample if sample is not None else pd.DataFrame()


# ---------------------------------------------------------------------------- row functions
def _outputs(values: Any, spark_type: Any) -> pd.Series:
    """Row-function results as a Series Arrow can convert to ``spark_type`` (NaN -> null)."""
    from pyspark.sql import types as T

    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.reset_index(drop=True)
    if isinstance(spark_type, T.DoubleType):
        return pd.to_numeric(series, errors="coerce").astype("float64")
    if isinstance(spark_type, T.LongType):
        return series.astype("Int64")
    if isinstance(spark_type, T.BooleanType):
        return series.astype("boolean")
    if isinstance(spark_type, T.ArrayType):
        return series.map(lambda v: list(v) if isinstance(v, list | tuple | np.ndarray) else None)
    if isinstance(spark_type, T.StringType):
        return series.astype(object).where(series.notna(), None)
    return series


def _row_udf(
    func: Callable[..., Any], columns: tuple[str, ...], vectorized: bool, spark_type: Any
) -> Any:
    """A pandas UDF calling ``func`` per row (on a DeclaredRow) or per batch (vectorized)."""
    from pyspark.sql import functions as F

    from lester.engine.pandas_engine import _call_per_row, call_vectorized

    names = tuple(columns)

    def run(*series: pd.Series) -> pd.Series:
        data = pd.DataFrame({name: s for name, s in zip(names, series, strict=False)})
        if not names:
            data = pd.DataFrame(index=range(len(series[0])))
        if vectorized:
            values = call_vectorized(func, data, names, "a function")
            values = values.to_numpy() if isinstance(values, pd.Series) else values
            return _outputs(pd.Series(list(values), dtype=object), spark_type)
        return _outputs(_call_per_row(func, data, names), spark_type)

    return F.pandas_udf(run, returnType=spark_type)


def _udf_inputs(compiled: Compiled, columns: Sequence[str]) -> list[Any]:
    from pyspark.sql import functions as F

    if not columns:  # a function of no column still needs one input to know the batch size
        return [F.col(compiled.provenance_columns()[0])]
    return [F.col(compiled.names[c]) for c in columns]


# ---------------------------------------------------------------------------- operators
def _source(compiler: SparkCompiler, node: Source) -> Compiled:
    from pyspark.sql import functions as F

    staged = compiler.staged[id(node)]
    df = compiler.spark.read.parquet(*staged.shards)
    names = {column: compiler.fresh() for column in node.columns}
    columns = [F.col(staged.internal[c]).alias(names[c]) for c in node.columns]
    df = df.select(*columns, F.col(ROW).cast("bigint").alias("__s0"))
    return Compiled(df, names, (Slot(node.name, node.name),), True)


def _filter(compiler: SparkCompiler, node: Filter, child: Compiled) -> Compiled:
    if isinstance(node.predicate, str):

        def apply_udf(func: Callable[..., Any], value: Any) -> Any:
            return _apply_udf(compiler, node, child, func, value)

        condition = compile_filter(
            node.predicate, node.bindings, child.names.__getitem__, apply_udf
        )
    else:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T

        ship_by_value([node.predicate])
        udf = _row_udf(node.predicate, node.used_columns, node.vectorized, T.BooleanType())
        condition = F.coalesce(udf(*_udf_inputs(child, node.used_columns)), F.lit(False))
    return Compiled(child.df.filter(condition), child.names, child.slots, child.monomial)


def _apply_udf(
    compiler: SparkCompiler, node: Filter, child: Compiled, func: Callable[..., Any], value: Any
) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    ship_by_value([func])
    sample = compiler.sample_of(node.children[0], child)
    spark_type = None
    if len(node.used_columns) == 1 and not sample.empty:
        spark_type = infer_type(sample[node.used_columns[0]].apply(func), f"{node.describe()}")
    spark_type = spark_type or T.BooleanType()

    def run(series: pd.Series) -> pd.Series:
        return _outputs(series.apply(func), spark_type)

    return F.pandas_udf(run, returnType=spark_type)(value)


def _project(compiler: SparkCompiler, node: Project, child: Compiled) -> Compiled:
    from pyspark.sql import types as T

    from lester.engine.pandas_engine import compute_projection

    ship_by_value([node.func])
    what = f"project {node.target_column!r}"
    sample = compiler.samples.get(id(node))
    spark_type = infer_type(sample[node.target_column], what) if sample is not None else None
    if spark_type is None:
        rows = compiler.sample_of(node.children[0], child)
        if not rows.empty:
            spark_type = infer_type(pd.Series(compute_projection(node, rows)), what)
    spark_type = spark_type or T.StringType()
    udf = _row_udf(node.func, node.source_columns, node.vectorized, spark_type)
    target = compiler.fresh()
    df = child.df.withColumn(target, udf(*_udf_inputs(child, node.source_columns)))
    names = dict(child.names) | {node.target_column: target}
    return compiler.select(
        Compiled(df, names, child.slots, child.monomial), {c: names[c] for c in node.columns}
    )


def _select(compiler: SparkCompiler, node: Select, child: Compiled) -> Compiled:
    return compiler.select(child, {c: child.names[c] for c in node.columns})


def _rename(compiler: SparkCompiler, node: Rename, child: Compiled) -> Compiled:
    names = {node.mapping.get(c, c): internal for c, internal in child.names.items()}
    return Compiled(child.df, names, child.slots, child.monomial)


def _explode(compiler: SparkCompiler, node: Explode, child: Compiled) -> Compiled:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    internal = child.names[node.column]
    if not isinstance(child.df.schema[internal].dataType, T.ArrayType):
        return child  # pandas leaves scalars (and strings) as they are
    target = compiler.fresh()
    df = child.df.withColumn(target, F.explode_outer(F.col(internal)))
    names = dict(child.names) | {node.column: target}
    return compiler.select(Compiled(df, names, child.slots, child.monomial), names)


def _split(compiler: SparkCompiler, node: Split, child: Compiled) -> Compiled:
    from pyspark.sql import functions as F

    hashes = compiler.spark.sparkContext.broadcast(
        {slot.source: compiler.key_hashes[slot.source] for slot in child.slots}
    )
    slots, monomial = child.slots, child.monomial
    test_size, seed, part = node.test_size, node.seed, node.part

    def in_part(*columns: pd.Series) -> pd.Series:
        from lester.provenance import Provenance
        from lester.provenance.hashing import hashes_with, unit_interval

        if monomial:
            keys = np.column_stack([c.to_numpy(dtype=np.int64) for c in columns])
            provenance = Provenance(slots, keys.reshape(-1, len(slots)), None, len(keys))
        else:
            monomials = [np.asarray(list(m), dtype=np.int64) for m in columns[0]]
            counts = np.array([len(m) for m in monomials], dtype=np.int64)
            keys = np.vstack([np.stack(list(m)) for m in monomials if len(m)]).astype(np.int64)
            owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
            provenance = Provenance(slots, keys.reshape(-1, len(slots)), owner, len(counts))
        in_test = unit_interval(hashes_with(provenance, hashes.value), seed) < test_size
        return pd.Series(in_test if part == "test" else ~in_test)

    udf = F.pandas_udf(in_part, returnType="boolean")
    condition = udf(*[F.col(c) for c in child.provenance_columns()])
    return Compiled(child.df.filter(condition), child.names, child.slots, child.monomial)


def _renamed(compiler: SparkCompiler, compiled: Compiled, first_slot: int) -> Compiled:
    """The same relation under fresh column names, slots numbered from ``first_slot``
    (the right side of a join, which may be the left side itself)."""
    from pyspark.sql import functions as F

    names = {c: compiler.fresh() for c in compiled.names}
    columns = [F.col(compiled.names[c]).alias(names[c]) for c in compiled.names]
    if compiled.monomial:
        slot_columns = compiled.slot_columns()
        columns += [F.col(s).alias(f"__s{first_slot + j}") for j, s in enumerate(slot_columns)]
    else:
        columns.append(F.col(PROV).alias(PROV + "_right"))
    return Compiled(compiled.df.select(*columns), names, compiled.slots, compiled.monomial)


def _join(compiler: SparkCompiler, node: Join, left: Compiled, right: Compiled) -> Compiled:
    from pyspark.sql import functions as F

    n_left = len(left.slots)
    right = _renamed(compiler, right, n_left)
    condition = None
    for a, b in zip(node.left_on, node.right_on, strict=True):
        part = F.col(left.names[a]) == F.col(right.names[b])
        condition = part if condition is None else condition & part
    df = left.df.join(right.df, condition, node.how)
    names = {out: left.names[c] for c, out in node.layout.left.items()}
    names |= {out: right.names[c] for c, out in node.layout.right.items()}
    slots = left.slots + _disambiguate(left.slots, right.slots)
    data = [F.col(c) for c in names.values()]
    if left.monomial and right.monomial:
        ids = [F.col(c) for c in left.slot_columns()]
        ids += [
            F.coalesce(F.col(f"__s{n_left + j}"), F.lit(ABSENT)).alias(f"__s{n_left + j}")
            for j in range(len(right.slots))
        ]
        return Compiled(df.select(*data, *ids), names, slots, True)
    absent = F.array(F.array_repeat(F.lit(ABSENT).cast("bigint"), len(right.slots)))
    if right.monomial:
        right_ids = [F.col(f"__s{n_left + j}") for j in range(len(right.slots))]
        right_sums = F.when(
            right_ids[0].isNull(), absent
        ).otherwise(F.array(F.array(*right_ids)))  # fmt: skip
    else:
        right_sums = F.coalesce(F.col(PROV + "_right"), absent)
    left_sums = compiler.as_sums(left)
    product = F.flatten(
        F.transform(left_sums, lambda a: F.transform(right_sums, lambda b: F.concat(a, b)))
    )
    return Compiled(df.select(*data, product.alias(PROV)), names, slots, False)


def _union(compiler: SparkCompiler, node: Union, *parts: Compiled) -> Compiled:
    from pyspark.sql import functions as F

    slots: list[Slot] = []
    for part in parts:
        slots.extend(slot for slot in part.slots if slot not in slots)
    names = {c: compiler.fresh() for c in node.columns}
    monomial = all(part.monomial for part in parts)
    frames = []
    for part in parts:
        data = [F.col(part.names[c]).alias(names[c]) for c in node.columns]
        position = {slot: j for j, slot in enumerate(part.slots)}
        if monomial:
            ids = [
                (
                    F.col(f"__s{position[s]}") if s in position else F.lit(ABSENT).cast("bigint")
                ).alias(f"__s{j}")
                for j, s in enumerate(slots)
            ]
        else:
            align = _aligner(position, slots)
            ids = [F.transform(compiler.as_sums(part), align).alias(PROV)]
        frames.append(part.df.select(*data, *ids))
    df = frames[0]
    for frame in frames[1:]:
        df = df.unionByName(frame)
    return Compiled(df, names, tuple(slots), monomial)


def _aligner(position: dict[Slot, int], slots: list[Slot]) -> Callable[[Any], Any]:
    """A one-argument lambda for ``F.transform`` (two arguments would mean element, index)."""
    from pyspark.sql import functions as F

    def align(monomial_ids: Any) -> Any:
        absent = F.lit(ABSENT).cast("bigint")
        return F.array(*[monomial_ids[position[s]] if s in position else absent for s in slots])

    return align


def _grouped(
    compiler: SparkCompiler, child: Compiled, keys: Sequence[str], aggregates: list[Any]
) -> Any:
    from pyspark.sql import functions as F

    groups = child.df.groupBy(*[F.col(child.names[k]) for k in keys])
    sums = F.flatten(F.collect_list(compiler.as_sums(child))).alias(PROV)
    return groups.agg(*aggregates, sums)


def _distinct(compiler: SparkCompiler, node: Distinct, child: Compiled) -> Compiled:
    if node.keep is not None:
        # Which duplicate is first or last depends on the row order, which Spark does not keep.
        raise SparkExecutionError(
            f"the Spark engine cannot execute {node.describe()}: keep='{node.keep}' needs the "
            "input's row order; run this plan on the pandas engine"
        )
    df = _grouped(compiler, child, node.columns, [])
    return Compiled(df, dict(child.names), child.slots, False)


def _groupby(compiler: SparkCompiler, node: GroupBy, child: Compiled) -> Compiled:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    names = {key: child.names[key] for key in node.keys}
    aggregates = []
    for out, (column, function) in node.aggregates.items():
        value = F.col(child.names[column])
        kind = child.df.schema[child.names[column]].dataType
        if isinstance(kind, T.BooleanType) and function in ("sum", "mean"):
            value = value.cast("bigint")
        elif isinstance(kind, T.StringType | T.ArrayType) and function in ("sum", "mean"):
            raise SchemaError(f"cannot aggregate {node.describe()}: {function} of text")
        expression = {
            "count": F.count(value),
            "sum": F.coalesce(F.sum(value), F.lit(0)),  # pandas: the sum of nothing is 0
            "mean": F.avg(value),
            "min": F.min(value),
            "max": F.max(value),
        }[function]
        names[out] = compiler.fresh()
        aggregates.append(expression.alias(names[out]))
    df = _grouped(compiler, child, node.keys, aggregates)
    return Compiled(df, names, child.slots, False)


_KINDS: dict[type, Callable[..., Compiled]] = {
    Source: _source,
    Filter: _filter,
    Project: _project,
    Select: _select,
    Rename: _rename,
    Explode: _explode,
    Split: _split,
    Join: _join,
    Union: _union,
    Distinct: _distinct,
    GroupBy: _groupby,
}
