"""Lineage export: report every run and every maintenance update to lineage systems.

A *sink* receives a :class:`~lester.lineage.description.RunDescription` when a run (or an
update) starts, completes or fails. Two sinks ship with Lester:

- :class:`~lester.lineage.openlineage.OpenLineageSink` (``pip install lester[openlineage]``):
  OpenLineage START/COMPLETE/FAIL events with column lineage, written by default to
  ``<store>/lineage/openlineage.jsonl``; the standard OpenLineage configuration
  (``OPENLINEAGE_CONFIG``, ``openlineage.yml``, ``OPENLINEAGE_URL``, ``OPENLINEAGE__...``)
  sends them elsewhere, ``OPENLINEAGE_DISABLED=true`` turns them off;
- :class:`~lester.lineage.mlflow_sink.MlflowSink` (``pip install lester[mlflow]``): each run
  as an MLflow run, each update as a nested child run (``lester run --mlflow``, or
  ``LESTER_MLFLOW=1``).

:func:`configured_sinks` returns the sinks switched on; the runner and the maintenance
functions take an explicit list instead when given one (``lineage=[...]``, ``[]`` for none).
A sink that fails when a run *starts* stops the run before anything is written; a sink
that fails afterwards only warns (:class:`LineageWarning`): the run is captured either way.

Examples
--------
>>> class Printer:
...     def start(self, run): print("start", run.job)
...     def complete(self, run): print("complete", run.job)
...     def fail(self, run, error): print("fail", run.job, error)
>>> from lester.lineage.description import describe_start
>>> with tracked([Printer()], lambda: describe_start("p", {}, ".", {})):
...     pass
start p
complete p
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lester.errors import LesterError
from lester.lineage.description import RunDescription

__all__ = [
    "LineageConfigError",
    "LineageSink",
    "LineageWarning",
    "RunDescription",
    "Tracked",
    "configured_sinks",
    "tracked",
]

MLFLOW_SWITCH = "LESTER_MLFLOW"


class LineageConfigError(LesterError, RuntimeError):
    """A lineage sink is asked for but cannot work (missing extra, bad tracking URI)."""


class LineageWarning(UserWarning):
    """A sink failed after the run or update was captured; the store is unaffected."""


@runtime_checkable
class LineageSink(Protocol):
    """Receives the description of a run or update when it starts, completes or fails.

    A sink may also define ``succeeded(run)``, called instead of ``start`` and ``complete``
    for a run reported only once it succeeded (a maintenance update)."""

    def start(self, run: RunDescription) -> None:
        """The run starts (its outputs are not known yet)."""

    def complete(self, run: RunDescription) -> None:
        """The run is captured (or the update committed); ``run`` is complete."""

    def fail(self, run: RunDescription, error: BaseException) -> None:
        """The run or update failed with ``error``; nothing of it is in the store."""


class Tracked:
    """What :func:`tracked` yields: the description being filled, ``None`` without sinks.

    Examples
    --------
    >>> Tracked(None).fill(print, "never printed")
    """

    def __init__(self, description: RunDescription | None) -> None:
        self.description = description

    def fill(self, describe: Callable[..., Any], *args: Any) -> None:
        """Call ``describe(description, *args)`` when there is a description to fill."""
        if self.description is not None:
            describe(self.description, *args)


@contextmanager
def tracked(
    sinks: Sequence[LineageSink],
    describe: Callable[[], RunDescription],
    only_success: bool = False,
) -> Iterator[Tracked]:
    """Tell ``sinks`` that a run starts, then that it completed or failed.

    ``describe`` builds the starting description; it is only called when there are sinks,
    so a run without sinks pays nothing. The body fills the description in (through
    :meth:`Tracked.fill`) before it ends. With ``only_success`` the start is held back and
    reported with the completion: a refused maintenance update leaves no trace, not even in
    the lineage log (a refusal changes nothing on disk).
    """
    if not sinks:
        yield Tracked(None)
        return
    description = describe()
    if not only_success:
        for sink in sinks:
            sink.start(description)
    try:
        yield Tracked(description)
    except BaseException as error:
        if not only_success:
            _notify(sinks, "fail", description, error)
        raise
    if not only_success:
        _notify(sinks, "complete", description)
        return
    for sink in sinks:
        if hasattr(sink, "succeeded"):  # START and COMPLETE written at once
            _notify([sink], "succeeded", description)
            continue
        sink.start(description)
        _notify([sink], "complete", description)


def _notify(sinks: Sequence[LineageSink], event: str, *args: Any) -> None:
    for sink in sinks:
        try:
            getattr(sink, event)(*args)
        except Exception as error:
            warnings.warn(
                f"lineage sink {type(sink).__name__} failed to report {event} of "
                f"{args[0].job!r} (the run itself is unaffected): {type(error).__name__}: "
                f"{error}",
                LineageWarning,
                stacklevel=4,
            )


def configured_sinks(
    store: Any, mlflow: bool = False, mlflow_uri: str | None = None
) -> list[LineageSink]:
    """The sinks switched on: OpenLineage whenever ``lester[openlineage]`` is installed
    (unless ``OPENLINEAGE_DISABLED=true``), MLflow when ``mlflow`` is true or the
    environment variable ``LESTER_MLFLOW`` is ``1``/``true``.

    Examples
    --------
    >>> import os
    >>> os.environ["OPENLINEAGE_DISABLED"] = "true"
    >>> configured_sinks(".lester")
    []
    >>> del os.environ["OPENLINEAGE_DISABLED"]
    """
    sinks: list[LineageSink] = []
    root = Path(getattr(store, "root", store))
    disabled = os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true"
    if not disabled and importlib.util.find_spec("openlineage") is not None:
        from lester.lineage.openlineage import OpenLineageSink

        sinks.append(OpenLineageSink(root))
    switched_on = os.environ.get(MLFLOW_SWITCH, "").strip().lower() in ("1", "true", "yes")
    if mlflow or mlflow_uri or switched_on:
        from lester.lineage.mlflow_sink import MlflowSink

        sinks.append(MlflowSink(mlflow_uri))
    return sinks
