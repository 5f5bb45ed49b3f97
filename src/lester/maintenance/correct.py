"""Push a corrected source value through a captured run: ``correct``.

The rows derived from the corrected tuples are removed; the plan is then executed for the
corrected tuples only (delta execution: the corrected source holds just those tuples, the
other sources are read as they are), which recomputes derived cells with the pipeline's own
functions and decides filter and join membership anew. The new rows land on the train or
test side by the same provenance hash as in the original run, get their features from the
fitted encoders, their labels from ``extract_label``, and the model is updated for the
rows that went and came.

Examples
--------
>>> parse_assignments(["country=DE", "level=premium"])
{'country': 'DE', 'level': 'premium'}
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import LesterError, describe_names
from lester.lineage.description import describe_update_done
from lester.maintenance.selection import Selection, check_column, read_source, resolve_keys
from lester.maintenance.updates import (
    SPLITS,
    NothingToUpdateError,
    UpdateOptions,
    UpdateStatus,
    _append_audit,
    _audit_entry,
    _model_update,
    _predict,
    _save_model,
    _source_record,
    _touched_rows,
    tracked_update,
)
from lester.provenance import Provenance, Slot
from lester.runner.artifacts import load_keys, load_model, load_stored_pipeline
from lester.runner.capture import OWNER, provenance_table, storable
from lester.runner.index import drop_row_index, log_deleted


class CorrectionError(LesterError, ValueError):
    """A correction that cannot be applied as given."""


def parse_assignments(values: list[str]) -> dict[str, str]:
    """``["column=value", ...]`` -> ``{column: value}``."""
    assignments = {}
    for value in values:
        column, separator, new = value.partition("=")
        if not separator or not column:
            raise CorrectionError(f"expected column=value, got {value!r}")
        assignments[column] = new
    return assignments


def correct(
    store: Any,
    run_id: str,
    selection: Selection,
    assignments: dict[str, Any],
    options: UpdateOptions | None = None,
) -> UpdateStatus:
    """Set ``assignments`` on the selected tuples and maintain the run accordingly."""
    options = options or UpdateOptions()
    started = time.perf_counter()
    if not assignments:
        raise CorrectionError("give at least one --set column=value")
    with tracked_update(store, run_id, "correct", selection, None, options) as lineage:
        with store.update_run(run_id, note=f"correct {selection.describe()}") as run:
            status = _correct(store, run, selection, assignments, options)
        status.seconds = time.perf_counter() - started
        lineage.fill(describe_update_done, store, status)
    return status


def _correct(store, run, selection: Selection, assignments: dict, options) -> UpdateStatus:
    record = _source_record(store, run.run_id, selection)
    for column in assignments:
        check_column(record, column)
    if not record.primary_key:
        raise CorrectionError(
            f"source {record.name!r} has no primary key; corrections need one to identify the "
            f"corrected tuples across runs (declare primary_key= in the pipeline)"
        )
    keys, ids = resolve_keys(run, record, selection)
    pipeline = load_stored_pipeline(run)
    corrected = _corrected_source(run, record, keys, assignments)
    new_rows = _delta_rows(run, pipeline, record, corrected, ids)
    old_rows = _touched_rows(run, record.name, ids)
    if not any(len(r) for r in old_rows.values()) and not len(new_rows["frame"]):
        raise NothingToUpdateError(
            f"the corrected tuples reach no row of run {run.run_id!r}, before or after the "
            f"correction"
        )
    added = _encode(new_rows, run.sklearn("encoders"), pipeline, run)
    changes = {"removed": old_rows["train"], "X_added": added["train"]["X"],
               "y_added": added["train"]["y"]}  # fmt: skip
    model, report = _model_update(run, pipeline, changes, options)
    status = UpdateStatus(run.run_id, "correct", selection.describe(), ",".join(assignments),
                          run.base.version, run.version)  # fmt: skip
    status.rows = {f"{s}_removed": len(old_rows[s]) for s in SPLITS}
    status.rows.update({f"{s}_added": len(added[s]["data"]) for s in SPLITS})
    status.model = report.to_dict()
    for split in SPLITS:
        _replace_split(run, run, split, old_rows[split], added[split])
    _predict_added(run, run, model, old_rows["test"], added["test"])
    _save_model(run, run, model)
    _append_audit(run, run, _audit_entry(status, keys, options))
    return status


def _corrected_source(run: Any, record: Any, keys: pd.Index, assignments: dict) -> pd.DataFrame:
    """The selected tuples of the source, with the new values, typed like their columns."""
    data = read_source(run, record)
    if keys.name == "row_number":
        rows = data.loc[keys].copy()
    else:
        rows = data[data[keys.name].isin(keys)].copy()
    if len(rows) != len(keys):
        raise CorrectionError(
            f"source {record.name!r} no longer holds all selected tuples; correct the run "
            f"before changing the source file"
        )
    for column, value in assignments.items():
        rows[column] = pd.Series([value] * len(rows), index=rows.index).astype(
            data[column].dtype, errors="ignore"
        )
    return rows


def _delta_rows(run, pipeline, record, corrected: pd.DataFrame, ids: np.ndarray) -> dict:
    """Execute the plan with the corrected source holding only the corrected tuples."""
    paths = dict(run.json("pipeline")["sources"])
    readers = run.json("source_readers")
    options = readers[record.name].get("options", {})
    with tempfile.TemporaryDirectory() as folder:
        # Same file name: read_csv names the source after the file stem.
        path = Path(folder) / Path(readers[record.name]["path"] or paths[record.name]).name
        if readers[record.name].get("reader") == "parquet":
            corrected.to_parquet(path, index=False)
        else:
            header = options.get("header", "infer") is not None
            corrected.to_csv(path, index=False, header=header, sep=options.get("sep", ","))
        paths[record.name] = str(path)
        prepared = pipeline.dataprep(**pipeline.dataprep_arguments(paths))
    seed, test_size = run.json("pipeline")["seed"], run.json("pipeline")["test_size"]
    train, test = prepared.split(test_size=test_size, seed=seed)
    return {"frame": prepared, "train": train, "test": test, "ids": ids}


def _encode(new_rows: dict, encoder: Any, pipeline: Any, run: Any) -> dict:
    result = {}
    for split in SPLITS:
        frame = new_rows[split]
        data = frame.to_pandas()
        X = encoder.transform(data) if len(data) else np.zeros((0, _width(run)))
        X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
        y = storable(pipeline.extract_label(data)) if len(data) else None
        provenance = _in_run_ids(frame, run)
        result[split] = {"data": data, "X": X, "y": y, "provenance": provenance}
    return result


def _width(run: Any) -> int:
    return run.matrix_shape("train/X")[1]


def _in_run_ids(frame: Any, run: Any) -> pd.DataFrame:
    """The new rows' polynomials with tuple ids of the run (mapped through key values), as
    the run's provenance table (same slot columns)."""
    provenance = frame.provenance
    stored_slots = [Slot(n, s) for n, s in run.json("provenance")["slots"]["train"]]
    keys = np.full((provenance.n_monomials, len(stored_slots)), -1, dtype=np.int64)
    by_name = {slot.name: j for j, slot in enumerate(stored_slots)}
    for j, slot in enumerate(provenance.slots):
        if slot.name not in by_name:
            raise CorrectionError(
                f"the corrected rows come through {slot.name}, unknown to the run"
            )
        ids = provenance.keys[:, j]
        present = ids >= 0
        values = frame.source_info(slot.source).keys[ids[present]]
        mapped = load_keys(run, slot.source).get_indexer(values)
        if (mapped < 0).any():
            raise CorrectionError(
                f"source {slot.source!r} holds tuples the run never read "
                f"{describe_names(list(values[mapped < 0]))}; re-run the pipeline instead"
            )
        keys[present, by_name[slot.name]] = mapped
    return provenance_table(Provenance(stored_slots, keys, provenance.owner, provenance.n_rows))


def _append(update: Any, name: str, values: Any) -> None:
    """Append rows after the last chunk (rewriting only that chunk)."""
    if values is None or len(values) == 0:
        return
    last = len(update.chunks(name)) - 1
    start, stop = update.chunks(name)[last].start, update.chunks(name)[last].stop
    if isinstance(values, pd.DataFrame):
        chunk = update.table_rows(name, start, stop)
    else:
        chunk = update.matrix_rows(name, start, stop)
    if isinstance(values, pd.DataFrame):
        combined = pd.concat([chunk, values[list(chunk.columns)]], ignore_index=True)
    else:
        combined = np.concatenate([np.asarray(chunk), np.asarray(values, dtype=chunk.dtype)])
    update.replace_chunk(name, last, combined)


def _replace_split(update: Any, run: Any, split: str, removed: np.ndarray, added: dict) -> None:
    if len(removed):
        log_deleted(update, split, removed)
    for artifact in ("data", "provenance", "X", "y"):
        if len(removed):
            update.delete_rows(f"{split}/{artifact}", removed)
    if len(added["data"]):
        drop_row_index(update, split)  # the appended rows are not in it
    _append(update, f"{split}/data", added["data"])
    table = added["provenance"]
    if OWNER not in run.table_chunk(f"{split}/provenance", 0).columns:
        table = table.drop(columns=[OWNER], errors="ignore")
    _append(update, f"{split}/provenance", table)
    _append(update, f"{split}/X", added["X"])
    _append(update, f"{split}/y", added["y"])


def _predict_added(update: Any, run: Any, model: Any, removed: np.ndarray, added: dict) -> None:
    if len(removed):
        update.delete_rows("test/predictions", removed)
        if "test/scores" in run.artifacts():
            update.delete_rows("test/scores", removed)
    if not len(added["data"]):
        return
    labels, scores = _predict(model, added["X"])
    _append(update, "test/predictions", storable(labels))
    if scores is not None and "test/scores" in run.artifacts():
        _append(update, "test/scores", scores)


__all__ = ["CorrectionError", "correct", "load_model", "parse_assignments"]
