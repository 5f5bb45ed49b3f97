"""OpenLineage events for runs and maintenance updates (``pip install lester[openlineage]``).

Every run emits a START event before it executes and a COMPLETE event once it is captured
(FAIL if it fails). The COMPLETE event lists

- the source files as input datasets (namespace ``file``, name the absolute path) with
  their schema;
- the run's artifacts as output datasets (namespace ``lester``, name
  ``<store>/runs/<run id>/<artifact>``): ``train/data``, ``test/data``, ``train/X``,
  ``test/X`` (fields: the feature names), ``train/y``, ``test/y`` and ``model``, each with
  its schema, row count, version and a ``columnLineage`` facet: per field its source
  columns with DIRECT/IDENTITY, TRANSFORMATION or AGGREGATION, and for the whole dataset
  the source columns that decide its rows with INDIRECT/FILTER, JOIN, GROUP_BY or EXPLODE;
- tags with the Lester run id, store and metrics.

A maintenance update (forget-values, forget-rows, correct) emits its own run, job
``<pipeline>.<command>``, with a ``parent`` facet naming the original run, the source it
reads and the artifacts it rewrote (lifecycle ``OVERWRITE``, the new version).

Transport: the standard OpenLineage client configuration (``OPENLINEAGE_CONFIG``,
``openlineage.yml`` in the working directory or ``~/.openlineage/``, ``OPENLINEAGE__...``
variables, ``OPENLINEAGE_URL``) when there is one; otherwise a JSON-lines file in the run
folder, ``<store>/runs/<run_id>/logs/openlineage.jsonl``, one event per line (a run that
failed before it had a folder: ``<store>/lineage/openlineage.jsonl``).

Examples
--------
>>> import json, tempfile
>>> from lester.lineage.description import describe_start
>>> sink = OpenLineageSink(tempfile.mkdtemp())
>>> run = describe_start("numbers", {"numbers": "n.csv"}, sink.store, {"seed": 1})
>>> run.run_id = "numbers-1"
>>> sink.start(run)
>>> event = json.loads(sink.events_file_of("numbers-1").read_text().splitlines()[0])
>>> event["eventType"], event["job"]["name"], event["inputs"][0]["name"].endswith("n.csv")
('START', 'numbers', True)
"""

from __future__ import annotations

import importlib.metadata
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from pathlib import Path
from typing import Any

from lester.lineage.description import (
    DatasetDescription,
    Dependency,
    RunDescription,
    SourceDescription,
    now,
)

NAMESPACE = "lester"
FILE_NAMESPACE = "file"
EVENTS_FILE = Path("lineage") / "openlineage.jsonl"
RUN_EVENTS_FILE = Path("logs") / "openlineage.jsonl"


@cache
def producer() -> str:
    """The ``producer`` URI of Lester's events.

    Examples
    --------
    >>> producer().startswith("urn:lester:")
    True
    """
    try:
        version = importlib.metadata.version("lester")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"urn:lester:{version}"


def dataset_name(description: RunDescription, artifact: str) -> str:
    """The OpenLineage dataset name of a run's artifact.

    Examples
    --------
    >>> from lester.lineage.description import RunDescription
    >>> run = RunDescription("run", "id", "/s", "p", "t", run_id="p-1")
    >>> dataset_name(run, "train/X")
    '/s/runs/p-1/train/X'
    """
    return f"{description.store}/runs/{description.run_id}/{artifact}"


class OpenLineageSink:
    """Emits OpenLineage events through the configured (or the default file) transport.

    The default file transport writes a run's events, and those of its updates, to the run
    folder (``<store>/runs/<run_id>/logs/openlineage.jsonl``, a log the store keeps across
    versions); the events of a run that failed before it had a folder go to
    ``<store>/lineage/openlineage.jsonl``. A run's START is held back until its run id is
    known, so both land in the same file.
    """

    def __init__(self, store: str | Path, client: Any = None) -> None:
        self.store = Path(store).resolve()
        self.events_file = self.store / EVENTS_FILE
        self._client = client
        self._clients: dict[Path, tuple[Any, bool]] = {}
        self._pending: list[Any] = []

    @property
    def client(self) -> Any:
        """The OpenLineage client, created on first use from the standard configuration."""
        return self._client_of(None)[0]

    def events_file_of(self, run_id: str | None) -> Path:
        """Where the default transport writes the events of run ``run_id``."""
        if run_id is None:
            return self.events_file
        return self.store / "runs" / run_id / RUN_EVENTS_FILE

    def start(self, run: RunDescription) -> None:
        """Emit START with the inputs known before the run (and the parent of an update)."""
        event = run_event(run, "START")
        if run.run_id is None and self._client_of(None)[1]:
            self._pending.append(event)  # written with the completion, in the run's folder
            return
        self._emit(event, run.run_id)

    def complete(self, run: RunDescription) -> None:
        """Emit COMPLETE with inputs, outputs, their column lineage and the run's tags."""
        self._emit(run_event(run, "COMPLETE"), run.run_id)

    def succeeded(self, run: RunDescription) -> None:
        """Emit START and COMPLETE of a run reported only once it succeeded (a maintenance
        update), written together."""
        self._pending.append(run_event(run, "START"))
        self.complete(run)

    def fail(self, run: RunDescription, error: BaseException) -> None:
        """Emit FAIL with the error message and stack trace."""
        self._emit(run_event(run, "FAIL", error), run.run_id)

    def _client_of(self, run_id: str | None) -> tuple[Any, bool]:
        """The client for the events of ``run_id`` (one per events file), and whether it is
        the default file client."""
        if self._client is not None:
            return self._client, False
        path = self.events_file_of(run_id)
        if path not in self._clients:
            self._clients[path] = client_for(path)
        return self._clients[path]

    def _emit(self, event: Any, run_id: str | None) -> None:
        client, default_file = self._client_of(run_id)
        events, self._pending = [*self._pending, event], []
        # Only the default file client appends to a file that concurrent runs share.
        lock = self._file_lock(self.events_file_of(run_id)) if default_file else nullcontext()
        with lock:
            for pending in events:
                client.emit(pending)

    @staticmethod
    def _file_lock(path: Path) -> AbstractContextManager[Any]:
        """Concurrent runs append to one file: one writer at a time keeps lines whole."""
        from filelock import FileLock

        return FileLock(str(path) + ".lock")


def client_for(events_file: Path) -> tuple[Any, bool]:
    """The client of the standard OpenLineage configuration if there is one (config file,
    ``OPENLINEAGE__`` variables, ``OPENLINEAGE_URL``, ``OPENLINEAGE_DISABLED``), else one
    appending to ``events_file``; and whether it is the default file client."""
    import os

    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    default = FileTransport(FileConfig(log_file_path=str(events_file), append=True))
    client = OpenLineageClient(transport=default)
    configured = client.config.transport and client.config.transport.get("type")
    if configured or os.environ.get("OPENLINEAGE_URL"):
        return OpenLineageClient(), False
    if client.transport is default:
        events_file.parent.mkdir(parents=True, exist_ok=True)
    return client, client.transport is default


def run_event(run: RunDescription, state: str, error: BaseException | None = None) -> Any:
    """The OpenLineage ``RunEvent`` of ``run`` in ``state`` (START, COMPLETE or FAIL)."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    complete = state == "COMPLETE"
    return RunEvent(
        eventType=RunState(state),
        eventTime=now(),
        run=Run(runId=run.lineage_id, facets=_run_facets(run, error, complete)),
        job=Job(namespace=NAMESPACE, name=run.job, facets=_job_facets(run)),
        inputs=[_input(source, complete) for source in run.sources],
        outputs=[_output(run, dataset) for dataset in run.outputs] if complete else [],
        producer=producer(),
    )


def _run_facets(run: RunDescription, error: BaseException | None, complete: bool) -> dict:
    from openlineage.client.facet_v2 import (
        error_message_run,
        execution_parameters_run,
        parent_run,
        processing_engine_run,
        tags_run,
    )

    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            producer=producer(), version=producer().rpartition(":")[2], name="lester"
        ),
        "executionParameters": execution_parameters_run.ExecutionParametersRunFacet(
            producer=producer(),
            parameters=[
                execution_parameters_run.ExecutionParameter(key=key, value=value)
                for key, value in sorted(run.params.items())
            ],
        ),
    }
    if run.parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            producer=producer(),
            run=parent_run.Run(runId=run.parent.lineage_id),
            job=parent_run.Job(namespace=NAMESPACE, name=run.parent.pipeline),
        )
    tags = {"lester.store": run.store, **{f"lester.{k}": v for k, v in run.details.items()}}
    if run.run_id is not None:
        tags["lester.run_id"] = run.run_id
    if complete:
        tags.update({f"lester.metric.{k}": f"{v:.6g}" for k, v in run.metrics.items()})
        if run.version is not None:
            tags["lester.version"] = str(run.version)
    facets["tags"] = tags_run.TagsRunFacet(
        producer=producer(),
        tags=[tags_run.TagsRunFacetFields(key=k, value=v, source="LESTER")
              for k, v in sorted(tags.items())]
    )  # fmt: skip
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            producer=producer(),
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="PYTHON",
            stackTrace="".join(traceback.format_exception(error)),
        )
    return facets


def _job_facets(run: RunDescription) -> dict:
    from openlineage.client.facet_v2 import job_type_job

    job_type = "PIPELINE" if run.kind == "run" else "MAINTENANCE"
    return {
        "jobType": job_type_job.JobTypeJobFacet(
            producer=producer(), processingType="BATCH", integration="LESTER", jobType=job_type
        )
    }


def _schema(fields: dict[str, str]) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        producer=producer(),
        fields=[schema_dataset.SchemaDatasetFacetFields(name=name, type=kind or None)
                for name, kind in fields.items()]
    )  # fmt: skip


def _input(source: SourceDescription, complete: bool) -> Any:
    from openlineage.client.event_v2 import InputDataset

    facets = {"schema": _schema(source.fields)} if complete and source.fields else {}
    return InputDataset(namespace=FILE_NAMESPACE, name=source.path, facets=facets)


def _output(run: RunDescription, dataset: DatasetDescription) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        lifecycle_state_change_dataset,
        output_statistics_output_dataset,
    )

    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            producer=producer(), datasetVersion=f"{run.run_id}@v{run.version}"
        )
    }
    if dataset.fields:
        facets["schema"] = _schema(dataset.fields)
    if dataset.field_lineage or dataset.row_lineage:
        facets["columnLineage"] = column_lineage_facet(run, dataset)
    if run.parent is not None:
        change = lifecycle_state_change_dataset.LifecycleStateChange.OVERWRITE
        facets["lifecycleStateChange"] = (
            lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
                change, producer=producer()
            )
        )
    output_facets = {}
    if dataset.rows is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                producer=producer(), rowCount=dataset.rows
            )
        )
    return OutputDataset(
        namespace=NAMESPACE,
        name=dataset_name(run, dataset.artifact),
        facets=facets,
        outputFacets=output_facets,
    )


def column_lineage_facet(run: RunDescription, dataset: DatasetDescription) -> Any:
    """The ``columnLineage`` facet: per field its direct inputs, and the dataset's
    indirect ones (row dependencies), grouped by input column."""
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    paths = {source.name: source.path for source in run.sources}
    fields = {
        name: cl.Fields(inputFields=list(_input_fields(dependencies, paths)))
        for name, dependencies in dataset.field_lineage.items()
    }
    return cl.ColumnLineageDatasetFacet(
        producer=producer(), fields=fields, dataset=list(_input_fields(dataset.row_lineage, paths))
    )


def _input_fields(dependencies: list[Dependency], paths: dict[str, str]) -> Iterator[Any]:
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    grouped: dict[tuple[str, str], list[Dependency]] = {}
    for dependency in dependencies:
        grouped.setdefault((dependency.source, dependency.column), []).append(dependency)
    for (source, column), group in grouped.items():
        yield cl.InputField(
            namespace=FILE_NAMESPACE,
            name=paths.get(source, source),
            field=column,
            transformations=[
                cl.Transformation(type=d.type, subtype=d.subtype, description=d.description)
                for d in group
            ],
        )
