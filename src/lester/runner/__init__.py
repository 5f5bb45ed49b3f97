"""Run pipelines end to end and capture every artifact with its provenance.

Examples
--------
>>> import lester as lt
>>> result = lt.run("examples/creditcard/pipeline.py",  # doctest: +SKIP
...                 sources={"customers": "data/customers.csv", "mails": "data/mails.csv"})
>>> result.run_id  # doctest: +SKIP
'creditcard-20261124-101500-3fa2c1'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lester.errors import SourceReadError, describe_names
from lester.lineage import LineageSink, configured_sinks, tracked
from lester.lineage.description import LINEAGE_ID_KEY, describe_captured, describe_start
from lester.pipeline import Pipeline, load_pipeline
from lester.runner.capture import capture
from lester.runner.execute import PipelineOutputs, RunError, execute_pipeline

__all__ = ["RunError", "RunResult", "run"]


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` returns: the run's id in the store, its metrics and outputs."""

    run_id: str
    store: str
    metrics: dict[str, float]
    outputs: PipelineOutputs


def run(
    pipeline: Pipeline | str | Path,
    sources: Mapping[str, str | Path],
    store: Any = ".lester",
    seed: int = 42,
    test_size: float = 0.2,
    quiet: bool = False,
    lineage: Sequence[LineageSink] | None = None,
    engine: str = "pandas",
    spark_master: str | None = None,
) -> RunResult:
    """Run ``pipeline`` on ``sources`` ({name: path}) and capture it in ``store``.

    Data preparation, a seeded train/test split that keeps row provenance aligned,
    encoders fitted on train only, training, prediction and metrics; then every artifact
    with its provenance is written to the store. The run appears in the store's catalog
    only when it is complete; any failure leaves nothing behind.

    ``lineage``: the sinks told about the run (see :mod:`lester.lineage`); by default the
    configured ones (:func:`lester.lineage.configured_sinks`), ``[]`` for none.
    ``engine="spark"`` runs data preparation, split and featurisation on Apache Spark
    (``spark_master``, default ``local[2]``, or the active session) with the same
    provenance; the pipeline module is unchanged.
    """
    from lester.store import Store

    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(pipeline)
    paths = _check_sources(sources)
    target = store if isinstance(store, Store) else Store(store)
    sinks = configured_sinks(target) if lineage is None else list(lineage)
    params = {"seed": seed, "test_size": test_size}
    describe = lambda: describe_start(pipeline.name, paths, target.root, params)  # noqa: E731
    with _progress(quiet) as progress, tracked(sinks, describe) as lineage_run:
        outputs = _execute(pipeline, paths, seed, test_size, progress, engine, spark_master)
        if progress is not None:
            progress("capture")
        meta = {"seed": seed, "test_size": test_size, "sources": paths}
        if lineage_run.description is not None:
            meta[LINEAGE_ID_KEY] = lineage_run.description.lineage_id
        with target.new_run(pipeline=pipeline.name, meta=meta) as writer:
            capture(writer, pipeline, outputs, paths, seed, test_size)
        lineage_run.fill(describe_captured, target, writer.run_id, outputs.prepared,
                         outputs.encoder)  # fmt: skip
    return RunResult(writer.run_id, str(target.root), outputs.metrics, outputs)


ENGINES = ("pandas", "spark")


def _execute(
    pipeline: Pipeline,
    paths: dict[str, str],
    seed: int,
    test_size: float,
    progress: Any,
    engine: str,
    spark_master: str | None,
) -> PipelineOutputs:
    if engine == "pandas":
        return execute_pipeline(pipeline, paths, seed, test_size, progress)
    if engine == "spark":
        from lester.engine.spark.pipeline import execute_pipeline_on_spark

        return execute_pipeline_on_spark(
            pipeline, paths, seed, test_size, progress, master=spark_master
        )
    raise RunError(f"unknown engine {engine!r}; expected one of {ENGINES}")


def _check_sources(sources: Mapping[str, str | Path]) -> dict[str, str]:
    missing = {name: str(path) for name, path in sources.items() if not Path(path).is_file()}
    if missing:
        described = describe_names([f"{name}={path}" for name, path in missing.items()])
        raise SourceReadError(f"source files do not exist: {described}")
    return {name: str(Path(path)) for name, path in sources.items()}


@contextmanager
def _progress(quiet: bool) -> Iterator[Any]:
    """A rich progress display of the run's steps (on stderr); ``None`` when quiet."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as display:
        current: list[Any] = []

        def advance(step: str) -> None:
            if current:
                display.update(current[-1], completed=1, total=1)
            current.append(display.add_task(step, total=None))

        yield advance
        if current:
            display.update(current[-1], completed=1, total=1)
