"""The paper's example (MiniLM embeddings, VADER, a skorch MLP) run once through ``lester run``
on 40 generated customers, then inspected with ``lester runs``, ``lester show`` and the store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lester.cli import main
from lester.datagen import DatagenResult, generate
from lester.pipeline import load_pipeline
from lester.runner.models import rebuild_skorch
from lester.store import Run, Store

pytest.importorskip("skorch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("vaderSentiment")

pytestmark = pytest.mark.slow

PIPELINE = Path(__file__).resolve().parents[2] / "examples" / "creditcard" / "pipeline.py"
WIDE = {"COLUMNS": "200"}
EMBEDDING = 384


@dataclass(frozen=True, repr=False)
class CreditcardRun:
    data: DatagenResult
    store: Store
    run: Run
    output: str
    errors: str


def invoke(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env)


@pytest.fixture(scope="module")
def creditcard(tmp_path_factory: pytest.TempPathFactory) -> CreditcardRun:
    folder = tmp_path_factory.mktemp("creditcard")
    data = generate(40, folder / "data", seed=42)
    sources = [f"--source=customers={data.customers_path}", f"--source=mails={data.mails_path}"]
    result = invoke("run", PIPELINE, *sources, "--quiet", "--store", folder / ".lester")
    assert result.exit_code == 0, result.output
    store = Store(folder / ".lester")
    [record] = store.runs()
    return CreditcardRun(data, store, store.open_run(record.run_id), result.stdout, result.stderr)


@pytest.fixture(scope="module")
def summary(creditcard: CreditcardRun) -> dict:
    result = invoke("show", creditcard.run.run_id, "--store", creditcard.store.root, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_quiet_run_reports_the_run_and_nothing_else(creditcard):
    assert creditcard.run.run_id in creditcard.output
    assert "accuracy=" in creditcard.output
    assert creditcard.errors == ""


def test_runs_lists_the_run(creditcard):
    result = invoke("runs", "--store", creditcard.store.root, env=WIDE)
    assert result.exit_code == 0, result.output
    assert creditcard.run.run_id in result.stdout
    assert "creditcard" in result.stdout


def test_show_prints_sources_shapes_metrics_and_provenance(creditcard):
    result = invoke("show", creditcard.run.run_id, "--store", creditcard.store.root, env=WIDE)
    assert result.exit_code == 0, result.output
    n_train = creditcard.run.n_rows("train/data")
    for expected in (
        f"customers: {creditcard.data.customers_path.resolve()} (40 rows, key=customer_id",
        "mails: ",
        f"train/X: {n_train} x 772",
        "accuracy = ",
        "title ← mails.mail_subject",
        "is_premium ← customers.level",
        "title → X[0:384), [768:769)",
        "text → X[384:768)",
        "country → X[769:772)",
        "model: skorch",
    ):
        assert expected in result.stdout


def test_show_json_matrix_column_provenance(summary):
    columns = summary["matrix_column_provenance"]["columns"]
    assert len(columns["title"]) == 2
    assert len(columns["text"]) == 1
    assert len(columns["country"]) == 1
    assert columns["text"] == [[EMBEDDING, 2 * EMBEDDING]]
    assert summary["matrix_column_provenance"]["n_features"] == 772


def test_show_json_column_provenance_and_shapes(summary, creditcard):
    assert summary["column_provenance"]["title"] == ["mails.mail_subject"]
    assert summary["column_provenance"]["sentiment"] == ["mails.mail_text"]
    assert summary["label_columns"] == ["sentiment", "is_premium"]
    assert summary["shapes"]["test/X"] == [creditcard.run.n_rows("test/data"), 772]
    assert {source["name"] for source in summary["sources"]} == {"customers", "mails"}
    assert summary["model"]["kind"] == "skorch"
    assert {"accuracy", "f1", "n_train", "n_test"} <= set(summary["metrics"])


def test_source_manifest_hashes_the_generated_files(creditcard):
    records = {record["name"]: record for record in creditcard.run.json("sources")}
    paths = {"customers": creditcard.data.customers_path, "mails": creditcard.data.mails_path}
    for name, path in paths.items():
        assert records[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert records["customers"]["rows"] == 40
    assert records["mails"]["rows"] == creditcard.data.num_mails


def test_catalog_knows_that_the_embeddings_read_the_mail_subjects(creditcard):
    [hit] = creditcard.store.runs_depending_on(
        source_path=creditcard.data.mails_path, column="mail_subject"
    )
    assert hit.run_id == creditcard.run.run_id
    assert {"X", "data", "model"} <= set(hit.artifacts)


def test_model_weights_are_safetensors_with_a_spec(creditcard):
    parts = creditcard.run.artifact("model/weights").parts
    assert parts[0].path.endswith(".safetensors")
    spec = creditcard.run.json("model/spec")
    assert spec["kind"] == "skorch"
    assert spec["factory"] == "create_model"
    assert spec["num_features"] == 772


def test_model_rebuilt_from_stored_code_and_weights_predicts_the_same(creditcard, tmp_path):
    code = tmp_path / "creditcard.py"
    code.write_text(creditcard.run.text("pipeline.py"), encoding="utf-8")
    assert code.read_text(encoding="utf-8") == PIPELINE.read_text(encoding="utf-8")
    pipeline = load_pipeline(code)
    spec = creditcard.run.json("model/spec")
    model = rebuild_skorch(
        pipeline.create_model, spec["num_features"], creditcard.run.torch("model/weights")
    )
    X_test = np.asarray(creditcard.run.matrix("test/X"), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(X_test), creditcard.run.matrix("test/predictions"))
    scores = model.predict_proba(X_test)[:, 1]
    np.testing.assert_allclose(scores, creditcard.run.matrix("test/scores"), rtol=1e-5, atol=1e-6)


def test_stored_encoders_embed_the_test_data_to_the_stored_matrix(creditcard):
    encoder = creditcard.run.sklearn("encoders")
    X_test = encoder.transform(creditcard.run.table("test/data"))
    np.testing.assert_allclose(X_test, creditcard.run.matrix("test/X"), atol=1e-4)
