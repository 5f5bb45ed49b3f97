"""The Spark engine: execute Lester plans on Apache Spark with the same provenance.

The pipeline code does not change: data preparation builds its plan in plan-only mode
(:func:`lester.frame.plan_only`), the plan compiles to Spark (:mod:`.compile`), and the
results carry the very polynomials and column provenance the pandas engine computes.

Examples
--------
>>> import lester as lt, pandas as pd
>>> from lester.engine.spark import execute_on_spark, spark_available
>>> frame = lt.from_pandas(pd.DataFrame({"id": [1, 2, 3]}), name="s", primary_key="id")
>>> on_spark = execute_on_spark(frame.filter("id >= 2")) if spark_available() else None
>>> sorted(on_spark.provenance_canonical()) if on_spark else None  # doctest: +SKIP
[((('s', 2),),), ((('s', 3),),)]
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lester.engine.relation import Relation
from lester.engine.spark.compile import PROV, Compiled, SparkCompiler, check_plan
from lester.engine.spark.filters import UnsupportedFilterError, check_filter
from lester.engine.spark.session import (
    SparkExecutionError,
    SparkUnavailableError,
    get_session,
    require_spark,
    spark_available,
)
from lester.engine.spark.sources import (
    CHUNK_ROWS,
    StagedSource,
    release_freed_memory,
    stage_source,
)
from lester.frame.plan import PlanNode, Source
from lester.provenance import Provenance
from lester.provenance.hashing import key_hashes

__all__ = [
    "SparkEngine",
    "SparkExecutionError",
    "SparkUnavailableError",
    "UnsupportedFilterError",
    "check_filter",
    "check_plan",
    "execute_on_spark",
    "get_session",
    "require_spark",
    "spark_available",
]

SAMPLE_ROWS = 1000


class SparkEngine:
    """Executes one plan (and any node below its root) on Spark.

    Use as a context manager: sources are staged as Parquet shards in a temporary folder
    that lives as long as the engine. ``prepare(root)`` checks the whole plan first, so an
    unsupported filter fails before Spark runs anything.
    """

    def __init__(
        self,
        spark: Any = None,
        master: str | None = None,
        workdir: str | Path | None = None,
        chunk_rows: int = CHUNK_ROWS,
        sample_rows: int = SAMPLE_ROWS,
    ) -> None:
        self._spark, self._master = spark, master
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="lester-spark-"))
        self.chunk_rows, self.sample_rows = chunk_rows, sample_rows
        self.staged: dict[int, StagedSource] = {}
        self._compiler: SparkCompiler | None = None

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Remove the staged sources (Spark DataFrames of this engine stop working)."""
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def spark(self) -> Any:
        if self._spark is None:
            self._spark = get_session(self._master)
        return self._spark

    def prepare(self, root: PlanNode) -> None:
        """Check the plan, stage its sources and infer row-function types."""
        check_plan(root)
        require_spark()
        for node in root.sources():
            if id(node) not in self.staged:
                self.staged[id(node)] = stage_source(node, self.workdir, self.chunk_rows)
        infos = {staged.node.name: staged.info for staged in self.staged.values()}
        samples = self._samples(root)
        hashes = key_hashes(infos)
        release_freed_memory()
        self._compiler = SparkCompiler(self.spark, self.staged, samples, hashes)

    def _samples(self, root: PlanNode) -> dict[int, pd.DataFrame]:
        """Each node's output on the first rows of every source (run with pandas)."""
        from lester.frame.frame import execute_plan

        heads = {}
        for staged in self.staged.values():
            head = _head(staged.shards[0], self.sample_rows)
            reverse = {internal: column for column, internal in staged.internal.items()}
            heads[staged.node.name] = head[list(reverse)].rename(columns=reverse)
        frame = execute_plan(root, heads)
        found: dict[int, pd.DataFrame] = {}
        stack = [frame]
        while stack:
            current = stack.pop()
            found[id(current._node)] = current._relation.data
            stack.extend(current._inputs)
        return found

    def compile(self, node: PlanNode) -> Compiled:
        """``node`` as a Spark DataFrame with provenance (``prepare`` its root first)."""
        if self._compiler is None:
            self.prepare(node)
        assert self._compiler is not None
        return self._compiler.compile(node)

    def sources_of(self, node: PlanNode) -> dict[str, Any]:
        """Source name -> :class:`~lester.provenance.SourceInfo` of the sources below ``node``."""
        names = {source.name for source in node.sources()}
        return {s.node.name: s.info for s in self.staged.values() if s.node.name in names}

    def relation(self, node: PlanNode) -> Relation:
        """Execute ``node`` and collect its rows and polynomials to the driver."""
        compiled = self.compile(node)
        return to_relation(compiled, list(node.columns), self.sources_of(node))

    def collect(self, node: PlanNode) -> Any:
        """Execute ``node`` and return it as a :class:`~lester.TrackedFrame`."""
        from lester.frame.frame import TrackedFrame

        return TrackedFrame(node, self.relation(node))


def _head(path: str, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of a Parquet shard, without reading the rest of it."""
    handle = pq.ParquetFile(path)
    batch = next(handle.iter_batches(batch_size=max(rows, 1)), None)
    table = handle.schema_arrow.empty_table() if batch is None else pa.Table.from_batches([batch])
    return table.to_pandas()


def to_relation(compiled: Compiled, columns: list[str], sources: dict[str, Any]) -> Relation:
    """Collect a compiled node through Arrow into a :class:`Relation`."""
    from pyspark.sql import functions as F

    data_columns = [F.col(compiled.names[c]).alias(f"d{i}") for i, c in enumerate(columns)]
    provenance_columns = [F.col(c) for c in compiled.provenance_columns()]
    table = compiled.df.select(*data_columns, *provenance_columns).toArrow()
    return relation_from_arrow(table, compiled, columns, sources)


def relation_from_arrow(
    table: pa.Table, compiled: Compiled, columns: list[str], sources: dict[str, Any]
) -> Relation:
    """A relation from an Arrow table of data columns ``d0, d1, ...`` and provenance."""
    data = {}
    for i, column in enumerate(columns):
        values = table.column(f"d{i}")
        if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
            data[column] = pd.Series(values.to_pylist(), dtype=object)
        else:
            data[column] = values.to_pandas()
    frame = pd.DataFrame(data, columns=columns).reset_index(drop=True)
    return Relation(frame, provenance_from_arrow(table, compiled), sources)


def provenance_from_arrow(table: pa.Table, compiled: Compiled) -> Provenance:
    """The polynomials of the rows of ``table`` (slot columns or the ``__prov`` lists)."""
    n_slots, n_rows = len(compiled.slots), table.num_rows
    if compiled.monomial:
        keys = np.column_stack(
            [table.column(c).to_numpy().astype(np.int64) for c in compiled.slot_columns()]
        ) if n_slots else np.empty((n_rows, 0), np.int64)  # fmt: skip
        return Provenance(compiled.slots, keys.reshape(n_rows, n_slots), None, n_rows)
    sums = table.column(PROV).combine_chunks()
    counts = pa.compute.list_value_length(sums).to_numpy(zero_copy_only=False).astype(np.int64)
    ids = sums.flatten().flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.repeat(np.arange(n_rows, dtype=np.int64), counts)
    keys = ids.reshape(-1, n_slots)
    return Provenance(compiled.slots, keys, owner, n_rows).normalised()


def execute_on_spark(frame: Any, spark: Any = None, master: str | None = None) -> Any:
    """Re-execute a tracked frame's plan on Spark and collect it (rows + provenance)."""
    node = frame._node if hasattr(frame, "_node") else frame
    with SparkEngine(spark=spark, master=master) as engine:
        engine.prepare(node)
        return engine.collect(node)


def is_source(node: PlanNode) -> bool:
    """Whether ``node`` reads data (a plan leaf)."""
    return isinstance(node, Source)
