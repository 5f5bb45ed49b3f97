"""``lester rewrite``: a verified rewrite is written (exit 0); an unverified one goes to
``*.unverified.py`` (exit 1) and ``-o`` stays untouched; bad input exits 2 and writes
nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from lester.cli import main
from lester.pipeline import load_pipeline
from tests.rewrite.conftest import shared_folder
from tests.rewrite.test_offline_styles import shop_folder


def invoke(*args: str):
    return CliRunner().invoke(main, ["rewrite", *args])


@pytest.fixture
def shop(tmp_path) -> Path:
    return shop_folder(tmp_path / "shop")


def test_a_verified_rewrite_is_written_and_loads_as_a_pipeline(shop, tmp_path):
    output = tmp_path / "pipeline.py"
    result = invoke(
        str(shop / "messy.py"),
        "-o",
        str(output),
        "--no-edge-cases",
        "--source",
        "buyers=data/customers.csv",
    )

    assert result.exit_code == 0, result.output
    assert "EQUIVALENT" in result.output and "groupby" in result.output
    pipeline = load_pipeline(output)
    assert pipeline.source_names == ["orders", "buyers"]


def test_an_unverified_rewrite_goes_to_a_suffixed_file_and_exits_1(shop, tmp_path):
    script = shop / "messy.py"
    # no offline rule covers np.log1p over the assembled matrix: X cannot be reproduced
    script.write_text(
        script.read_text().replace("X = np.array(rows)", "X = np.log1p(np.array(rows))")
    )
    output = tmp_path / "pipeline.py"
    result = invoke(str(script), "-o", str(output), "--no-edge-cases")

    assert result.exit_code == 1, result.output
    assert not output.exists()
    unverified = tmp_path / "pipeline.unverified.py"
    assert "_not_rewritten" in unverified.read_text()
    assert "NOT rewritten" in result.output and "NOT verified" in result.output


def test_an_existing_output_is_not_overwritten_without_force(shop, tmp_path):
    output = tmp_path / "pipeline.py"
    output.write_text("# mine\n")
    result = invoke(str(shop / "messy.py"), "-o", str(output), "--no-edge-cases")
    assert result.exit_code == 2
    assert "--force" in result.output
    assert output.read_text() == "# mine\n"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = (\n", "does not parse"),
        ("import numpy as np\nnp.save('out/X.npy', np.zeros(2))\n", "reads no input files"),
        ("rows = open('data/orders.csv').readlines()\n", "writes no outputs"),
        (
            "import os\nos.makedirs('out', exist_ok=True)\n"
            "rows = open('data/orders.csv').readlines()\n"
            "open('out/prepared.tsv', 'w').write(rows[99999])\n",
            "fails on real inputs",
        ),
    ],
)
def test_bad_scripts_exit_2_and_write_nothing(shop, tmp_path, code, message):
    script = shop / "bad.py"
    script.write_text(code)
    output = tmp_path / "pipeline.py"
    result = invoke(str(script), "-o", str(output), "--no-edge-cases")

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not output.exists() and not (tmp_path / "pipeline.unverified.py").exists()


def test_a_missing_script_or_an_unknown_source_exits_2(shop, tmp_path):
    output = tmp_path / "pipeline.py"
    assert invoke(str(shop / "nope.py"), "-o", str(output)).exit_code == 2
    result = invoke(str(shop / "messy.py"), "-o", str(output), "--source", "x=data/none.csv")
    assert result.exit_code == 2
    assert "reads no such file" in result.output and "orders=data/orders.csv" in result.output
    assert not output.exists()


def test_the_paper_example_rewrites_offline_and_survives_the_edge_cases(tmp_path):
    case = shared_folder() / "messy" / "creditcard"
    if not (case / "messy.py").is_file():
        pytest.skip(f"the creditcard case is not available at {case}")
    folder = tmp_path / "creditcard"
    shutil.copytree(case / "data", folder / "data")
    shutil.copy(case / "messy.py", folder / "messy.py")
    output = tmp_path / "pipeline.py"
    result = invoke(str(folder / "messy.py"), "-o", str(output))

    assert result.exit_code == 0, result.output
    assert "empty field: customers.customer_email" in result.output
    assert "keep='last'" in output.read_text()
