"""The pipeline contract: loading pipeline modules from files and mapping sources onto them."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

import lester as lt
from lester.errors import LesterError
from lester.pipeline import CONTRACT, PipelineError, load_pipeline

COMPLETE = """
def _lester_dataprep(customers_path, mails):
    return (customers_path, mails)

def encode_features():
    return "encoder"

def extract_label(df):
    return df

def create_model(num_features):
    return num_features
"""


def write(folder: Path, code: str, name: str = "shop.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def without(function: str) -> str:
    """COMPLETE with ``function`` renamed so that the module no longer defines it."""
    return COMPLETE.replace(f"def {function}(", f"def other_{function.lstrip('_')}(")


def test_load_pipeline_wraps_the_four_functions(tmp_path):
    path = write(tmp_path, COMPLETE)
    pipeline = load_pipeline(path)
    assert pipeline.dataprep(customers_path="c.csv", mails="m.csv") == ("c.csv", "m.csv")
    assert pipeline.encode_features() == "encoder"
    assert pipeline.extract_label([1]) == [1]
    assert pipeline.create_model(3) == 3
    assert pipeline.name == "shop"
    assert pipeline.path == str(path.resolve())


def test_load_pipeline_keeps_code_and_its_hash(tmp_path):
    path = write(tmp_path, COMPLETE)
    pipeline = load_pipeline(path)
    assert pipeline.code == path.read_text(encoding="utf-8")
    assert pipeline.code_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_pipeline_named_pipeline_py_takes_its_folder_name(tmp_path):
    folder = tmp_path / "fraud"
    folder.mkdir()
    assert load_pipeline(write(folder, COMPLETE, "pipeline.py")).name == "fraud"


def test_source_names_drop_the_path_suffix(tmp_path):
    pipeline = load_pipeline(write(tmp_path, COMPLETE))
    assert pipeline.source_names == ["customers", "mails"]


def test_dataprep_arguments_map_source_names_to_parameters(tmp_path):
    pipeline = load_pipeline(write(tmp_path, COMPLETE))
    arguments = pipeline.dataprep_arguments({"customers": "c.csv", "mails": "m.csv"})
    assert arguments == {"customers_path": "c.csv", "mails": "m.csv"}


@pytest.mark.parametrize("function", CONTRACT)
def test_missing_function_is_named_in_the_error(tmp_path, function):
    path = write(tmp_path, without(function))
    with pytest.raises(PipelineError) as error:
        load_pipeline(path)
    message = str(error.value)
    assert f"does not define ['{function}']" in message
    assert str(path) in message


def test_several_missing_functions_are_all_named(tmp_path):
    path = write(tmp_path, "def encode_features():\n    return None\n")
    with pytest.raises(PipelineError, match="extract_label") as error:
        load_pipeline(path)
    assert "_lester_dataprep" in str(error.value)
    assert "create_model" in str(error.value)


def test_non_callable_contract_name_counts_as_missing(tmp_path):
    path = write(tmp_path, without("create_model") + "\ncreate_model = 3\n")
    with pytest.raises(PipelineError, match=r"does not define \['create_model'\]"):
        load_pipeline(path)


def test_import_error_names_the_file_and_the_cause(tmp_path):
    path = write(tmp_path, "import lester_no_such_module\n" + COMPLETE)
    with pytest.raises(PipelineError) as error:
        load_pipeline(path)
    message = str(error.value)
    assert str(path) in message
    assert "ModuleNotFoundError" in message
    assert "lester_no_such_module" in message


def test_syntax_error_is_a_pipeline_error(tmp_path):
    path = write(tmp_path, COMPLETE + "\ndef broken(:\n")
    with pytest.raises(PipelineError, match="SyntaxError"):
        load_pipeline(path)


def test_missing_pipeline_file(tmp_path):
    with pytest.raises(PipelineError, match="does not exist"):
        load_pipeline(tmp_path / "nope.py")


def test_pipeline_error_is_a_lester_error():
    assert issubclass(PipelineError, LesterError)


def test_missing_source_is_named(tmp_path):
    pipeline = load_pipeline(write(tmp_path, COMPLETE))
    with pytest.raises(PipelineError) as error:
        pipeline.dataprep_arguments({"customers": "c.csv"})
    message = str(error.value)
    assert "missing sources ['mails']" in message
    assert "unknown" not in message


def test_unknown_source_is_named(tmp_path):
    pipeline = load_pipeline(write(tmp_path, COMPLETE))
    with pytest.raises(PipelineError) as error:
        pipeline.dataprep_arguments({"customers": "c.csv", "mails": "m.csv", "orders": "o.csv"})
    message = str(error.value)
    assert "unknown sources ['orders']" in message
    assert "missing" not in message


def test_missing_and_unknown_sources_are_both_reported(tmp_path):
    pipeline = load_pipeline(write(tmp_path, COMPLETE))
    with pytest.raises(PipelineError) as error:
        pipeline.dataprep_arguments({"customers_path": "c.csv", "mails": "m.csv"})
    message = str(error.value)
    assert "missing sources ['customers']" in message
    assert "unknown sources ['customers_path']" in message


def test_python_pipeline_source_names():
    pipeline = lt.Pipeline(
        dataprep=lambda orders_path, users: None,
        encode_features=lambda: None,
        extract_label=lambda df: None,
        create_model=lambda n: None,
    )
    assert pipeline.source_names == ["orders", "users"]
    assert pipeline.dataprep_arguments({"users": "u", "orders": "o"}) == {
        "users": "u",
        "orders_path": "o",
    }
