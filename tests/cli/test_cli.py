"""The ``lester`` command group: help, datagen, ``--source`` parsing and missing stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lester.cli import main
from lester.store import Store

PIPELINE = """
def _lester_dataprep(customers_path):
    raise AssertionError("the pipeline must not run")

def encode_features():
    return None

def extract_label(df):
    return None

def create_model(num_features):
    return None
"""


def invoke(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "never.py"
    path.write_text(PIPELINE, encoding="utf-8")
    return path


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("datagen", "run", "runs", "show"):
        assert command in result.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert "0.1.0" in result.output


def test_python_dash_m_lester_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "lester", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "runs" in result.stdout


def test_run_help_documents_the_options():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for option in ("--source", "--store", "--seed", "--test-size", "--quiet"):
        assert option in result.output


def test_datagen_through_the_main_group(tmp_path):
    out = tmp_path / "data"
    result = invoke("datagen", "--customers", 5, "--out", out, "--mails-per-customer", 2)
    assert result.exit_code == 0, result.output
    assert len((out / "customers.csv").read_text().splitlines()) == 5
    assert len((out / "mails.csv").read_text().splitlines()) == 10
    assert (out / "leaks.json").is_file()
    assert "Generated" in result.output


def test_datagen_rejects_zero_customers(tmp_path):
    result = invoke("datagen", "--customers", 0, "--out", tmp_path / "data")
    assert result.exit_code == 2
    assert "--customers" in result.output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (["customers"], "expected name=path, got 'customers'"),
        (["=data/customers.csv"], "expected name=path, got '=data/customers.csv'"),
        (["customers="], "expected name=path, got 'customers='"),
        (["customers=a.csv", "customers=b.csv"], "source 'customers' is given twice"),
    ],
)
def test_bad_source_option_is_a_usage_error(tmp_path, pipeline, sources, message):
    options = [f"--source={source}" for source in sources]
    result = invoke("run", pipeline, *options, "--store", tmp_path / ".lester", "--quiet")
    assert result.exit_code == 2
    assert "--source" in result.output
    assert message in result.output
    assert not (tmp_path / ".lester").exists()


def test_source_path_may_contain_an_equals_sign(tmp_path, pipeline):
    result = invoke(
        "run", pipeline, "--source=customers=a=b.csv", "--store", tmp_path / ".lester", "--quiet"
    )
    assert result.exit_code == 1
    assert "source files do not exist: ['customers=a=b.csv']" in result.output


def test_run_of_a_missing_pipeline_file(tmp_path):
    result = invoke("run", tmp_path / "missing.py", "--store", tmp_path / ".lester")
    assert result.exit_code == 2
    assert "missing.py" in result.output
    assert "does not exist" in result.output


@pytest.mark.parametrize("command", [["runs"], ["runs", "--json"], ["show", "some-run"]])
def test_missing_store_is_an_error(tmp_path, command):
    store = tmp_path / ".lester"
    result = invoke(*command, "--store", store)
    assert result.exit_code == 1
    assert f"no store at {store}" in result.output
    assert not store.exists()


@pytest.mark.parametrize("command", [["runs"], ["show", "some-run"]])
def test_store_path_that_is_a_file_is_an_error(tmp_path, command):
    store = tmp_path / "catalog.txt"
    store.write_text("not a store")
    result = invoke(*command, "--store", store)
    assert result.exit_code == 1
    assert "no store at" in result.output
    assert store.read_text() == "not a store"


@pytest.mark.parametrize("command", [["runs"], ["show", "some-run"]])
def test_folder_that_is_not_a_store_is_an_error_and_stays_untouched(tmp_path, command):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("1,DE\n")
    result = invoke(*command, "--store", folder)
    assert result.exit_code != 0
    assert files_under(folder) == [folder / "customers.csv"]


def test_show_unknown_run_names_it(tmp_path):
    Store(tmp_path / ".lester")
    result = invoke("show", "churn-nope", "--store", tmp_path / ".lester")
    assert result.exit_code == 1
    assert "unknown run 'churn-nope'" in result.output


def test_runs_of_an_empty_store(tmp_path):
    Store(tmp_path / ".lester")
    table = invoke("runs", "--store", tmp_path / ".lester")
    assert table.exit_code == 0, table.output
    assert "run" in table.output
    listed = invoke("runs", "--store", tmp_path / ".lester", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == []
