"""Runs and updates logged into a real local MLflow tracking store (SQLite) through the
real CLI, read back with MLflow's own client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lester.cli import main
from lester.store import Store

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")  # only MLflow here
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def lester(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def files_holding(folder: Path, text: str) -> list[str]:
    """Files under ``folder`` holding ``text``, Parquet and zip containers decoded."""
    from lester.maintenance import scan_files

    return sorted({name for name, _ in scan_files(folder, [text]).found})


def mail_with_card(run, mails: Path) -> tuple[str, str]:
    """A training mail whose subject holds a (unique) card number, and its title."""
    keys = run.table("sources/mails/keys").iloc[:, 0].astype(str).to_numpy()
    subjects = pd.read_csv(mails).set_index("mail_id")["subject"]
    for tuple_id in run.table("train/provenance")["mails"]:
        mail = keys[int(tuple_id)]
        if "card" in subjects[mail]:
            return mail, subjects[mail].lower()
    raise AssertionError("no training mail with a card number")


def test_run_and_update_are_logged_and_the_update_overwrites_the_artifacts(
    pipeline_files, tmp_path, tracking
):
    customers, mails, pipeline = pipeline_files
    store_path = tmp_path / "store"
    lester("run", str(pipeline), "--source", f"customers={customers}", "--source",
           f"mails={mails}", "--store", str(store_path), "--quiet", "--seed", "3",
           "--mlflow-uri", tracking)  # fmt: skip
    store = Store(store_path)
    (record,) = store.runs()
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.get_experiment_by_name("lineage_demo")
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.status == "FINISHED"
    assert logged.data.tags["lester.run_id"] == record.run_id
    assert logged.data.tags["lester.store"] == str(store_path.resolve())
    assert logged.data.params["seed"] == "3"
    assert logged.data.metrics["accuracy"] == pytest.approx(record.metrics["accuracy"])
    artifacts = Path(logged.info.artifact_uri.removeprefix("file://"))
    assert artifacts.is_relative_to(tmp_path / "mlartifacts")
    run = store.open_run(record.run_id)
    X = np.concatenate([np.load(p) for p in sorted((artifacts / "train" / "X").iterdir())])
    np.testing.assert_array_equal(X, run.matrix("train/X"))

    # forget the subject of a training mail with a card number: its title must leave MLflow
    mail, title = mail_with_card(run, mails)
    assert files_holding(artifacts, title)  # the copy holds it before the update
    lester("forget-values", "--source", "mails", "--column", "subject", "--keys", mail,
           "--run", record.run_id, "--store", str(store_path), "--mlflow", "--mlflow-uri",
           tracking)  # fmt: skip
    runs = client.search_runs([experiment.experiment_id])
    (child,) = [r for r in runs if r.info.run_id != logged.info.run_id]
    assert child.data.tags["mlflow.parentRunId"] == logged.info.run_id
    assert child.data.tags["lester.kind"] == "forget-values"
    assert child.data.params["column"] == "subject"
    assert child.data.metrics["rows.train"] >= 1
    assert client.get_run(logged.info.run_id).data.tags["lester.version"] == "2"
    assert files_holding(artifacts, title) == []
    new = store.open_run(record.run_id).table("train/data")
    logged_data = pd.concat(
        [pd.read_feather(p) for p in sorted((artifacts / "train" / "data").iterdir())],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(logged_data, new)
    # the model was rewritten, its spec (stored beside it, under model/) was not: both stay
    assert (artifacts / "model" / "model.skops").is_file()
    assert (artifacts / "model" / "spec" / "spec.json").is_file()

    # deleting the child in MLflow only marks it; `mlflow gc` removes it for good
    child_artifacts = Path(child.info.artifact_uri.removeprefix("file://"))
    assert child_artifacts.exists()
    client.delete_run(child.info.run_id)
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    gc = [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", tracking,
          "--tracking-uri", tracking]  # fmt: skip
    subprocess.run(gc, check=True, capture_output=True, cwd=tmp_path)
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_run(child.info.run_id)
    assert not child_artifacts.exists()


def test_a_missing_parent_run_is_logged_before_its_update(pipeline_files, tmp_path, tracking):
    from lester.lineage.mlflow_sink import MlflowSink
    from lester.maintenance import Selection, UpdateOptions, forget_rows
    from tests.lineage.conftest import run_pipeline

    captured = run_pipeline(pipeline_files, Store(tmp_path / "store"), lineage=[])
    run = captured.store.open_run(captured.run_id)
    mail = str(
        run.table("sources/mails/keys").iloc[int(run.table("train/provenance")["mails"].iloc[0]), 0]
    )
    options = UpdateOptions(lineage=[MlflowSink(tracking)])
    forget_rows(captured.store, captured.run_id, Selection("mails", keys=(mail,)), options)
    client = MlflowClient(tracking_uri=tracking)
    runs = client.search_runs([client.get_experiment_by_name("lineage_demo").experiment_id])
    parent = [r for r in runs if r.data.tags["lester.kind"] == "run"]
    child = [r for r in runs if r.data.tags["lester.kind"] == "forget-rows"]
    assert len(parent) == 1 and len(child) == 1
    assert child[0].data.tags["mlflow.parentRunId"] == parent[0].info.run_id
    assert parent[0].data.tags["lester.run_id"] == captured.run_id
    assert parent[0].data.tags["lester.version"] == "2"


def test_a_bad_tracking_uri_fails_before_the_run(pipeline_files, tmp_path, tracking):
    customers, mails, pipeline = pipeline_files
    result = CliRunner().invoke(main, [
        "run", str(pipeline), "--source", f"customers={customers}", "--source",
        f"mails={mails}", "--store", str(tmp_path / "store"), "--quiet",
        "--mlflow-uri", "nosuchscheme://x",
    ])  # fmt: skip
    assert result.exit_code != 0
    assert "nosuchscheme" in result.output
    assert not (tmp_path / "store" / "runs").exists() or not any(
        (tmp_path / "store" / "runs").iterdir()
    )
