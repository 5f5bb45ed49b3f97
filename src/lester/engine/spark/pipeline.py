"""Run a whole pipeline on Spark: data preparation, split, featurisation at scale.

The pipeline module is unchanged. Its ``_lester_dataprep`` runs in plan-only mode and yields
the plan, which compiles to Spark; the split is the same provenance-hash split as on
pandas. Encoders are fitted on the driver from the training rows, all of them up to
``fit_rows`` rows (default 200,000), else a seeded Spark sample of about ``fit_rows`` rows,
then applied per partition (``mapInPandas``). Each split is written as Parquet shards that
hold, row by row, the prepared data, the provenance, the feature vector ``X`` and the label
``y``, so the three stay aligned; the driver reads the shards back for model training and
capture. The matrix column provenance comes from the fitted encoder, as on pandas.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from lester.engine.relation import Relation, concat_relations
from lester.engine.spark import SparkEngine, relation_from_arrow
from lester.engine.spark.compile import Compiled, ship_by_value
from lester.frame.frame import TrackedFrame, plan_only
from lester.frame.plan import PlanNode, Split
from lester.pipeline import Pipeline, PipelineError
from lester.provenance import Provenance
from lester.runner.execute import (
    PipelineOutputs,
    Progress,
    as_float32,
    seed_everything,
    step,
    train_and_evaluate,
)

FIT_ROWS = 200_000
X_COLUMN, Y_COLUMN = "__X", "__y"


def build_plan(pipeline: Pipeline, sources: Mapping[str, str]) -> TrackedFrame:
    """The pipeline's prepared frame as a plan only (no rows are read or computed)."""
    arguments = pipeline.dataprep_arguments(dict(sources))
    with plan_only("spark"):
        prepared = pipeline.dataprep(**arguments)
    if not isinstance(prepared, TrackedFrame):
        raise PipelineError(
            f"_lester_dataprep of {pipeline.name!r} returned {type(prepared).__name__}; expected "
            f"a lester TrackedFrame (built with lt.read_csv, filter, project, join, ...)"
        )
    return prepared


def fit_sample(engine: SparkEngine, compiled: Compiled, columns: list[str], rows: int, seed: int):
    """The training rows the encoder is fitted on: all of them up to ``rows``, else a
    seeded Spark sample of about ``rows`` rows."""
    from pyspark.sql import functions as F

    df = compiled.df.select(*[F.col(compiled.names[c]).alias(c) for c in columns])
    total = df.count()
    if total > rows:
        df = df.sample(fraction=min(1.0, rows / total), seed=seed)
    return df.toPandas(), total


def _label_type(y: np.ndarray) -> str:
    if y.dtype.kind == "b":
        return "boolean"
    if y.dtype.kind in "iu":
        return "bigint"
    if y.dtype.kind == "f":
        return "double"
    return "string"


def encode_split(
    compiled: Compiled,
    columns: list[str],
    encoder: Any,
    extract_label: Any,
    label_type: str,
    folder: Path,
) -> None:
    """Encode every partition of ``compiled`` and write data, provenance, X and y as
    Parquet shards under ``folder``."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    ship_by_value([extract_label, type(encoder).__init__])
    data = [F.col(compiled.names[c]).alias(f"d{i}") for i, c in enumerate(columns)]
    provenance = [F.col(c) for c in compiled.provenance_columns()]
    df = compiled.df.select(*data, *provenance)
    x_field = T.StructField(X_COLUMN, T.ArrayType(T.FloatType()), False)
    y_field = T.StructField(Y_COLUMN, T._parse_datatype_string(label_type), True)
    schema = T.StructType([*df.schema.fields, x_field, y_field])
    names = {f"d{i}": c for i, c in enumerate(columns)}

    def encode(batches):
        for batch in batches:
            rows = batch[list(names)].rename(columns=names).reset_index(drop=True)
            if len(rows) == 0:
                continue
            X = as_float32(encoder.transform(rows))
            X = X.toarray() if hasattr(X, "toarray") else X
            out = batch.reset_index(drop=True).copy()
            out[X_COLUMN] = list(X)
            out[Y_COLUMN] = np.asarray(extract_label(rows))
            yield out

    df.mapInPandas(encode, schema).write.mode("overwrite").parquet(str(folder))


def read_encoded(
    folder: Path, compiled: Compiled, columns: list[str], sources: dict[str, Any], n_features: int
) -> tuple[Relation, np.ndarray, np.ndarray]:
    """The rows, provenance, X and y written by :func:`encode_split`, in shard order."""
    files = sorted(str(p) for p in folder.glob("*.parquet"))
    table = ds.dataset(files, format="parquet").to_table() if files else None
    if table is None or table.num_rows == 0:
        empty = pd.DataFrame(columns=columns)
        provenance = Provenance(
            compiled.slots, np.empty((0, len(compiled.slots)), np.int64), None, 0
        )
        return (
            Relation(empty, provenance, sources),
            np.empty((0, n_features), np.float32),
            np.empty(0),
        )
    relation = relation_from_arrow(table, compiled, columns, sources)
    flat = table.column(X_COLUMN).combine_chunks().flatten().to_numpy(zero_copy_only=False)
    X = flat.astype(np.float32).reshape(table.num_rows, -1)
    y = table.column(Y_COLUMN).to_numpy(zero_copy_only=False)
    return relation, X, y


def execute_pipeline_on_spark(
    pipeline: Pipeline,
    sources: Mapping[str, str],
    seed: int = 42,
    test_size: float = 0.2,
    progress: Progress = None,
    master: str | None = None,
    spark: Any = None,
    fit_rows: int = FIT_ROWS,
) -> PipelineOutputs:
    """:func:`lester.runner.execute.execute_pipeline` on Spark: the same outputs."""
    seed_everything(seed)
    timings: dict[str, float] = {}
    with step("data preparation (plan)", timings, progress):
        prepared = build_plan(pipeline, sources)
    root = prepared._node
    nodes = {part: Split(root, part, test_size, seed) for part in Split.PARTS}
    columns = list(root.columns)
    with SparkEngine(spark=spark, master=master) as engine:
        with step("data preparation and split (spark)", timings, progress):
            engine.prepare(nodes["train"])
            compiled = {part: engine.compile(node) for part, node in nodes.items()}
        with step("feature encoding (fit on train)", timings, progress):
            sample, _ = fit_sample(engine, compiled["train"], columns, fit_rows, seed)
            encoder = pipeline.encode_features()
            encoder.fit(sample)
            label_type = _label_type(np.asarray(pipeline.extract_label(sample.head(100))))
            n_features = as_float32(encoder.transform(sample.head(1))).shape[1]
        frames, matrices = {}, {}
        for part, node in nodes.items():
            with step(f"feature encoding ({part}, per partition)", timings, progress):
                folder = engine.workdir / f"encoded-{part}"
                encode_split(
                    compiled[part], columns, encoder, pipeline.extract_label, label_type, folder
                )
                sources_of = engine.sources_of(node)
                relation, X, y = read_encoded(
                    folder, compiled[part], columns, sources_of, n_features
                )
            frames[part] = relation
            matrices[part] = (X, y)
        prepared_frame = _prepared_frame(engine, root, frames)
    train = TrackedFrame(nodes["train"], frames["train"], [prepared_frame])
    test = TrackedFrame(nodes["test"], frames["test"], [prepared_frame])
    (X_train, y_train), (X_test, y_test) = matrices["train"], matrices["test"]
    started = time.perf_counter()
    outputs = train_and_evaluate(
        pipeline, (prepared_frame, train, test, encoder), (X_train, X_test, y_train, y_test),
        timings, progress,
    )  # fmt: skip
    outputs.timings["total (spark)"] = sum(timings.values()) + time.perf_counter() - started
    return outputs


def _prepared_frame(
    engine: SparkEngine, root: PlanNode, parts: dict[str, Relation]
) -> TrackedFrame:
    """The prepared frame: its rows are the train and test rows; its inputs are the sources
    as read (schema and tuple identity, no rows kept on the driver)."""
    inputs = []
    for staged in engine.staged.values():
        name = staged.node.name
        empty = Relation(staged.empty, Provenance.of_source(name, 0), {name: staged.info})
        inputs.append(TrackedFrame(staged.node, empty))
    relation = concat_relations([parts["train"], parts["test"]], list(root.columns))
    return TrackedFrame(root, relation, inputs)
