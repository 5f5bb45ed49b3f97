"""Maintain captured runs when inputs are deleted or corrected, and find every affected run.

- :func:`find_affected`: which runs, artifacts and rows depend on a source (and column);
- :func:`forget_values`: null the cells derived from some source values, re-encode, update
  the model;
- :func:`forget_rows`: remove every row derived from some source tuples, update the model;
- :func:`correct`: push corrected source values through by delta execution of the plan;
- :func:`verify_forgotten`: scan every byte of a store for values that must be gone.

Every update writes a new version of the run atomically and deletes the old version's
files, appends to the run's audit log and returns an :class:`UpdateStatus`.
"""

from lester.maintenance.affected import ArtifactImpact, RunImpact, find_affected
from lester.maintenance.correct import CorrectionError, correct
from lester.maintenance.scan import ScanResult, scan_files
from lester.maintenance.selection import Selection, read_source
from lester.maintenance.updates import (
    ForgottenValueFoundError,
    MemorisedValueError,
    NothingToUpdateError,
    UpdateOptions,
    UpdateStatus,
    forget_rows,
    forget_values,
)

__all__ = [
    "ArtifactImpact",
    "CorrectionError",
    "ForgottenValueFoundError",
    "MemorisedValueError",
    "NothingToUpdateError",
    "RunImpact",
    "ScanResult",
    "Selection",
    "UpdateOptions",
    "UpdateStatus",
    "correct",
    "find_affected",
    "forget_rows",
    "forget_values",
    "read_source",
    "scan_files",
    "verify_forgotten",
]


def verify_forgotten(store, source: str, column: str | None, selection: Selection) -> ScanResult:
    """Scan every file of ``store`` for the values of the selected tuples (``column`` or,
    without it, every string field), read from the source as the runs read it.

    Raises :class:`ForgottenValueFoundError` naming the files that still hold a value.
    """
    from lester.maintenance.selection import match_source, resolve_keys
    from lester.maintenance.updates import _scan, _string_values

    values: list[str] = []
    for impact in find_affected(store, source, column):
        run = store.open_run(impact.run_id, verify=False)
        record = match_source(store.sources(impact.run_id), source)
        if record is None:
            continue
        keys, _ = resolve_keys(run, record, selection)
        data = read_source(run, record)
        key_column = keys.name
        rows = data.loc[keys] if key_column == "row_number" else data[data[key_column].isin(keys)]
        values += _string_values(rows[[column]] if column else rows.drop(columns=[key_column]))
    return _scan(store, sorted(set(values)))
