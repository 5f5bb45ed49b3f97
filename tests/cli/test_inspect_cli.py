"""``lester inspect usage|fairness|leakage|features`` on a real captured run: tables, JSON,
Parquet and PNG outputs, and bad input (non-zero exit, a message, no file written)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import lester as lt
from lester.cli import main
from tests.inspection.conftest import Captured, capture

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    return capture(tmp_path_factory.mktemp("inspect-cli"))


def inspect(captured: Captured, *args: object) -> Result:
    arguments = ["inspect", *(str(a) for a in args), "--store", str(captured.store.root)]
    return CliRunner().invoke(main, arguments)


def test_usage_json_has_keys_and_boolean_arrays_in_source_order(captured):
    result = inspect(captured, "usage", "latest", "--json")
    assert result.exit_code == 0, result.output
    customers = json.loads(result.output)["sources"]["customers"]
    usage = lt.inspect.usage(captured).sources["customers"]
    assert customers["in_train"] == usage.in_train.tolist()
    assert customers["in_test"] == usage.in_test.tolist()
    assert customers["train_keys"] == [
        key for key, used in zip(captured.customers["customer_id"], usage.in_train, strict=True)
        if used
    ]  # fmt: skip
    assert customers["n_tuples"] == len(captured.customers)


def test_usage_writes_parquet_and_plot_and_prints_a_table(captured, tmp_path):
    out, plot = tmp_path / "usage.parquet", tmp_path / "usage.png"
    result = inspect(captured, "usage", captured.run_id, "--out", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "record usage" in result.output and "customers" in result.output
    written = pd.read_parquet(out)
    assert len(written) == len(captured.customers) + len(captured.mails)
    assert plot.read_bytes()[:8] == PNG


def test_fairness_json_by_a_projected_away_column(captured, tmp_path):
    plot = tmp_path / "fairness.png"
    result = inspect(
        captured, "fairness", "latest", "--group", "customers.channel",
        "--metric", "accuracy", "--json", "--plot", plot,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    report = lt.inspect.fairness(captured, group="customers.channel", metric="accuracy")
    assert [g["group"] for g in answer["groups"]] == ["direct", "third_party"]
    assert [g["value"] for g in answer["groups"]] == report.table["value"].tolist()
    assert answer["difference"] == pytest.approx(report.difference)
    assert plot.read_bytes()[:8] == PNG


def test_fairness_table_names_groups_metric_and_difference(captured):
    result = inspect(captured, "fairness", "latest", "--group", "customers.country")
    assert result.exit_code == 0, result.output
    for text in ("equal_opportunity", "DE", "FR", "UK", "difference"):
        assert text in result.output


def test_leakage_and_features_tables(captured):
    leakage = inspect(captured, "leakage", "latest", "--limit", "2")
    assert leakage.exit_code == 0, leakage.output
    assert "shared tuples" in leakage.output and "first 2" in leakage.output
    features = inspect(captured, "features", "latest")
    assert features.exit_code == 0, features.output
    assert "X[" in features.output and "customers.level" in features.output
    answer = json.loads(inspect(captured, "features", "latest", "--json").output)
    assert answer["label_source_columns"] == ["customers.level"]


def test_a_bad_group_fails_and_writes_no_plot(captured, tmp_path):
    plot = tmp_path / "never.png"
    result = inspect(captured, "fairness", "latest", "--group", "customers.age", "--plot", plot)
    assert result.exit_code != 0
    assert "no column 'age'" in result.output and "'channel'" in result.output
    assert not plot.exists()


def test_an_output_in_a_missing_folder_fails_before_any_work(captured, tmp_path):
    out = tmp_path / "missing" / "usage.parquet"
    result = inspect(captured, "usage", "latest", "--out", out)
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not out.parent.exists()


def test_no_store_and_unknown_run(captured, tmp_path: Path):
    missing = CliRunner().invoke(
        main, ["inspect", "usage", "latest", "--store", str(tmp_path / "none")]
    )
    assert missing.exit_code == 1 and "no store" in missing.output
    assert not (tmp_path / "none").exists()
    unknown = inspect(captured, "leakage", "nope")
    assert unknown.exit_code == 1 and "unknown run 'nope'" in unknown.output
