"""Bad input to the Spark engine: unsupported filters fail before any Spark job, a missing
Java runtime is named with the extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import lester as lt
from lester.engine.spark import SparkEngine, UnsupportedFilterError

SRC = Path(__file__).resolve().parents[3] / "src"


def test_an_unsupported_filter_fails_naming_the_construct_before_any_spark_job(spark):
    frame = lt.from_pandas(pd.DataFrame({"a": ["x", "y"]}), name="s").filter(
        "a.str.zfill(3) == '00x'"
    )
    tracker = spark.sparkContext.statusTracker()
    jobs_before = len(tracker.getJobIdsForGroup())
    with SparkEngine(spark=spark) as engine, pytest.raises(UnsupportedFilterError) as error:
        engine.prepare(frame._node)
    assert ".str.zfill" in str(error.value) and "project" in str(error.value)
    assert len(tracker.getJobIdsForGroup()) == jobs_before
    assert not list(engine.workdir.glob("source-*"))  # not even the sources were staged


def test_without_java_the_error_names_the_requirement_and_the_extra(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java on it
    env["PYTHONPATH"] = str(SRC)
    code = (
        "from lester.engine.spark import require_spark\n"
        "try:\n    require_spark()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.startswith("SparkUnavailableError"), out.stderr
    assert "Java 17" in out.stdout and "lester[spark]" in out.stdout


def test_the_cli_reports_an_unsupported_filter_without_a_traceback(tmp_path, spark):
    from click.testing import CliRunner

    from lester.cli import main

    data = tmp_path / "numbers.csv"
    pd.DataFrame({"id": range(10), "x": [str(i) for i in range(10)]}).to_csv(data, index=False)
    pipeline = tmp_path / "numbers.py"
    pipeline.write_text(
        "import lester as lt\n"
        "def _lester_dataprep(numbers_path):\n"
        "    frame = lt.read_csv(numbers_path, primary_key='id')\n"
        "    return frame.filter(\"x.str.zfill(2) == '01'\")\n"
        "def encode_features():\n    return None\n"
        "def extract_label(df):\n    return df['id']\n"
        "def create_model(num_features):\n    return None\n"
    )
    store = tmp_path / "store"
    result = CliRunner().invoke(
        main, ["run", str(pipeline), "--source", f"numbers={data}", "--store", str(store),
               "--engine", "spark", "--quiet"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert ".str.zfill" in result.output and "Traceback" not in result.output
