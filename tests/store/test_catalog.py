"""Catalog queries across runs: by source path, sha256, name and column; index use at 1,000 runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lester.store import (
    CatalogEntry,
    Dependency,
    RunRecord,
    SourceRecord,
    Store,
    StoreError,
    VersionRecord,
)


def _commit_run(store: Store, sources: list[SourceRecord], deps: list[Dependency]) -> str:
    with store.new_run("credit", meta={"by": "test"}) as writer:
        writer.put_json("doc", {})
        writer.set_catalog(sources=sources, dependencies=deps, metrics={"auc": 0.5})
    return writer.run_id


def test_queries_by_path_sha256_name_and_column(store: Store, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("id,email\n1,a@b\n")
    customers = SourceRecord.of_file("customers", csv, rows=1, primary_key="id")
    mails = SourceRecord("mails", "/lake/mails.parquet", "f00d", rows=9)
    first = _commit_run(
        store,
        [customers, mails],
        [
            Dependency("customers", "email", "train/X"),
            Dependency("customers", "email", "train/data"),
            Dependency("mails", "body", "train/X"),
        ],
    )
    second = _commit_run(store, [mails], [Dependency("mails", "body", "model")])

    by_path = store.runs_depending_on(source_path=csv, column="email")
    assert [(hit.run_id, hit.artifacts) for hit in by_path] == [(first, ("train/X", "train/data"))]
    assert by_path[0].source_path == str(csv) and by_path[0].version == 1
    by_sha = store.runs_depending_on(sha256=customers.sha256)
    assert [hit.run_id for hit in by_sha] == [first]
    by_column = store.runs_depending_on(column="body")
    assert [(hit.run_id, hit.artifacts) for hit in by_column] == [
        (first, ("train/X",)),
        (second, ("model",)),
    ]
    assert [hit.run_id for hit in store.runs_depending_on(source_name="mails")] == [first, second]
    assert store.runs_depending_on(source_path=csv, column="body") == []
    assert store.runs_depending_on(sha256="f00d", pipeline="other") == []


def test_relative_source_paths_are_stored_absolute(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_id = _commit_run(
        store, [SourceRecord("s", "data/s.csv", "aa")], [Dependency("s", "c", "doc")]
    )
    assert store.sources(run_id)[0].path == str(tmp_path / "data" / "s.csv")
    assert [hit.run_id for hit in store.runs_depending_on(source_path="data/s.csv")] == [run_id]
    assert [hit.run_id for hit in store.runs_depending_on(tmp_path / "data/s.csv")] == [run_id]


def test_run_records_pipelines_and_lineage(store: Store) -> None:
    schema = {"id": "int64", "email": "str"}
    source = SourceRecord("s", "/s.csv", "aa", 10, 2, "id", schema)
    run_id = _commit_run(store, [source], [Dependency("s", "email", "doc")])
    record = store.run(run_id)
    assert (record.pipeline, record.version, record.meta, record.metrics) == (
        "credit",
        1,
        {"by": "test"},
        {"auc": 0.5},
    )
    assert store.pipelines() == ["credit"]
    assert store.sources(run_id) == [source]
    assert store.dependencies(run_id) == [Dependency("s", "email", "doc")]
    assert [run.run_id for run in store.runs("credit")] == [run_id]
    assert store.runs("other") == []


def test_dependency_on_an_unknown_source_is_refused(store: Store) -> None:
    with store.new_run("p") as writer, pytest.raises(StoreError, match="unknown source 'x'"):
        writer.set_catalog(sources=[], dependencies=[Dependency("x", "c", "a")])


def test_update_can_replace_sources_and_metrics(store: Store) -> None:
    old = SourceRecord("s", "/s.csv", "old")
    run_id = _commit_run(store, [old], [Dependency("s", "email", "doc")])
    new = SourceRecord("s", "/s.csv", "new", rows=9)
    with store.update_run(run_id, note="source rows forgotten") as update:
        update.put_json("doc", {"v": 2})
        update.set_catalog(sources=[new], metrics={"auc": 0.6})
    assert store.sources(run_id) == [new]
    assert store.dependencies(run_id) == [Dependency("s", "email", "doc")]
    assert store.run(run_id).metrics == {"auc": 0.6}
    assert store.runs_depending_on(sha256="old") == []
    assert [hit.version for hit in store.runs_depending_on(sha256="new")] == [2]


def _entries(count: int) -> list[CatalogEntry]:
    entries = []
    for index in range(count):
        run_id = f"pipe{index % 10}-run{index:05d}"
        stamp = f"2026-01-01T00:00:{index % 60:02d}+00:00"
        sources = [
            SourceRecord(name, f"/lake/{name}-{index % 50}.parquet", f"{name}{index % 50:04x}")
            for name in ("customers", "mails", "banks")
        ]
        dependencies = [
            Dependency(source.name, f"col{column}", artifact)
            for source in sources
            for column in range(10)
            for artifact in ("train/data", "train/X", "test/X", "model", "predictions")
        ]
        entries.append(
            CatalogEntry(
                RunRecord(run_id, f"pipe{index % 10}", stamp, stamp, 1, "m", {}, {}),
                VersionRecord(run_id, 1, None, stamp, "", "m", 10, 1000),
                sources,
                dependencies,
            )
        )
    return entries


def test_queries_over_a_thousand_runs_use_only_index_searches(store: Store) -> None:
    # The time is measured by benchmarks/bench_affected.py, not here.
    store.catalog.add_runs(_entries(1000))  # 150,000 dependency rows
    assert len(store.runs()) == 1000
    queries = [
        {"source_path": "/lake/customers-7.parquet", "column": "col3"},
        {"sha256": "mails0007", "column": "col3"},
        {"source_name": "banks", "column": "col9"},
        {"source_path": "/lake/customers-7.parquet"},
    ]
    for criteria in queries:
        assert "SCAN" not in store.catalog.query_plan(**criteria), criteria
        assert store.runs_depending_on(**criteria), criteria
    hits = store.runs_depending_on(source_path="/lake/customers-7.parquet", column="col3")
    assert len(hits) == 20 and all(len(hit.artifacts) == 5 for hit in hits)


def test_update_can_replace_the_pipeline_code_hash(store: Store) -> None:
    with store.new_run("p") as writer:
        writer.put_bytes("pipeline.py", "v1")
        writer.set_catalog(pipeline_code_hash="h1")
    with store.update_run(writer.run_id) as update:
        update.put_bytes("pipeline.py", "v2")
        update.set_catalog(pipeline_code_hash="h2")
    assert store.run(writer.run_id).pipeline_code_hash == "h2"


def test_metrics_and_meta_must_be_json(store: Store) -> None:
    with pytest.raises(StoreError, match="meta must be JSON"):
        store.new_run("p", meta={"x": object()})
    with store.new_run("p") as writer, pytest.raises(StoreError, match="metrics must be JSON"):
        writer.set_catalog(metrics={"x": {1, 2}})


def test_dependency_details_and_sources_without_files(store: Store) -> None:
    memory = SourceRecord("frame", None, None, rows=3)
    deps = [
        Dependency("frame", "income", "train/X", "0:4"),
        Dependency("frame", "income", "train/X", "4:5"),
        Dependency("frame", "income", "data", "income"),
    ]
    run_id = _commit_run(store, [memory], deps)
    assert store.dependencies(run_id) == sorted(deps)
    hits = store.runs_depending_on(source_name="frame", column="income")
    assert [(hit.source_path, hit.artifacts) for hit in hits] == [(None, ("data", "train/X"))]
    assert store.sources(run_id)[0].to_dict()["rows"] == 3
    assert store.run(run_id).to_dict()["pipeline"] == "credit"


def test_a_catalog_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    import sqlite3

    root = tmp_path / ".lester"
    Store(root)
    with sqlite3.connect(root / "catalog.sqlite") as connection:
        connection.execute("PRAGMA user_version=99")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(root)
