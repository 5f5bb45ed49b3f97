"""Open the captured run an inspection is about: by run id, ``latest`` or a ``RunResult``.

Examples
--------
>>> captured = open_captured("latest", store)
>>> captured.run_id == run_id, captured.source_names()
(True, ['customers', 'mails'])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import LesterError, UnknownSourceError, describe_names
from lester.provenance import Provenance
from lester.runner.artifacts import load_keys, load_provenance

SPLITS = ("train", "test")


class InspectionError(LesterError, ValueError):
    """An inspection that cannot be answered for this run (e.g. no run yet, an unknown
    split, a group column whose source file is gone)."""


@dataclass
class CapturedRun:
    """One version of a captured run, with cached reads of its provenance and keys.

    Examples
    --------
    >>> captured = open_captured(run_id, store)
    >>> captured.provenance("train").n_rows == captured.run.n_rows("train/data")
    True
    """

    store: Any
    run: Any

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id

    @cached_property
    def records(self) -> dict[str, Any]:
        """The source records of the run (path, sha256, schema, key), by source name."""
        return {record.name: record for record in self.store.sources(self.run_id)}

    def source_names(self) -> list[str]:
        """Names of the run's sources (those with stored tuple keys), sorted."""
        prefix, suffix = "sources/", "/keys"
        names = [name for name in self.run.artifacts() if name.startswith(prefix)]
        return sorted(name[len(prefix) : -len(suffix)] for name in names if name.endswith(suffix))

    def keys(self, source: str) -> pd.Index:
        """The source's tuple keys in source order (position = tuple id)."""
        if source not in self._keys:
            self.check_source(source)
            self._keys[source] = load_keys(self.run, source)
        return self._keys[source]

    def provenance(self, split: str) -> Provenance:
        """The polynomials of the rows of ``split``."""
        check_split(split)
        if split not in self._provenance:
            self._provenance[split] = load_provenance(self.run, split)
        return self._provenance[split]

    def check_source(self, source: str) -> None:
        """An unknown source is an error naming the run's sources."""
        known = self.source_names()
        if source not in known:
            raise UnknownSourceError(
                f"run {self.run_id!r} has no source {source!r}; its sources are "
                f"{describe_names(known)}"
            )

    def labels(self, split: str) -> np.ndarray:
        """The label vector ``y`` of ``split``."""
        check_split(split)
        return np.asarray(self.run.matrix(f"{split}/y"))

    def predictions(self, split: str) -> np.ndarray:
        """The model's predictions for ``split``: stored for test, computed with the stored
        model and encoded matrix for train."""
        check_split(split)
        if split == "test":
            return np.asarray(self.run.matrix("test/predictions"))
        from lester.runner import models
        from lester.runner.artifacts import load_model

        predictions, _ = models.predict(load_model(self.run), self.run.matrix(f"{split}/X"))
        return np.asarray(predictions)

    def __post_init__(self) -> None:
        self._keys: dict[str, pd.Index] = {}
        self._provenance: dict[str, Provenance] = {}


def check_split(split: str) -> None:
    """Only ``train`` and ``test`` are splits.

    Examples
    --------
    >>> check_split("validation")
    Traceback (most recent call last):
    ...
    lester.inspection.captured.InspectionError: unknown split 'validation'; expected 'train' ...
    """
    if split not in SPLITS:
        raise InspectionError(f"unknown split {split!r}; expected 'train' or 'test'")


def open_captured(run: Any, store: Any = None) -> CapturedRun:
    """The run to inspect.

    Parameters
    ----------
    run:
        A run id, ``"latest"`` (the most recently created run) or the ``RunResult`` that
        :func:`lester.run` returned (its store is used when ``store`` is not given).
    store:
        A :class:`lester.Store` or the path of one; defaults to ``.lester``.

    Examples
    --------
    >>> open_captured("latest", store.root).run.version
    1
    """
    from lester.store import Store

    if hasattr(run, "run_id") and hasattr(run, "store"):
        store = run.store if store is None else store
        run = run.run_id
    store = store if isinstance(store, Store) else _existing_store(store or ".lester")
    return CapturedRun(store, store.open_run(resolve_run_id(store, str(run))))


def resolve_run_id(store: Any, run: str) -> str:
    """``latest`` names the most recently created run; any other value is a run id.

    Examples
    --------
    >>> resolve_run_id(store, "latest") == run_id
    True
    """
    if run != "latest":
        return run
    records = sorted(store.runs(), key=lambda record: str(record.created))
    if not records:
        raise InspectionError(f"the store at {store.root} has no runs yet")
    return records[-1].run_id


def _existing_store(path: str | os.PathLike[str]) -> Any:
    from pathlib import Path

    from lester.store import Store

    if not (Path(path) / "catalog.sqlite").is_file():
        raise InspectionError(f"no store at {path} (run `lester run` first)")
    return Store(path)
