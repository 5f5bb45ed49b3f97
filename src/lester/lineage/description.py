"""What a lineage sink is told about a run or a maintenance update: :class:`RunDescription`.

A description is filled in steps: :func:`describe_start` before a pipeline runs (its job,
its source files, its parameters), :func:`describe_captured` once the run is in the store
(the run id, the source schemas, every output artifact with its fields and their typed
column lineage, the metrics). A maintenance update is described by :func:`describe_update`
before it starts (the run it updates: the parent) and :func:`describe_update_done` after it
(the new version, the artifacts it rewrote, its counts). Descriptions hold names, types,
counts and paths, never data values.

Examples
--------
>>> description = describe_start("numbers", {"numbers": "n.csv"}, "/tmp/store", {"seed": 1})
>>> description.kind, description.job, description.run_id
('run', 'numbers', None)
>>> [source.name for source in description.sources]
['numbers']
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lester.lineage.columns import IDENTITY, TRANSFORMATION, FieldLineage, merge, plan_lineage

# Where a run keeps the id of its OpenLineage run, so that updates can name it as parent.
LINEAGE_ID_KEY = "lineage_run_id"
# Runs captured before lineage export have no stored id: theirs is derived from the run id.
_FALLBACK_NAMESPACE = uuid.UUID("6c1e9a52-3f0b-4f43-9d55-2a8c3f1d7e01")

DIRECT, INDIRECT = "DIRECT", "INDIRECT"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Dependency:
    """One source column a field (or a whole dataset) depends on, and how.

    Examples
    --------
    >>> Dependency("mails", "subject", "DIRECT", "TRANSFORMATION").subtype
    'TRANSFORMATION'
    """

    source: str
    column: str
    type: str  # DIRECT or INDIRECT
    subtype: str  # IDENTITY, TRANSFORMATION, AGGREGATION; FILTER, JOIN, GROUP_BY, EXPLODE
    description: str = ""


@dataclass
class SourceDescription:
    """A source file a run reads: its name in the pipeline, absolute path and columns.

    Examples
    --------
    >>> SourceDescription("mails", "/data/mails.csv").fields
    {}
    """

    name: str
    path: str
    fields: dict[str, str] = field(default_factory=dict)  # column -> dtype
    rows: int | None = None


@dataclass
class DatasetDescription:
    """An artifact a run writes (``train/data``, ``train/X``, ...): its fields with their
    types, the source columns each field is computed from, and the source columns that
    decide which rows it has.

    Examples
    --------
    >>> DatasetDescription("model").fields
    {}
    """

    artifact: str
    fields: dict[str, str] = field(default_factory=dict)
    field_lineage: dict[str, list[Dependency]] = field(default_factory=dict)
    row_lineage: list[Dependency] = field(default_factory=list)
    rows: int | None = None


@dataclass(frozen=True)
class ParentDescription:
    """The run an update changes: its lineage id, Lester run id and pipeline."""

    lineage_id: str
    run_id: str
    pipeline: str


@dataclass
class RunDescription:
    """Everything a sink may report about one run or update; see the module docstring."""

    kind: str  # "run", or the maintenance command: forget-values, forget-rows, correct
    lineage_id: str
    store: str
    pipeline: str
    started: str
    run_id: str | None = None
    version: int | None = None
    parent: ParentDescription | None = None
    sources: list[SourceDescription] = field(default_factory=list)
    outputs: list[DatasetDescription] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    changed_artifacts: list[str] = field(default_factory=list)
    files_before: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def job(self) -> str:
        """The job name: the pipeline, or ``pipeline.command`` for an update."""
        return self.pipeline if self.kind == "run" else f"{self.pipeline}.{self.kind}"


def now() -> str:
    """The current UTC time, ISO 8601 with a time zone."""
    return datetime.now(UTC).isoformat()


def new_lineage_id() -> str:
    """A fresh run id for lineage systems (a UUID, as OpenLineage requires).

    Examples
    --------
    >>> len(new_lineage_id())
    36
    """
    return str(uuid.uuid4())


def lineage_id_of(store: Any, run_id: str) -> str:
    """The lineage id a captured run was reported under (derived for older runs).

    Examples
    --------
    >>> class Record: meta = {}
    >>> class Store:
    ...     def run(self, run_id): return Record()
    >>> lineage_id_of(Store(), "p-1") == lineage_id_of(Store(), "p-1")
    True
    """
    meta = store.run(run_id).meta or {}
    return str(meta.get(LINEAGE_ID_KEY) or uuid.uuid5(_FALLBACK_NAMESPACE, run_id))


def describe_start(
    pipeline: str, sources: Mapping[str, str], store: str | Path, params: Mapping[str, Any]
) -> RunDescription:
    """A pipeline run about to start: its job, source files and parameters."""
    return RunDescription(
        kind="run",
        lineage_id=new_lineage_id(),
        store=str(Path(store).resolve()),
        pipeline=pipeline,
        started=now(),
        sources=[SourceDescription(n, str(Path(p).resolve())) for n, p in sources.items()],
        params={key: str(value) for key, value in params.items()},
    )


def describe_captured(
    description: RunDescription, store: Any, run_id: str, prepared: Any, encoder: Any = None
) -> RunDescription:
    """Complete ``description`` from the captured run and its prepared frame's plan."""
    run = store.open_run(run_id, verify=False)
    description.run_id, description.version = run_id, run.version
    description.sources = [
        SourceDescription(s["name"], s["path"] or "", dict(s["schema"]), s["rows"])
        for s in run.json("sources")
    ]
    description.metrics = {k: float(v) for k, v in run.json("metrics").items()}
    description.params.update(_run_params(run))
    description.outputs = output_datasets(run, prepared, encoder)
    return description


def _run_params(run: Any) -> dict[str, str]:
    pipeline = run.json("pipeline")
    params = {"pipeline_code_sha256": pipeline["code_sha256"], "model": _model_name(run)}
    for name, path in pipeline["sources"].items():
        params[f"source.{name}"] = str(path)
    return params


def _model_name(run: Any) -> str:
    spec = run.json("model/spec")
    return str(spec.get("class", spec.get("kind")))


def output_datasets(run: Any, prepared: Any, encoder: Any = None) -> list[DatasetDescription]:
    """The run's data, feature matrices, labels and model, with typed column lineage."""
    from lester.runner.execute import describe_schema

    lineage = plan_lineage(prepared._node)
    schema = describe_schema(prepared._relation.data.head(0))
    row_lineage = _row_dependencies(lineage.rows)
    features = run.json("features")
    label_columns = run.json("provenance")["label_columns"]
    feature_lineage = _feature_lineage(features, lineage.columns, _passthrough(encoder))
    label = merge(*(lineage.columns[c] for c in label_columns))
    datasets = []
    for split in SPLITS:
        data_lineage = {c: _direct(lineage.columns[c]) for c in schema}
        X_fields = {name: str(run.artifact(f"{split}/X").attrs.get("dtype", "float32"))
                    for name in feature_lineage}  # fmt: skip
        label_lineage = {"label": _direct(label, "extract_label")}
        datasets += [
            DatasetDescription(f"{split}/data", dict(schema), data_lineage, row_lineage,
                               run.n_rows(f"{split}/data")),
            DatasetDescription(f"{split}/X", X_fields, feature_lineage, row_lineage,
                               run.n_rows(f"{split}/X")),
            DatasetDescription(f"{split}/y", {"label": _label_type(run, split)}, label_lineage,
                               row_lineage, run.n_rows(f"{split}/y")),
        ]  # fmt: skip
    datasets.append(DatasetDescription("model"))
    return datasets


def _label_type(run: Any, split: str) -> str:
    return str(run.artifact(f"{split}/y").attrs.get("dtype", "unknown"))


def _passthrough(encoder: Any) -> set[str]:
    """Names of the encoder's transformers that copy their columns unchanged."""
    # The unfitted specification: fitting replaces "passthrough" by a FunctionTransformer.
    transformers = getattr(encoder, "transformers", None) or []
    names = {name for name, transformer, _ in transformers if _is_passthrough(transformer)}
    if _is_passthrough(getattr(encoder, "remainder", None)):
        names.add("remainder")
    return names


def _is_passthrough(transformer: Any) -> bool:
    return isinstance(transformer, str) and transformer == "passthrough"


def _feature_lineage(
    features: Mapping[str, Any], columns: Mapping[str, FieldLineage], passthrough: set[str]
) -> dict[str, list[Dependency]]:
    """Each column of X (by feature name) from the source columns behind the prepared
    columns its encoder reads; an encoder transforms, a passthrough keeps the kind."""
    lineage: dict[str, list[Dependency]] = {}
    for block in features["blocks"]:
        sources = merge(*(columns[c] for c in block["input_columns"] if c in columns))
        if block["transformer"] not in passthrough:
            sources = {q: TRANSFORMATION for q in sources}
        described = f"encoder {block['transformer']!r} of {', '.join(block['input_columns'])}"
        for name in block["feature_names"]:
            lineage[name] = _direct(sources, described)
    return lineage


def _direct(lineage: Mapping[str, str], description: str = "") -> list[Dependency]:
    found = []
    for qualified, kind in sorted(lineage.items()):
        source, _, column = qualified.partition(".")
        text = description or ("copied" if kind == IDENTITY else kind.lower())
        found.append(Dependency(source, column, DIRECT, kind, text))
    return found


def _row_dependencies(rows: Mapping[str, list[str]]) -> list[Dependency]:
    found = []
    for qualified, kinds in rows.items():
        source, _, column = qualified.partition(".")
        found += [Dependency(source, column, INDIRECT, kind, kind.lower()) for kind in kinds]
    return found


# ---------------------------------------------------------------------------- updates
def describe_update(
    store: Any, run_id: str, command: str, source: str, column: str | None, selection: str
) -> RunDescription:
    """A maintenance update of ``run_id`` about to start."""
    from lester.maintenance.selection import match_source

    record = store.run(run_id)
    description = RunDescription(
        kind=command,
        lineage_id=new_lineage_id(),
        store=str(Path(store.root).resolve()),
        pipeline=record.pipeline,
        started=now(),
        run_id=run_id,
        parent=ParentDescription(lineage_id_of(store, run_id), run_id, record.pipeline),
        details={"command": command, "selection": selection},
    )
    if column:
        description.details["column"] = column
    found = match_source(store.sources(run_id), source)
    if found is not None:
        fields = {column: found.schema.get(column, "")} if column else dict(found.schema)
        description.sources = [SourceDescription(found.name, found.path or "", fields, found.rows)]
    description.files_before = artifact_files(store.open_run(run_id, verify=False))
    return description


def artifact_files(run: Any) -> dict[str, list[str]]:
    """Each artifact of a run version with the sha256 of its files (to tell what changed)."""
    return {name: list(artifact.parts.sha256) for name, artifact in run.manifest.artifacts.items()}


def describe_update_done(description: RunDescription, store: Any, status: Any) -> RunDescription:
    """Complete an update's description from its status and the run's new version."""
    run = store.open_run(description.run_id, verify=False)
    description.version = run.version
    after = artifact_files(run)
    description.changed_artifacts = sorted(
        name for name in set(after) | set(description.files_before)
        if after.get(name) != description.files_before.get(name)
    )  # fmt: skip
    description.outputs = [
        DatasetDescription(name, rows=run.n_rows(name) if run.artifact(name).rows else None)
        for name in description.changed_artifacts
        if name in after
    ]
    description.details.update(_status_details(status))
    description.metrics = {f"rows.{split}": float(n) for split, n in status.rows.items()}
    description.metrics["labels_changed"] = float(status.labels_changed)
    description.metrics["seconds"] = float(status.seconds)
    return description


def _status_details(status: Any) -> dict[str, str]:
    model = status.model or {}
    details = {
        "version_before": str(status.version_before),
        "version_after": str(status.version_after),
        "model_update": str(model.get("method", "")),
        "x_ranges": ",".join(f"{a}:{b}" for a, b in status.x_ranges),
    }
    if status.scan is not None:
        details["store_scan_clean"] = str(status.scan.get("clean"))
    return details
