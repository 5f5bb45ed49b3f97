"""The pipeline contract: the four functions a Lester pipeline module defines.

A pipeline module (what the paper's rewrite produces) defines

- ``_lester_dataprep(**source_paths)`` returning a :class:`~lester.TrackedFrame`; its
  parameters name the sources (``customers_path`` or ``customers`` both name ``customers``);
- ``encode_features()`` returning an unfitted scikit-learn ``ColumnTransformer``;
- ``extract_label(df)`` returning the label vector ``y`` for a pandas DataFrame;
- ``create_model(num_features)`` returning a scikit-learn classifier or a skorch network.

:class:`Pipeline` wraps the same four functions for pipelines defined in Python code.

Examples
--------
>>> import lester as lt
>>> pipeline = lt.Pipeline(
...     dataprep=lambda numbers_path: lt.read_csv(numbers_path),
...     encode_features=lambda: None, extract_label=lambda df: df["y"],
...     create_model=lambda num_features: None, name="numbers")
>>> pipeline.source_names
['numbers']
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lester.errors import LesterError, describe_names

CONTRACT = ("_lester_dataprep", "encode_features", "extract_label", "create_model")


class PipelineError(LesterError, ValueError):
    """A pipeline module that does not fulfil the contract."""


@dataclass(frozen=True)
class Pipeline:
    """The four functions of a pipeline, plus its name and source code.

    Examples
    --------
    >>> Pipeline(lambda a_path, b: None, None, None, None, name="p").source_names
    ['a', 'b']
    """

    dataprep: Callable[..., Any]
    encode_features: Callable[[], Any]
    extract_label: Callable[[Any], Any]
    create_model: Callable[[int], Any]
    name: str = "pipeline"
    code: str = ""
    path: str | None = None
    module: Any = field(default=None, repr=False, compare=False)

    @property
    def source_names(self) -> list[str]:
        """Source names, from the parameters of the data-prep function."""
        return [_source_name(p) for p in inspect.signature(self.dataprep).parameters]

    @property
    def code_hash(self) -> str:
        """sha256 of the pipeline's source code."""
        return hashlib.sha256(self.code.encode("utf-8")).hexdigest()

    def dataprep_arguments(self, sources: dict[str, str]) -> dict[str, str]:
        """Map ``{source name: path}`` onto the data-prep function's parameter names,
        checking that every source is given and no unknown one is.

        Examples
        --------
        >>> p = Pipeline(lambda mails_path: None, None, None, None)
        >>> p.dataprep_arguments({"mails": "m.csv"})
        {'mails_path': 'm.csv'}
        """
        parameters = list(inspect.signature(self.dataprep).parameters)
        by_name = {_source_name(p): p for p in parameters}
        missing = [name for name in by_name if name not in sources]
        unknown = [name for name in sources if name not in by_name]
        if missing or unknown:
            problems = []
            if missing:
                problems.append(f"missing sources {describe_names(missing)}")
            if unknown:
                problems.append(f"unknown sources {describe_names(unknown)}")
            raise PipelineError(
                f"pipeline {self.name!r} reads the sources {describe_names(list(by_name))}: "
                + "; ".join(problems)
                + " (give each as --source name=path)"
            )
        return {by_name[name]: str(path) for name, path in sources.items()}


def pipeline_name(path: Path) -> str:
    """A store-safe pipeline name from a file: its stem (its folder's name for
    ``pipeline.py``), with characters other than letters, digits, ``-`` and ``_`` replaced.

    Examples
    --------
    >>> pipeline_name(Path("examples/creditcard/pipeline.py")), pipeline_name(Path("_churn v2.py"))
    ('creditcard', 'churn-v2')
    """
    stem = path.stem if path.stem != "pipeline" else path.resolve().parent.name or path.stem
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")
    return cleaned or "pipeline"


def _source_name(parameter: str) -> str:
    return parameter.removesuffix("_path")


def load_pipeline(path: str | Path) -> Pipeline:
    """Import a pipeline module from a file and check that it defines the contract.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.py")
    >>> _ = open(path, "w").write("x = 1\\n")
    >>> load_pipeline(path)
    Traceback (most recent call last):
    ...
    lester.pipeline.PipelineError: pipeline module ... does not define ...
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"pipeline file {path} does not exist")
    code = path.read_text(encoding="utf-8")
    module = _import_module(path, code)
    missing = [name for name in CONTRACT if not callable(getattr(module, name, None))]
    if missing:
        raise PipelineError(
            f"pipeline module {path} does not define {describe_names(missing)}; a pipeline "
            f"defines {describe_names(CONTRACT)}"
        )
    return Pipeline(
        dataprep=module._lester_dataprep,
        encode_features=module.encode_features,
        extract_label=module.extract_label,
        create_model=module.create_model,
        name=pipeline_name(path),
        code=code,
        path=str(path.resolve()),
        module=module,
    )


def module_name_for(code: str) -> str:
    """The module name of a pipeline: from its code's sha256, so the code stored with a
    run imports under the same name, and objects pickled by reference (functions in
    encoders, torch modules) resolve again.

    Examples
    --------
    >>> module_name_for("x = 1")[:16]
    'lester_pipeline_'
    """
    return f"lester_pipeline_{hashlib.sha256(code.encode('utf-8')).hexdigest()[:16]}"


def _import_module(path: Path, code: str) -> Any:
    module_name = module_name_for(code)
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PipelineError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered so that classes defined in the pipeline (torch modules) can be found again.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise PipelineError(
            f"importing pipeline {path} failed: {type(error).__name__}: {error}"
        ) from error
    return module
