"""Find every run whose artifacts depend on a source (and column), and how much of each.

The runs come from the catalog's indexes (no file scan); with a selection of tuples, each
run's stored provenance counts the rows of every artifact that derive from them.

Examples
--------
>>> import tempfile
>>> from lester.store import Store
>>> find_affected(Store(tempfile.mkdtemp()), "customers")
[]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lester.maintenance.selection import Selection, match_source, resolve_keys

SPLIT_ARTIFACTS = {
    "data": "{split}/data",
    "X": "{split}/X",
    "y": "{split}/y",
    "rows": "{split}/data",
}


@dataclass(frozen=True)
class ArtifactImpact:
    """One artifact of a run that depends on the source: which parts, how many rows."""

    artifact: str
    parts: tuple[str, ...]
    rows: int | None = None


@dataclass(frozen=True)
class RunImpact:
    """How one run depends on the source."""

    run_id: str
    pipeline: str
    version: int
    source: str
    matched_by: str
    columns: tuple[str, ...]
    artifacts: tuple[ArtifactImpact, ...] = field(default_factory=tuple)
    rows: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def candidate_hits(store: Any, source: str, column: str | None) -> tuple[list[Any], str]:
    """Catalog rows for the source given by path (path or content sha256) or by name."""
    path = Path(source)
    if path.is_file():
        from lester.runner.capture import file_sha256

        by_path = store.runs_depending_on(source_path=str(path.resolve()), column=column)
        by_hash = store.runs_depending_on(sha256=file_sha256(path), column=column)
        seen = {(hit.run_id, hit.source, hit.column) for hit in by_path}
        extra = [hit for hit in by_hash if (hit.run_id, hit.source, hit.column) not in seen]
        return by_path + extra, "path" if by_path else "sha256"
    return store.runs_depending_on(source_name=source, column=column), "name"


def find_affected(
    store: Any,
    source: str,
    column: str | None = None,
    keys: list[Any] | None = None,
    where: str | None = None,
) -> list[RunImpact]:
    """Every run depending on ``source`` (name or file; optionally only its ``column``),
    with the artifacts that depend on it and, given ``keys`` or ``where``, how many rows
    of each derive from the selected tuples."""
    hits, matched_by = candidate_hits(store, source, column)
    by_run: dict[str, list[Any]] = defaultdict(list)
    for hit in hits:
        by_run[hit.run_id].append(hit)
    selection = Selection(source, tuple(keys), None) if keys else None
    if where is not None:
        selection = Selection(source, None, where)
    impacts = []
    all_columns = sorted({hit.column for hit in hits})
    sources = {hit.source for hit in hits}
    dependencies = {
        (name, run_id): found
        for name in sources
        for run_id, found in store.catalog.dependencies_on(name, all_columns).items()
    }
    for run_id, run_hits in sorted(by_run.items()):
        first = run_hits[0]
        columns = tuple(sorted({hit.column for hit in run_hits}))
        artifacts = _artifacts(dependencies.get((first.source, run_id), []), columns)
        rows = _row_counts(store, run_id, selection) if selection else None
        if rows is not None:
            artifacts = _with_rows(artifacts, rows)
        impact = RunImpact(
            run_id,
            first.pipeline,
            first.version,
            first.source,
            matched_by,
            columns,
            artifacts,
            rows,
        )
        impacts.append(impact)
    return impacts


def _artifacts(dependencies: list[Any], columns: tuple[str, ...]) -> tuple:
    parts: dict[str, set[str]] = defaultdict(set)
    for dependency in dependencies:
        if dependency.column not in columns:
            continue
        for split in ("train", "test"):
            if dependency.artifact in SPLIT_ARTIFACTS:
                name = SPLIT_ARTIFACTS[dependency.artifact].format(split=split)
                detail = dependency.detail or f"rows ({dependency.column})"
                parts[name].add(f"X[{detail}]" if dependency.artifact == "X" else detail)
        if dependency.artifact == "model":
            parts["model"].add(dependency.column)
        if dependency.artifact == "y":
            parts["train/y"].add(dependency.column)
            parts["test/y"].add(dependency.column)
    return tuple(
        ArtifactImpact(name, tuple(sorted(detail))) for name, detail in sorted(parts.items())
    )


def _row_counts(store: Any, run_id: str, selection: Selection) -> dict[str, int]:
    run = store.open_run(run_id, verify=False)
    record = match_source(store.sources(run_id), selection.source)
    _, ids = resolve_keys(run, record, selection)
    from lester.maintenance.updates import _touched_rows

    return {split: len(rows) for split, rows in _touched_rows(run, record.name, ids).items()}


def _with_rows(artifacts: tuple, rows: dict[str, int]) -> tuple:
    updated = []
    for artifact in artifacts:
        split = artifact.artifact.split("/")[0]
        count = rows["train"] if artifact.artifact == "model" else rows.get(split)
        updated.append(ArtifactImpact(artifact.artifact, artifact.parts, count))
    return tuple(updated)
