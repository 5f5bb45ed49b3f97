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
    """Scan every file of ``store`` for the values of the selected tuples: their raw values
    in the source (``column``, or every string field), read as the runs read it, and the
    values each affected run derived from them (e.g. a lower-cased subject).

    Raises :class:`ForgottenValueFoundError` naming the files that still hold a value, and
    an error for a source or column that no run reads.
    """
    from lester.maintenance.selection import (
        check_column,
        match_source,
        resolve_keys,
        unknown_source,
    )
    from lester.maintenance.updates import (
        _derived_columns,
        _scan,
        _string_values,
        _touched_rows,
    )

    impacts = find_affected(store, source)
    if not impacts:
        known = [record.name for run in store.runs() for record in store.sources(run.run_id)]
        raise unknown_source(source, known)
    values: list[str] = []
    touched_rows: dict[str, dict] = {}
    for impact in impacts:
        run = store.open_run(impact.run_id)
        record = match_source(store.sources(impact.run_id), source)
        check_column(record, column)
        keys, ids = resolve_keys(run, record, selection)
        values += _raw_values(run, record, keys, column)
        derived = _derived_columns(run, record.name, column) if column else None
        touched_rows[impact.run_id] = _touched_rows(run, record.name, ids)
        for split, rows in touched_rows[impact.run_id].items():
            if len(rows):
                data = run.table_take(f"{split}/data", rows)
                values += _string_values(data, derived)
    run_ids = [impact.run_id for impact in impacts]
    return _scan(store, sorted(set(values)), run_ids, touched_rows)


def _raw_values(run, record, keys, column: str | None) -> list[str]:
    """The selected tuples' values in the source file, if it is still there."""
    from lester.errors import SourceReadError
    from lester.maintenance.updates import _string_values

    try:
        data = read_source(run, record)
    except SourceReadError:
        return []  # the source was cleaned or moved: the stored values are still checked
    if keys.name == "row_number":
        rows = data.loc[data.index.intersection(keys)]
    else:
        rows = data[data[keys.name].isin(keys)]
    return _string_values(rows[[column]] if column else rows.drop(columns=[keys.name]))
