"""OpenLineage events of real runs and updates, read back from where the transport put
them and validated against the OpenLineage JSON Schema (see ``openlineage_schema``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from lester.maintenance import Selection, correct, forget_rows, forget_values
from lester.runner import RunError
from lester.store import Store
from tests.lineage.conftest import run_pipeline

pytest.importorskip("openlineage.client")
pytest.importorskip("jsonschema")

from lester.lineage.openlineage import OpenLineageSink
from tests.lineage.openlineage_schema import validate


@pytest.fixture(autouse=True)
def no_outside_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a developer's openlineage.yml nor their environment may redirect events."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OPENLINEAGE_CONFIG", "OPENLINEAGE_URL", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)


def run_events(store_root: Path, run_id: str) -> Path:
    """The default transport's file of a run: in the run folder, kept across versions."""
    return store_root / "runs" / run_id / "logs" / "openlineage.jsonl"


def read_events(path: Path) -> list[dict]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        validate(event)
    return events


def output(event: dict, artifact: str) -> dict:
    found = [o for o in event["outputs"] if o["name"].endswith(f"/{artifact}")]
    assert len(found) == 1, [o["name"] for o in event["outputs"]]
    return found[0]


def lineage_of(dataset: dict, field: str) -> set[tuple[str, str, str, str]]:
    """(input file name, column, type, subtype) of one field."""
    inputs = dataset["facets"]["columnLineage"]["fields"][field]["inputFields"]
    return {(Path(i["name"]).name, i["field"], t["type"], t["subtype"])
            for i in inputs for t in i["transformations"]}  # fmt: skip


def test_a_run_emits_start_and_complete_with_column_lineage(pipeline_files, tmp_path):
    store = Store(tmp_path / "store")
    captured = run_pipeline(pipeline_files, store)
    events = read_events(run_events(tmp_path / "store", captured.run_id))
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    start, complete = events
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert complete["job"] == {**complete["job"], "namespace": "lester", "name": "lineage_demo"}
    assert {Path(i["name"]) for i in complete["inputs"]} == {
        captured.customers.resolve(),
        captured.mails.resolve(),
    }
    tags = {t["key"]: t["value"] for t in complete["run"]["facets"]["tags"]["tags"]}
    assert tags["lester.run_id"] == captured.run_id

    data = output(complete, "train/data")
    assert lineage_of(data, "title") == {("mails.csv", "subject", "DIRECT", "TRANSFORMATION")}
    assert lineage_of(data, "land") == {("customers.csv", "country", "DIRECT", "IDENTITY")}
    assert lineage_of(data, "score") == {("mails.csv", "score", "DIRECT", "IDENTITY")}
    assert lineage_of(data, "is_premium") == {
        ("customers.csv", "level", "DIRECT", "TRANSFORMATION")
    }
    rows = {(Path(i["name"]).name, i["field"], t["type"], t["subtype"])
            for i in data["facets"]["columnLineage"]["dataset"]
            for t in i["transformations"]}  # fmt: skip
    assert rows == {
        ("customers.csv", "country", "INDIRECT", "FILTER"),
        ("customers.csv", "email", "INDIRECT", "JOIN"),
        ("mails.csv", "email", "INDIRECT", "JOIN"),
    }
    run = store.open_run(captured.run_id)
    assert data["outputFacets"]["outputStatistics"]["rowCount"] == len(run.table("train/data"))


def test_the_feature_matrix_has_the_feature_names_as_fields(pipeline_files, tmp_path):
    store = Store(tmp_path / "store")
    captured = run_pipeline(pipeline_files, store)
    complete = read_events(run_events(tmp_path / "store", captured.run_id))[-1]
    run = store.open_run(captured.run_id)
    names = list(run.sklearn("encoders").get_feature_names_out())
    for split in ("train", "test"):
        X = output(complete, f"{split}/X")
        assert [f["name"] for f in X["facets"]["schema"]["fields"]] == names
        assert (
            X["outputFacets"]["outputStatistics"]["rowCount"] == run.matrix(f"{split}/X").shape[0]
        )
    X = output(complete, "train/X")
    for name in names:
        if name.startswith("land__"):
            assert lineage_of(X, name) == {("customers.csv", "country", "DIRECT", "TRANSFORMATION")}
    assert lineage_of(X, "scaled__score") == {("mails.csv", "score", "DIRECT", "TRANSFORMATION")}
    assert lineage_of(X, "raw__score") == {("mails.csv", "score", "DIRECT", "IDENTITY")}
    y = output(complete, "train/y")
    assert lineage_of(y, "label") == {("customers.csv", "level", "DIRECT", "TRANSFORMATION")}


def test_a_failing_run_emits_fail_with_its_error(pipeline_files, tmp_path):
    customers, mails, pipeline = pipeline_files
    code = pipeline.read_text().replace('return df["is_premium"]', 'return df["no_such_label"]')
    pipeline.write_text(code)
    with pytest.raises(RunError):
        run_pipeline((customers, mails, pipeline), Store(tmp_path / "store"))
    events = read_events(tmp_path / "store" / "lineage" / "openlineage.jsonl")
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert "no_such_label" in events[1]["run"]["facets"]["errorMessage"]["message"]


def test_each_update_emits_a_run_whose_parent_is_the_original_run(pipeline_files, tmp_path):
    store = Store(tmp_path / "store")
    captured = run_pipeline(pipeline_files, store)
    events_file = run_events(tmp_path / "store", captured.run_id)
    original = read_events(events_file)[-1]
    train = store.open_run(captured.run_id).table("train/data")
    keys = store.open_run(captured.run_id).table("sources/mails/keys")
    provenance = store.open_run(captured.run_id).table("train/provenance")
    mail = str(keys.iloc[int(provenance["mails"].iloc[0]), 0])
    customer = "C0001"
    assert len(train) > 0
    forget_values(store, captured.run_id, Selection("mails", keys=(mail,)), "subject")
    correct(store, captured.run_id, Selection("customers", keys=(customer,)), {"level": "basic"})
    forget_rows(store, captured.run_id, Selection("mails", keys=(mail,)))
    store.recover(deep=True)  # garbage collection keeps the run's logs across versions
    updates = read_events(events_file)[2:]
    assert [(e["eventType"], e["job"]["name"]) for e in updates] == [
        ("START", "lineage_demo.forget-values"), ("COMPLETE", "lineage_demo.forget-values"),
        ("START", "lineage_demo.correct"), ("COMPLETE", "lineage_demo.correct"),
        ("START", "lineage_demo.forget-rows"), ("COMPLETE", "lineage_demo.forget-rows"),
    ]  # fmt: skip
    for event in updates:
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == original["run"]["runId"]
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("lester", "lineage_demo")
    done = updates[1]
    rewritten = {o["name"].rpartition(f"{captured.run_id}/")[2]: o for o in done["outputs"]}
    assert {"train/data", "model", "audit"} <= set(rewritten)
    assert "train/X" not in rewritten  # no feature reads the title: X stays as it was
    assert rewritten["train/data"]["facets"]["version"]["datasetVersion"] == (
        f"{captured.run_id}@v2"
    )
    assert rewritten["train/data"]["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == (
        "OVERWRITE"
    )
    assert [i["name"] for i in done["inputs"]] == [str(captured.mails.resolve())]
    assert updates[-1]["outputs"][0]["facets"]["version"]["datasetVersion"].endswith("@v4")


def test_openlineage_config_file_redirects_the_events(pipeline_files, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere.jsonl"
    config = tmp_path / "ol.yml"
    config.write_text(f"transport:\n  type: file\n  log_file_path: {elsewhere}\n  append: true\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    run_pipeline(pipeline_files, Store(tmp_path / "store"))
    assert [e["eventType"] for e in read_events(elsewhere)] == ["START", "COMPLETE"]
    assert not (tmp_path / "store" / "lineage" / "openlineage.jsonl").exists()
    assert not list((tmp_path / "store").glob("runs/*/logs"))


def test_openlineage_url_sends_the_events_to_an_http_server(pipeline_files, tmp_path, monkeypatch):
    received: list[tuple[str, dict]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
        run_pipeline(pipeline_files, Store(tmp_path / "store"))
    finally:
        server.shutdown()
        server.server_close()
    assert [(path, event["eventType"]) for path, event in received] == [
        ("/api/v1/lineage", "START"), ("/api/v1/lineage", "COMPLETE"),
    ]  # fmt: skip
    for _, event in received:
        validate(event)
    assert not (tmp_path / "store" / "lineage").exists()


def test_openlineage_disabled_and_an_empty_sink_list_emit_nothing(
    pipeline_files, tmp_path, monkeypatch
):
    run_pipeline(pipeline_files, Store(tmp_path / "a"), lineage=[])
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    run_pipeline(pipeline_files, Store(tmp_path / "b"))
    assert not (tmp_path / "a" / "lineage").exists()
    assert not (tmp_path / "b" / "lineage").exists()


def test_concurrent_sinks_append_whole_lines(tmp_path):
    from lester.lineage.description import describe_start

    sinks = [OpenLineageSink(tmp_path) for _ in range(4)]
    many = {f"source{i}": f"/data/{i}.csv" for i in range(200)}  # lines over 8 KiB

    def emit(sink):
        for _ in range(5):
            run = describe_start("p", many, tmp_path, {})
            run.run_id = "p-1"  # events of one run (e.g. its updates) share its file
            sink.start(run)

    threads = [threading.Thread(target=emit, args=(sink,)) for sink in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = read_events(run_events(tmp_path, "p-1"))
    assert len(events) == 20
    assert np.all([len(e["inputs"]) == 200 for e in events])
