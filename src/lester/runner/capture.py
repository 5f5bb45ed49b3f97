"""Capture a run's artifacts, with their provenance, into the store.

Layout of a run (logical artifact names in the store):

- ``train/data``, ``test/data``: the relational rows (Arrow IPC chunks);
- ``train/provenance``, ``test/provenance``: the polynomials, one int64 column per slot
  (``-1``: absent) plus ``__owner`` where rows carry sums;
- ``sources/<name>/keys``: each source's tuple keys by tuple id;
- ``provenance``: slots, column provenance, row dependencies, label columns, the plan;
- ``features``: matrix column provenance and feature names;
- ``train/X``, ``test/X``, ``train/y``, ``test/y``, ``test/predictions``, ``test/scores``;
- ``encoders`` (skops), ``model`` (skops) or ``model/weights`` (safetensors) with
  ``model/spec``; ``metrics``, ``sources`` (the source manifest), ``pipeline.py``,
  ``pipeline`` and ``environment`` (library versions).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lester.features import matrix_column_provenance
from lester.frame.frame import TrackedFrame
from lester.pipeline import Pipeline
from lester.provenance import Provenance
from lester.runner import models
from lester.runner.execute import PipelineOutputs, describe_schema, source_frames
from lester.runner.index import write_indexes
from lester.store import Dependency, SourceRecord

OWNER = "__owner"
LIBRARIES = ("lester", "pandas", "numpy", "pyarrow", "scikit-learn", "torch", "skorch", "skops")


def provenance_table(provenance: Provenance) -> pd.DataFrame:
    """The polynomials as a table: one int64 column per slot, ``__owner`` for sums.

    Examples
    --------
    >>> provenance_table(Provenance.of_source("mails", 2)).columns.tolist()
    ['mails']
    """
    table = pd.DataFrame(provenance.keys, columns=[slot.name for slot in provenance.slots])
    if provenance.owner is not None:
        table[OWNER] = provenance.owner
    return table


def storable(values: Any) -> np.ndarray:
    """Labels as a storable array: object arrays (string classes) become fixed-width text.

    Examples
    --------
    >>> storable(np.array(["stays", "churns"], dtype=object)).dtype
    dtype('<U6')
    """
    array = np.asarray(values)
    return array.astype(str) if array.dtype.hasobject else array


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, streamed."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def source_records(prepared: TrackedFrame, paths: Mapping[str, str]) -> list[SourceRecord]:
    """The source manifest: path, size, sha256, schema, primary key and rows read."""
    records = []
    for name, frame in source_frames(prepared).items():
        info = frame._relation.sources[name]
        path = info.path or paths.get(name)
        resolved = str(Path(path).resolve()) if path else None
        records.append(
            SourceRecord(
                name=name,
                path=resolved,
                sha256=file_sha256(resolved) if resolved else None,
                size=Path(resolved).stat().st_size if resolved else None,
                rows=len(info.keys),  # one key per tuple read
                primary_key=info.primary_key,
                schema=describe_schema(frame._relation.data),
            )
        )
    return records


def source_readers(prepared: TrackedFrame) -> dict[str, dict[str, Any]]:
    """How each source was read (reader and its options), to read it again identically."""
    readers = {}
    for name, frame in source_frames(prepared).items():
        node = frame._node
        options = {k: v for k, v in node.reader_options.items() if _is_json(v)}
        readers[name] = {"reader": node.reader, "options": options, "path": node.path}
    return readers


def _is_json(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None)) or (
        isinstance(value, list | tuple) and all(_is_json(v) for v in value)
    )


def label_columns(pipeline: Pipeline, data: pd.DataFrame, sample_rows: int = 200) -> list[str]:
    """The prepared columns ``extract_label`` reads, found by dropping and permuting each
    column on a sample: a column counts when dropping it fails or permuting it changes y."""
    sample = data.head(sample_rows).reset_index(drop=True)
    if sample.empty:
        return []
    reference = np.asarray(pipeline.extract_label(sample))
    used = []
    for column in sample.columns:
        try:
            dropped = np.asarray(pipeline.extract_label(sample.drop(columns=[column])))
        except Exception:
            used.append(column)
            continue
        permuted = sample.copy()
        permuted[column] = permuted[column].to_numpy()[::-1]
        changed = not np.array_equal(np.asarray(pipeline.extract_label(permuted)), reference)
        if changed or not np.array_equal(dropped, reference):
            used.append(column)
    return used


def dependencies(
    prepared: TrackedFrame, features: Any, label_inputs: list[str]
) -> list[Dependency]:
    """Which artifact depends on which source column (for cross-run queries)."""
    column_provenance = prepared.column_provenance
    found: list[Dependency] = []

    def credit(columns: list[str], artifact: str, detail: str) -> None:
        for column in columns:
            for qualified in column_provenance[column]:
                source, _, source_column = qualified.partition(".")
                found.append(Dependency(source, source_column, artifact, detail))

    for column in prepared.columns:
        credit([column], "data", column)
    for column in features.columns():
        ranges = ",".join(f"{start}:{stop}" for start, stop in features.ranges(column))
        if ranges:
            credit([column], "X", ranges)
    credit(label_inputs, "y", "")
    model_inputs = [c for c in features.columns() if features.ranges(c)] + label_inputs
    credit(sorted(set(model_inputs)), "model", "")
    for qualified in prepared.row_dependencies:
        source, _, source_column = qualified.partition(".")
        found.append(Dependency(source, source_column, "rows", ""))
    return sorted(set(found))


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a run used."""
    versions = {"python": platform.python_version()}
    for library in LIBRARIES:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def capture(
    writer: Any,
    pipeline: Pipeline,
    outputs: PipelineOutputs,
    paths: Mapping[str, str],
    seed: int,
    test_size: float,
) -> None:
    """Write every artifact of a finished run through a store run writer."""
    prepared = outputs.prepared
    features = matrix_column_provenance(outputs.encoder)
    label_inputs = label_columns(pipeline, outputs.train.to_pandas())
    for split, frame in (("train", outputs.train), ("test", outputs.test)):
        writer.put_table(f"{split}/data", frame.to_pandas())
        writer.put_table(f"{split}/provenance", provenance_table(frame.provenance))
    for name, info in prepared._relation.sources.items():
        keys = pd.DataFrame({info.primary_key or "row_number": np.asarray(info.keys)})
        writer.put_table(f"sources/{name}/keys", keys)
    splits = {"train": outputs.train.provenance, "test": outputs.test.provenance}
    write_indexes(writer, splits, prepared._relation.sources)
    writer.put_json(
        "provenance",
        {
            "slots": {
                split: [[slot.name, slot.source] for slot in frame.provenance.slots]
                for split, frame in (("train", outputs.train), ("test", outputs.test))
            },
            "column_provenance": prepared.column_provenance,
            "row_dependencies": prepared.row_dependencies,
            "label_columns": label_inputs,
            "plan": str(prepared.plan),
        },
    )
    writer.put_json("features", features.to_dict())
    for name, array in (
        ("train/X", outputs.X_train),
        ("test/X", outputs.X_test),
        ("train/y", storable(outputs.y_train)),
        ("test/y", storable(outputs.y_test)),
        ("test/predictions", storable(outputs.predictions)),
    ):
        writer.put_matrix(name, array)
    if outputs.scores is not None:
        writer.put_matrix("test/scores", outputs.scores)
    writer.put_sklearn("encoders", outputs.encoder)
    _capture_model(writer, outputs)
    writer.put_json("metrics", outputs.metrics)
    writer.put_json("timings", outputs.timings)
    records = source_records(prepared, paths)
    writer.put_json("sources", [record.to_dict() for record in records])
    writer.put_json("source_readers", source_readers(prepared))
    writer.put_bytes("pipeline.py", pipeline.code.encode("utf-8"))
    writer.put_json(
        "pipeline",
        {"name": pipeline.name, "path": pipeline.path, "code_sha256": pipeline.code_hash,
         "seed": seed, "test_size": test_size, "sources": dict(paths)},
    )  # fmt: skip
    writer.put_json("environment", library_versions())
    writer.set_catalog(
        sources=records,
        dependencies=dependencies(prepared, features, label_inputs),
        metrics=outputs.metrics,
        pipeline_code_hash=pipeline.code_hash,
    )


def _capture_model(writer: Any, outputs: PipelineOutputs) -> None:
    if outputs.model_kind == "skorch":
        writer.put_torch("model/weights", models.torch_state(outputs.model))
        spec = {
            "kind": "skorch",
            "factory": "create_model",
            "num_features": int(outputs.X_train.shape[1]),
            "class": f"{type(outputs.model).__module__}:{type(outputs.model).__name__}",
        }
        writer.put_json("model/spec", spec)
    else:
        writer.put_sklearn("model", outputs.model)
        writer.put_json("model/spec", {"kind": "sklearn", "class": type(outputs.model).__name__})
