"""Whole pipelines on Spark: ``lester run --engine spark`` captures the same artifacts as the
pandas engine, and the maintenance commands work on the Spark-produced run unchanged."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lester.cli import main
from lester.maintenance import scan_files
from lester.runner.artifacts import load_split
from lester.store import Store
from tests.cli.test_maintain_cli import card_keys, card_titles, reaching
from tests.maintenance.conftest import PIPELINE, write_sources

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "creditcard" / "pipeline.py"


def invoke(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def stored_rows(store: Store, run_id: str, split: str) -> Counter:
    """The rows of a stored split with their polynomials and X rows, as a multiset."""
    run = store.open_run(run_id)
    captured = load_split(run, split)
    X = run.matrix(f"{split}/X")
    y = run.matrix(f"{split}/y")
    rows = captured.data.astype(object).where(captured.data.notna(), None)
    return Counter(
        (tuple(row), captured.render(i), tuple(np.round(X[i], 4)), float(y[i]))
        for i, row in enumerate(rows.itertuples(index=False, name=None))
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spark):
    """The maintenance tests' pipeline run once on each engine, same sources and seed."""
    folder = tmp_path_factory.mktemp("spark-runs")
    (folder / "data").mkdir()
    customers_path, mails_path = write_sources(folder / "data")
    pipeline_path = folder / "complaints.py"
    pipeline_path.write_text(textwrap.dedent(PIPELINE))
    store = Store(folder / "store")
    run_ids = {}
    for engine in ("pandas", "spark"):
        result = invoke(
            "run", pipeline_path, "--source", f"customers={customers_path}",
            "--source", f"mails={mails_path}", "--store", store.root, "--seed", 7,
            "--quiet", "--engine", engine, "--spark-master", "local[2]",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        run_ids[engine] = store.runs()[-1].run_id if engine == "pandas" else _newest(store, run_ids)
    return store, run_ids, customers_path, mails_path


def _newest(store: Store, known: dict[str, str]) -> str:
    (run_id,) = [r.run_id for r in store.runs() if r.run_id not in known.values()]
    return run_id


def test_a_spark_run_stores_the_same_rows_provenance_x_and_y_as_a_pandas_run(runs):
    store, run_ids, *_ = runs
    for split in ("train", "test"):
        assert stored_rows(store, run_ids["spark"], split) == stored_rows(
            store, run_ids["pandas"], split
        )
    pandas_run, spark_run = (store.open_run(run_ids[e]) for e in ("pandas", "spark"))
    for document in ("features", "provenance"):
        assert spark_run.json(document) == pandas_run.json(document)
    assert spark_run.json("metrics") == pytest.approx(pandas_run.json("metrics"))
    assert [s.rows for s in store.sources(run_ids["spark"])] == [
        s.rows for s in store.sources(run_ids["pandas"])
    ]


def test_forget_values_and_forget_rows_work_on_a_spark_run(runs):
    store, run_ids, customers_path, mails_path = runs
    run_id = run_ids["spark"]
    forgotten = invoke(
        "forget-values",
        "--source",
        "mails",
        "--column",
        "subject",
        *card_keys(mails_path),
        "--all-affected",
        "--json",
        "--store",
        store.root,
    )  # fmt: skip  (both runs hold the values; the scan covers the whole store)
    assert forgotten.exit_code == 0, forgotten.output
    statuses = {status["run_id"]: status for status in json.loads(forgotten.stdout)}
    assert sorted(statuses) == sorted(run_ids.values())
    assert statuses[run_id]["version_after"] == 2 and statuses[run_id]["scan"]["clean"]
    assert statuses[run_id]["rows"] == statuses[run_ids["pandas"]]["rows"]
    assert scan_files(store.root, card_titles(mails_path)).clean

    mails = reaching(customers_path, __import__("pandas").read_csv(mails_path))
    before = sum(store.open_run(run_id).n_rows(f"{s}/data") for s in ("train", "test"))
    removed = invoke(
        "forget-rows", "--source", "mails", "--keys", mails["mail_id"].iloc[0],
        "--run", run_id, "--json", "--store", store.root,
    )  # fmt: skip
    assert removed.exit_code == 0, removed.output
    after = sum(store.open_run(run_id).n_rows(f"{s}/data") for s in ("train", "test"))
    assert (before - after, store.run(run_id).version) == (1, 3)


def test_the_credit_card_example_runs_on_local_spark(tmp_path, spark):
    from lester.datagen import generate

    data = generate(60, tmp_path / "data", seed=5, mails_per_customer=5)
    store = Store(tmp_path / "store")
    result = invoke(
        "run", EXAMPLE, "--source", f"customers={data.customers_path}",
        "--source", f"mails={data.mails_path}", "--store", store.root, "--quiet",
        "--engine", "spark", "--spark-master", "local[2]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = store.runs()
    run = store.open_run(record.run_id)
    n_rows = run.n_rows("train/data") + run.n_rows("test/data")
    assert n_rows > 0 and run.matrix_shape("train/X")[0] == run.n_rows("train/data")
    assert run.json("provenance")["column_provenance"]["title"] == ["mails.mail_subject"]
