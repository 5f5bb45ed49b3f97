"""Static checks of generated pipeline modules: the allowed API, the contract and honest
source columns."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lester.pipeline import CONTRACT
from lester.rewrite.static_checks import check_pipeline_code
from tests.rewrite.messy_orders import CORRECT_MODULE

SOURCES = ["customers", "orders"]


def errors(code: str, **options) -> list[str]:
    options.setdefault("require_contract", False)
    report = check_pipeline_code(textwrap.dedent(code), **options)
    return [issue.render() for issue in report.errors]


def warnings(code: str) -> list[str]:
    report = check_pipeline_code(textwrap.dedent(code), require_contract=False)
    return [issue.render() for issue in report.warnings]


def test_a_correct_pipeline_module_passes_without_warnings() -> None:
    report = check_pipeline_code(CORRECT_MODULE, source_names=SOURCES)
    assert report.ok and report.issues == ()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os", "import of 'os' is not allowed"),
        ("import os.path", "import of 'os.path' is not allowed"),
        ("from subprocess import run", "import of 'subprocess' is not allowed"),
        ("import socket", "import of 'socket' is not allowed"),
        ("import importlib", "import of 'importlib' is not allowed"),
        ("from . import helpers", "relative imports are not allowed"),
        ("from lester.runner import run", "import of 'lester.runner' is not allowed"),
        ("import lester as lt\ndef f():\n    lt.run(None, sources={})", "lester.run() is not"),
        ("def f(s):\n    return eval(s)", "eval() is not allowed"),
        ("def f(s):\n    exec(s)", "exec() is not allowed"),
        ("def f():\n    return __import__('os')", "__import__() is not allowed"),
        ("def f():\n    g = globals\n    return g()", "globals() is not allowed"),
        ("def f(p):\n    open(p, 'w').write('x')", "open(..., 'w') writes a file"),
        ("def f(p):\n    open(p, mode='a')", "open(..., 'a') writes a file"),
        ("def f(p, m):\n    open(p, m)", "open() needs a constant read mode"),
        ("def f(df):\n    df.to_pandas().to_csv('x.csv')", ".to_csv() is not allowed"),
        ("def f(p):\n    p.write_text('x')", ".write_text() is not allowed"),
        ("import numpy as np\ndef f(X):\n    np.save('x.npy', X)", "numpy.save() is not allowed"),
        ("from numpy import savetxt as st\ndef f(X):\n    st('x', X)", "numpy.savetxt() is not"),
        ("import pandas as pd\ndef f():\n    pd.read_pickle('x')", "pandas.read_pickle() is"),
        ("def f():\n    return ().__class__.__base__", "attribute '__class__' is not allowed"),
        ("import torch\ndef f():\n    torch.hub.load('a/b', 'm')", "torch.hub.load() is not"),
        ("from sklearn.datasets import fetch_openml\nX = fetch_openml('x')", "fetch_openml() is"),
        ("def f(x, n):\n    return getattr(x, n)", "getattr() is allowed only with a constant"),
    ],
)
def test_anything_outside_the_allowed_api_is_forbidden(code: str, expected: str) -> None:
    report = check_pipeline_code(code, require_contract=False)
    assert report.forbidden_api and not report.ok
    assert any(expected in issue.message for issue in report.errors), report.feedback()


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\nimport pandas as pd\nimport lester as lt",
        "from dateutil import parser\nimport hashlib, math, re\nfrom datetime import datetime",
        "from sklearn.preprocessing import OneHotEncoder\nfrom lester.features.text import "
        "CharacterLengthTransformer",
        "def f(p):\n    with open(p) as handle:\n        return handle.readline()",
        "def f(p):\n    return open(p, 'rb').read()",
        "def f(x):\n    return getattr(x, 'lower')()",
        "class M:\n    def __init__(self):\n        super().__init__()",
        "def f(frame):\n    return frame.rename(columns={'a': 'b'})",
    ],
)
def test_the_allowed_api_passes(code: str) -> None:
    assert check_pipeline_code(code, require_contract=False).ok


def test_the_example_pipeline_passes_with_the_full_contract() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "creditcard" / "pipeline.py"
    report = check_pipeline_code(
        example.read_text(), source_names=["customers", "mails"], required_functions=CONTRACT
    )
    assert report.issues == (), report.feedback()


def test_a_syntax_error_is_reported_with_its_line() -> None:
    report = check_pipeline_code("import lester as lt\n\ndef f(:\n    pass\n")
    assert report.syntax_error and report.errors[0].line == 3
    assert report.feedback().startswith("line 3: syntax error")


def test_the_contract_functions_must_be_there() -> None:
    code = CORRECT_MODULE.replace("def extract_label(df):", "def label(df):")
    (message,) = errors(code, require_contract=True, source_names=SOURCES)
    assert "does not define ['extract_label']" in message
    # A model factory is required only when asked for (where the script trains a model).
    no_model = CORRECT_MODULE.replace("def create_model(num_features):", "def model(n):")
    assert not errors(no_model, require_contract=True)
    (message,) = errors(no_model, require_contract=True, required_functions=CONTRACT)
    assert "does not define ['create_model']" in message


def test_input_paths_must_be_parameters_named_after_the_sources() -> None:
    code = "def _lester_dataprep():\n    pass\n" + "\n".join(
        f"def {name}():\n    pass" for name in ["encode_features", "extract_label", "create_model"]
    )
    (message,) = errors(code, require_contract=True, source_names=SOURCES)
    assert "_lester_dataprep takes [], but the sources are ['customers', 'orders']" in message
    renamed = CORRECT_MODULE.replace("orders_path):", "orders_file):")
    assert errors(renamed, require_contract=True, source_names=SOURCES)
    assert not errors(CORRECT_MODULE, require_contract=True, source_names=SOURCES)


def test_code_that_runs_on_import_is_reported() -> None:
    (message,) = errors("import lester as lt\nprint('hi')\nfor i in range(3):\n    pass\n")[:1]
    assert message.startswith("line 2: the module runs code when it is imported")
    assert len(errors("for i in range(3):\n    pass\n")) == 1
    assert not errors('"""A docstring."""\nX = [1, 2]\n')


PROJECTS = """
import lester as lt
import pandas as pd

LEVELS = ["level"]

def _premium(row):
    return row["level"] == "premium"

def _length(text_row):
    return len(_field(text_row))

def _field(r):
    return r.get("subject") or ""

def prep(frame):
    frame = frame.project("is_premium", LEVELS, _premium)
    frame = frame.project(target_column="length", source_columns=["subject"], func=_length)
    frame = frame.project("total", ["a", "b"], lambda row: row.a + row["b"])
    frame = frame.project("both", ["a", "b"], lambda df: df[["a", "b"]].sum(axis=1),
                          vectorized=True)
    frame = frame.project("one", [], lambda row: 1)
    frame = frame.filter(lambda row: row["a"] > 1, source_columns=["a"])
    return frame.filter("a > @limit")
"""


def test_declared_source_columns_match_what_each_function_reads() -> None:
    report = check_pipeline_code(PROJECTS, require_contract=False)
    assert report.issues == (), report.feedback()


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            'LEVELS = ["level"]',
            'LEVELS = ["level", "country"]',
            "project 'is_premium' declares "
            "source_columns ['country'] that its function never reads",
        ),
        (
            'source_columns=["subject"]',
            'source_columns=["text"]',
            "project 'length' reads ['subject'] but declares source_columns=['text']",
        ),
        ('"total", ["a", "b"]', '"total", ["a"]', "project 'total' reads ['b']"),
        ('"both", ["a", "b"]', '"both", ["a", "b", "c"]', "declares source_columns ['c']"),
        ('"one", []', '"one", ["a"]', "project 'one' declares source_columns ['a']"),
        (
            'row["a"] > 1, source_columns=["a"]',
            'row["a"] > 1, source_columns=["b"]',
            "filter reads ['a'] but declares source_columns=['b']",
        ),
    ],
)
def test_a_wrong_declaration_is_an_error_naming_the_columns(
    replace: str, by: str, expected: str
) -> None:
    assert replace in PROJECTS
    report = check_pipeline_code(PROJECTS.replace(replace, by), require_contract=False)
    assert not report.ok and not report.forbidden_api
    assert any(expected in issue.message for issue in report.errors), report.feedback()


def test_columns_that_cannot_be_told_statically_are_a_warning() -> None:
    found = warnings(
        """
        def prep(frame, column, names):
            frame = frame.project("x", ["a"], lambda row: row[column])
            frame = frame.project("y", names, lambda row: row["a"])
            frame = frame.project("z", ["a"], lambda row: sum(row.values()))
            return frame.filter(lambda row: row["a"] > 1)
        """
    )
    assert len(found) == 4, found
    assert "project 'x': cannot check the columns its function reads" in found[0]
    assert "project 'y': cannot check source_columns" in found[1]
    assert "filter with a row function declares no source_columns" in found[3]
