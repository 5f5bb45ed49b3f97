"""Update a captured run when source tuples are deleted: ``forget_values`` and ``forget_rows``.

Each update reads only what the selected tuples reach (their rows, found through the
stored provenance; the X ranges of the affected columns, found through the matrix column
provenance), rewrites only the chunks holding them as a new version of the run (the store
switches versions atomically and deletes the old version's files), updates the model
without retraining (see :mod:`lester.maintenance.unlearning`), appends to the run's audit
log and finally scans every byte of the store for the deleted values.

Examples
--------
>>> import tempfile
>>> from lester.store import Store
>>> forget_values(Store(tempfile.mkdtemp()), "nope", Selection("mails", keys=("M1",)), "subject")
Traceback (most recent call last):
...
lester.store.errors.UnknownRunError: unknown run 'nope'; the store has 0 runs
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lester.errors import LesterError, UnknownSourceError, describe_names
from lester.features import MatrixColumnProvenance
from lester.lineage import configured_sinks, tracked
from lester.lineage.description import describe_update, describe_update_done
from lester.maintenance.scan import ScanResult, memorised_values, scan_files
from lester.maintenance.selection import Selection, check_column, match_source, resolve_keys
from lester.runner import index as run_index
from lester.runner.artifacts import (
    load_model,
    load_provenance,
    load_stored_pipeline,
)
from lester.store.manifest import Manifest

SPLITS = ("train", "test")


class NothingToUpdateError(LesterError, ValueError):
    """The selected tuples or column reach no artifact of the run."""


class MemorisedValueError(LesterError, ValueError):
    """A fitted encoder memorised a value that must be forgotten."""


class ForgottenValueFoundError(LesterError, RuntimeError):
    """A deleted value is still somewhere in the store."""


@dataclass
class UpdateOptions:
    """How to update the model: see :func:`lester.maintenance.unlearning.update_model`."""

    budget: float | None = None
    second_order: bool = False
    compare_retrain: bool = False
    allow_retrain: bool = False
    who: str | None = None
    # Lineage sinks told about the update (lester.lineage); None: the configured ones.
    lineage: list[Any] | None = None


@dataclass
class UpdateStatus:
    """What an update did (Pixeltable-style status object)."""

    run_id: str
    command: str
    selection: str
    column: str | None
    version_before: int
    version_after: int
    rows: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    x_ranges: list[tuple[int, int]] = field(default_factory=list)
    labels_changed: int = 0
    model: dict[str, Any] | None = None
    seconds: float = 0.0
    scan: dict[str, Any] | None = None
    # The deleted values, in memory only, for the final scan; never printed or stored.
    forgotten_values: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the deleted values)."""
        document = asdict(self)
        document.pop("forgotten_values")
        return document


# ---------------------------------------------------------------------------- reading
def _source_record(store: Any, run_id: str, selection: Selection) -> Any:
    sources = store.sources(run_id)
    record = match_source(sources, selection.source)
    if record is None:
        raise UnknownSourceError(
            f"run {run_id!r} reads no source {selection.source!r}; it reads "
            f"{describe_names([s.name for s in sources])}"
        )
    return record


def _touched_rows(run: Any, source: str, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Positions of the rows of each split that the tuples ``ids`` reach: from the row
    index when the run has one, else from the whole provenance table."""
    return {
        split: run_index.rows_reached(run, split, source, ids)
        if run_index.rows_indexed(run, split, source)
        else np.flatnonzero(load_provenance(run, split).rows_touching({source: ids}))
        for split in SPLITS
    }


def _derived_columns(run: Any, source: str, column: str) -> list[str]:
    qualified = f"{source}.{column}"
    column_provenance = run.json("provenance")["column_provenance"]
    return [c for c, origins in column_provenance.items() if qualified in origins]


# ---------------------------------------------------------------------------- encoding
def reencode(
    encoder: Any,
    rows: pd.DataFrame,
    X: np.ndarray,
    columns: set[str],
    nulled: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """X rows with the blocks of the fitted encoder that read ``columns`` recomputed from
    ``rows``; a block that cannot encode a missing value, or yields NaN, becomes zero.

    ``nulled``: the columns are missing in every row (forget-values), so a block that reads
    only them encodes every row alike: it is encoded for one row, kept in ``nulled`` by block
    name for the next call, and repeated (fitted transformers encode row by row).

    Examples
    --------
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> frame = pd.DataFrame({"country": ["DE", "FR"], "n": [1.0, 2.0]})
    >>> encoder = ColumnTransformer(
    ...     [("c", OneHotEncoder(handle_unknown="ignore"), ["country"])], remainder="passthrough"
    ... ).fit(frame)
    >>> X = encoder.transform(frame)
    >>> reencode(encoder, frame.assign(country=None), X, {"country"}, nulled={}).tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]
    """
    X = np.array(X, copy=True)
    names = list(getattr(encoder, "feature_names_in_", rows.columns))
    for name, transformer, spec in encoder.transformers_:
        used = _column_names(spec, names)
        if transformer == "drop" or not used or not set(used) & columns:
            continue
        block = encoder.output_indices_[name]
        if nulled is not None and set(used) <= columns:
            if name not in nulled:
                nulled[name] = _encode_block(transformer, spec, used, rows.iloc[:1], X.dtype)
            X[:, block] = nulled[name]
        else:
            X[:, block] = _encode_block(transformer, spec, used, rows, X.dtype)
    return X


def _encode_block(
    transformer: Any, spec: Any, used: list[str], rows: pd.DataFrame, dtype: np.dtype
) -> np.ndarray:
    """One fitted block's encoding of ``rows``; zeros where it fails, zero for NaN."""
    try:
        inputs = rows[spec] if isinstance(spec, str) else _select(rows, used)
        out = inputs.to_numpy() if transformer == "passthrough" else transformer.transform(inputs)
        out = np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=dtype)
    except Exception:  # the paper zeroes what cannot be encoded
        return np.zeros((len(rows), 1), dtype=dtype)  # broadcast over the block's columns
    return np.nan_to_num(out.reshape(len(rows), -1), nan=0.0)


def _select(rows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``rows[names]``, located name by name (half the cost of a list lookup in pandas)."""
    return rows.iloc[:, [rows.columns.get_loc(name) for name in names]]


def _column_names(spec: Any, names: list[str]) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, slice) or callable(spec):
        return []
    items = list(spec)
    if items and isinstance(items[0], bool | np.bool_):
        return [n for n, keep in zip(names, items, strict=True) if keep]
    return [names[i] if isinstance(i, int | np.integer) else str(i) for i in items]


def _ranges(features: MatrixColumnProvenance, columns: list[str]) -> list[tuple[int, int]]:
    known = set(features.columns())
    return sorted({r for c in columns if c in known for r in features.ranges(c)})


# ---------------------------------------------------------------------------- model
def _model_update(
    run: Any, pipeline: Any, changes: dict[str, Any], options: UpdateOptions
) -> tuple[Any, Any]:
    """Update the run's model for the training rows that changed or went (and wait)."""
    affected = np.concatenate(
        [_row_positions(changes, "removed"), _row_positions(changes, "changed")]
    )
    with _BackgroundModelUpdate(run, pipeline, options, affected) as pending:
        pending.start(changes)
        return pending.result()


class _BackgroundModelUpdate:
    """A model update computed on a worker thread while the caller rewrites the run.

    The worker reads what it needs (the model, the training rows) from the version the
    update started from, whose manifest and files stay as they were until the commit, so
    the caller may replace chunks meanwhile: on two cores the model step overlaps the
    chunk writes. It reads as soon as the affected training rows are known; :meth:`start`
    hands it the changes once they are computed. Leaving the ``with`` block waits for the
    worker; :meth:`result` gives the updated model and its report, or raises what the
    update raised.
    """

    def __init__(
        self, run: Any, pipeline: Any, options: UpdateOptions, affected: np.ndarray
    ) -> None:
        self.base, self.pipeline, self.options = _base_version(run), pipeline, options
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lester-model")
        self._read = self._worker.submit(self._read_inputs, affected)
        self._future: Future | None = None

    def __enter__(self) -> _BackgroundModelUpdate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._worker.shutdown(wait=True)

    def start(self, changes: dict[str, Any]) -> None:
        """Compute the update for ``changes`` (see :func:`_training_delta`)."""
        self._future = self._worker.submit(self._update, changes)

    def predict(self, X: np.ndarray) -> Future:
        """Predictions of the updated model for the rows ``X``, computed on the worker once
        the update is done: the labels and the scores (``None`` without ``predict_proba``)."""
        return self._worker.submit(lambda: _predict(self.result()[0], X))

    def result(self) -> tuple[Any, Any]:
        if self._future is None:
            raise RuntimeError("start() the model update before asking for its result")
        return self._future.result()

    def _read_inputs(self, affected: np.ndarray) -> tuple[Any, np.ndarray | None, tuple]:
        """The model, and the training rows the update works on (``None``: all of them)
        with their X and y."""
        rows = _training_rows(self.base, affected, self.options)
        if rows is None:
            training = self._all_training_rows()
        else:
            training = (
                self.base.matrix_take("train/X", rows),
                self.base.matrix_take("train/y", rows),
            )
        return load_model(self.base, self.pipeline), rows, training

    def _update(self, changes: dict[str, Any]) -> tuple[Any, Any]:
        from lester.maintenance.unlearning import DEFAULT_BUDGET, update_model

        model, rows, training = self._read.result()
        arguments = _update_arguments(self.pipeline, self.options)
        delta = _training_delta(changes, training, rows)
        if rows is None:
            # The model was loaded for this update only: no need for update_model's copy.
            return update_model(model, delta, in_place=True, **arguments)
        # A sample: the line search estimates the whole objective. Over budget, the update
        # is done again on every row (and retrained there if still over), rather than
        # retrained on the sample.
        sampled = {**arguments, "budget": np.inf, "rows_before": self.base.n_rows("train/y")}
        updated, report = update_model(model, delta, in_place=True, **sampled)
        budget = arguments.get("budget", DEFAULT_BUDGET)
        if report.gradient_residual is None or report.gradient_residual <= budget:
            return updated, report
        delta = _training_delta(changes, self._all_training_rows(), None)
        return update_model(load_model(self.base, self.pipeline), delta, **arguments)

    def _all_training_rows(self) -> tuple[Any, Any]:
        return self.base.matrix("train/X"), self.base.matrix("train/y")


def _row_positions(changes: dict[str, Any], kind: str) -> np.ndarray:
    return np.asarray(changes.get(kind, np.empty(0, np.int64)), dtype=np.int64)


def _training_delta(
    changes: dict[str, Any], training: tuple[Any, Any], rows: np.ndarray | None
) -> Any:
    """The delta of the training data ``training`` (X and y): every training row, or the
    rows at ``rows`` (sorted, holding every removed and changed row)."""
    from lester.maintenance.unlearning import TrainingDelta

    removed = _row_positions(changes, "removed")
    changed = _row_positions(changes, "changed")
    if rows is not None:
        removed, changed = np.searchsorted(rows, removed), np.searchsorted(rows, changed)
    return TrainingDelta(
        X_before=training[0],
        y_before=training[1],
        removed=removed,
        changed=changed,
        X_changed=changes.get("X_changed"),
        y_changed=changes.get("y_changed"),
        X_added=changes.get("X_added"),
        y_added=changes.get("y_added"),
    )


def _update_arguments(pipeline: Any, options: UpdateOptions) -> dict[str, Any]:
    arguments = {
        "create_model": pipeline.create_model,
        "second_order": options.second_order,
        "compare_retrain": options.compare_retrain,
        "allow_retrain": options.allow_retrain,
    }
    if options.budget is not None:
        arguments["budget"] = options.budget
    return arguments


def _base_version(run: Any) -> Any:
    """The version an update started from (the run itself when it is no update), sharing
    the update's decoded chunks: the rows it changes are read once for both."""
    base = getattr(run, "base", None)
    return run.at_version(base) if isinstance(base, Manifest) else run


# 256, 512 and 1,024 rows pick the same step in bench_unlearning_fidelity.py (distance ratio
# 0.770 each): the sample only estimates the curvature of the retained objective along one
# direction. The smallest of them, as fewer X chunks are read and evaluated per step.
RETAINED_SAMPLE = 256


def _training_rows(run: Any, affected: np.ndarray, options: UpdateOptions) -> np.ndarray | None:
    """For first-order network updates: the affected training rows plus the rows of a few
    seeded random chunks of ``train/X`` (at least ``RETAINED_SAMPLE`` rows), on which the step
    size is line-searched and the residual measured. Whole chunks, so that only a few chunks
    are read: the cost follows the delta, not the data. ``None``: use every row (exact
    methods, LiSSA, or a comparison against retraining)."""
    if run.json("model/spec")["kind"] != "skorch" or options.second_order:
        return None
    if options.compare_retrain or options.allow_retrain:
        return None
    n_rows = run.n_rows("train/y")
    if n_rows <= 2 * RETAINED_SAMPLE + len(affected):
        return None
    sizes = np.asarray(run.artifact("train/X").rows, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    order = np.random.default_rng(len(affected) + n_rows).permutation(len(sizes))
    needed = int(np.searchsorted(np.cumsum(sizes[order]), RETAINED_SAMPLE)) + 1
    chosen = [np.arange(starts[i], starts[i + 1]) for i in order[:needed]]
    return np.union1d(np.concatenate(chosen), affected)


def _save_model(update: Any, run: Any, model: Any) -> None:
    from lester.runner import models

    if run.json("model/spec")["kind"] == "skorch":
        update.put_torch("model/weights", models.torch_state(model))
    else:
        update.put_sklearn("model", model)


def _predict(model: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    from lester.runner import models

    with models.one_torch_thread():
        return models.predict(model, X)


# ---------------------------------------------------------------------------- audit
def _audit_entry(status: UpdateStatus, keys: pd.Index, options: UpdateOptions) -> dict:
    """What the audit log keeps: who, when, which keys and columns, counts, model report;
    never the deleted values."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "who": options.who or getpass.getuser(),
        "command": status.command,
        "selection": status.selection,
        "column": status.column,
        "keys": [str(key) for key in keys],
        "rows": status.rows,
        "columns": status.columns,
        "x_ranges": status.x_ranges,
        "labels_changed": status.labels_changed,
        "model": status.model,
        "version": status.version_after,
    }


def _append_audit(update: Any, run: Any, entry: dict) -> None:
    log = run.json("audit") if "audit" in run.artifacts() else []
    update.put_json("audit", [*log, entry])


def _scan(
    store: Any, values: list[str], run_ids: list[str] = (), excluded: dict | None = None
) -> ScanResult:
    """Scan the store for the deleted values; a value found only because rows the runs
    ``run_ids`` keep hold it (as a cell or inside one: the subject of a forgotten mail may also
    be, or be part of, the subject of a kept one) is not a leak. ``excluded`` maps run ids to
    ``{split: positions}`` of rows that do not count as kept (not yet updated)."""
    result = scan_files(store.root, values)
    suspects = sorted({values[index] for _, index in result.found})
    if suspects and run_ids:
        held = _values_held(store, run_ids, suspects, excluded or {})
        result.found = [(name, i) for name, i in result.found if values[i] not in held]
        result.checked -= len(held)
    if not result.clean:
        files = sorted({name for name, _ in result.found})
        raise ForgottenValueFoundError(
            f"deleted values are still in the store, in {describe_names(files)}; run "
            f"`lester verify-forgotten` after fixing the cause"
        )
    return result


def _values_held(store: Any, run_ids: list[str], values: list[str], excluded: dict) -> set[str]:
    """Which of ``values`` the kept rows of the runs hold, in a string cell or inside one."""
    held: set[str] = set()
    for run_id in sorted(set(run_ids)):
        run = store.open_run(run_id)
        held |= _held_by_rows(run, values, excluded.get(run_id, {}), inside=True)
    return held


def _held_by_rows(run: Any, values: list[str], excluded: dict, inside: bool) -> set[str]:
    """Which of ``values`` the rows of ``run`` hold, leaving out the rows at ``excluded``
    (``{split: positions}``): as a whole cell, or also inside one when ``inside``."""
    held: set[str] = set()
    for split in SPLITS:
        data = run.table(f"{split}/data").drop(index=excluded.get(split, []))
        for column in data.columns:
            cells = data[column]
            if not (cells.dtype.kind in "OUT" or isinstance(cells.dtype, pd.StringDtype)):
                continue
            cells = cells.dropna().astype(str)
            if inside:
                held.update(v for v in values if cells.str.contains(v, regex=False).any())
            else:
                held.update(cells[cells.isin(values)].tolist())
    return held


def _string_values(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The distinct non-empty strings in ``columns`` (all by default) of ``frame``."""
    # Column by column: selecting a list of columns costs pandas ~0.3 ms per call.
    names = frame.columns if columns is None else columns
    return _distinct_strings(value for name in names for value in frame[name].tolist())


def _distinct_strings(values: Iterable[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v})


# ---------------------------------------------------------------------------- forget-values
def forget_values(
    store: Any,
    run_id: str,
    selection: Selection,
    column: str,
    options: UpdateOptions | None = None,
    scan: bool = True,
) -> UpdateStatus:
    """Null the cells derived from ``column`` of the selected tuples, re-encode their X
    ranges as the encoder encodes a missing value, recompute their labels, update the model;
    a new version of the run, then (with ``scan``) a scan of the whole store for the
    deleted values. Everything is read under the run's lock, so concurrent updates of one
    run are applied one after the other."""
    options = options or UpdateOptions()
    started = time.perf_counter()
    with tracked_update(store, run_id, "forget-values", selection, column, options) as lineage:
        note = f"forget-values {selection.describe()} {column}"
        with store.update_run(run_id, note=note) as run:
            status = _forget_values(store, run, selection, column, options)
        status = _finish(store, status, started, scan)
        lineage.fill(describe_update_done, store, status)
    return status


def _forget_values(
    store: Any, run: Any, selection: Selection, column: str, options: UpdateOptions
) -> UpdateStatus:
    record = _source_record(store, run.run_id, selection)
    check_column(record, column)
    keys, ids = resolve_keys(run, record, selection)
    derived = _derived_columns(run, record.name, column)
    if not derived:
        raise NothingToUpdateError(
            f"no column of run {run.run_id!r} derives from {record.name}.{column}; nothing to "
            f"forget"
        )
    touched = _touched_rows(run, record.name, ids)
    if not any(len(rows) for rows in touched.values()):
        raise NothingToUpdateError(
            f"the selected tuples ({selection.describe()}) reach no row of run {run.run_id!r}"
        )
    pipeline = load_stored_pipeline(run)
    # The worker starts reading the model and its rows now, while the encoder loads.
    with _BackgroundModelUpdate(run, pipeline, options, touched["train"]) as pending:
        encoder = run.sklearn("encoders")
        features = MatrixColumnProvenance.from_dict(run.json("features"))
        status = UpdateStatus(
            run.run_id, "forget-values", selection.describe(), column, run.base.version, run.version
        )
        status.columns, status.x_ranges = derived, _ranges(features, derived)
        nulled = _Nulling(run, derived, encoder, pipeline, status)
        train = nulled.change("train", touched["train"])
        pending.start(_changed_training_rows(train))
        changes = {"train": train, "test": nulled.change("test", touched["test"])}
        changes = {split: change for split, change in changes.items() if change is not None}
        predictions = pending.predict(changes["test"]["X"]) if "test" in changes else None
        _refuse_memorised(run, encoder, touched, status.forgotten_values)
        for split, change in changes.items():
            run.replace_rows(f"{split}/data", change["rows"], change["data"])
            run.replace_rows(f"{split}/X", change["rows"], change["X"])
            run.replace_rows(f"{split}/y", change["rows"], change["y"])
        run.write_back()  # while the model update runs (a syncfs lets go of the GIL)
    model, report = pending.result()
    status.model = report.to_dict()
    _save_model(run, run, model)
    if predictions is not None:
        _store_predictions(run, run, changes["test"]["rows"], *predictions.result())
    _append_audit(run, run, _audit_entry(status, keys, options))
    return status


class _Nulling:
    """forget-values on the rows of one split: the derived cells nulled, X re-encoded by the
    fitted encoder, labels recomputed (counted in ``status``)."""

    def __init__(
        self, run: Any, derived: list[str], encoder: Any, pipeline: Any, status: UpdateStatus
    ) -> None:
        self.run, self.derived, self.encoder = run, derived, encoder
        self.pipeline, self.status = pipeline, status
        self._encoded: dict[str, np.ndarray] = {}  # blocks reading only nulled columns

    def change(self, split: str, rows: np.ndarray) -> dict[str, Any] | None:
        """The new data, X and y of ``rows`` of ``split`` (``None`` without rows)."""
        if not len(rows):
            return None
        run, status = self.run, self.status
        old = run.arrow_take(f"{split}/data", rows)
        status.forgotten_values += _arrow_strings(old, self.derived)
        # Nulled in Arrow, so the stored column types are kept; pandas for the pipeline.
        nulled = _nulled(old, self.derived)
        new = nulled.to_pandas()
        X_old = run.matrix_take(f"{split}/X", rows)
        X_new = reencode(self.encoder, new, X_old, set(self.derived), nulled=self._encoded)
        y_old = run.matrix_take(f"{split}/y", rows)
        y_new = np.asarray(self.pipeline.extract_label(new)).astype(y_old.dtype)
        status.labels_changed += int((y_new != y_old).sum())
        status.rows[split] = len(rows)
        return {"rows": rows, "data": nulled, "X": X_new, "y": y_new}


def _nulled(table: pa.Table, columns: list[str]) -> pa.Table:
    """``table`` with every cell of ``columns`` null (their types kept).

    Examples
    --------
    >>> _nulled(pa.table({"a": ["x", "y"], "b": [1, 2]}), ["a"]).to_pydict()
    {'a': [None, None], 'b': [1, 2]}
    """
    for column in columns:
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        table = table.set_column(index, field, pa.nulls(table.num_rows, field.type))
    return table


def _arrow_strings(table: pa.Table, columns: list[str]) -> list[str]:
    """The distinct non-empty strings in ``columns`` of ``table``."""
    return _distinct_strings(v for column in columns for v in table.column(column).to_pylist())


def tracked_update(
    store: Any, run_id: str, command: str, selection: Selection, column: str | None,
    options: UpdateOptions,
) -> Any:  # fmt: skip
    """Report the update to the lineage sinks (:mod:`lester.lineage`) as a child run."""
    sinks = configured_sinks(store) if options.lineage is None else options.lineage
    return tracked(sinks, lambda: describe_update(
        store, run_id, command, selection.source, column, selection.describe()
    ), only_success=True)  # fmt: skip


def _finish(store: Any, status: UpdateStatus, started: float, scan: bool) -> UpdateStatus:
    status.seconds = time.perf_counter() - started
    if scan:
        status.scan = _scan(store, status.forgotten_values, [status.run_id]).to_dict()
    return status


def _refuse_memorised(
    run: Any, encoder: Any, touched: dict[str, np.ndarray], values: list[str]
) -> None:
    """Refuse when a fitted encoder memorised a value that only the forgotten rows hold.
    Checked on the forgotten rows' values first; only when one of them is memorised does it
    read the kept rows, to spare values they hold too (a country shared by many customers)."""
    memorised = memorised_values(encoder, values)
    if memorised:
        unique = _unique_to_forgotten(run, touched, values)
        memorised = memorised_values(encoder, unique)
    if memorised:
        raise MemorisedValueError(
            f"the fitted encoders memorised values to forget, at {describe_names(memorised)}; "
            f"forgetting them would change the feature space: re-run the pipeline on the "
            f"cleaned sources instead"
        )


def forget_everywhere(
    store: Any, run_ids: list[str], update: Any, on_done: Any = None
) -> list[UpdateStatus]:
    """Apply ``update(run_id, scan=False)`` to every run, then scan the store once for the
    values all of them forgot (a scan between runs would find the runs not yet updated)."""
    statuses = []
    for run_id in run_ids:
        statuses.append(update(run_id, scan=False))
        if on_done is not None:
            on_done(statuses[-1])
    values = sorted({value for status in statuses for value in status.forgotten_values})
    result = _scan(store, values, [status.run_id for status in statuses]).to_dict()
    for status in statuses:
        status.scan = result
    return statuses


def _changed_training_rows(train_change: dict | None) -> dict[str, Any]:
    if train_change is None:
        return {}
    return {"changed": train_change["rows"], "X_changed": train_change["X"],
            "y_changed": train_change["y"]}  # fmt: skip


def _store_predictions(
    update: Any, run: Any, rows: np.ndarray, labels: np.ndarray, scores: np.ndarray | None
) -> None:
    """The updated model's predictions of the changed test rows at ``rows``."""
    dtype = np.dtype(run.artifact("test/predictions").attrs["dtype"])
    update.replace_rows("test/predictions", rows, labels.astype(dtype))
    if scores is not None and "test/scores" in run.artifacts():
        update.replace_rows("test/scores", rows, scores)


# ---------------------------------------------------------------------------- forget-rows
def forget_rows(
    store: Any,
    run_id: str,
    selection: Selection,
    options: UpdateOptions | None = None,
    scan: bool = True,
) -> UpdateStatus:
    """Remove every training and test row derived from the selected tuples from data,
    provenance, X, y and predictions, and update the model as if trained without them."""
    options = options or UpdateOptions()
    started = time.perf_counter()
    with tracked_update(store, run_id, "forget-rows", selection, None, options) as lineage:
        with store.update_run(run_id, note=f"forget-rows {selection.describe()}") as run:
            status = _forget_rows(store, run, selection, options)
        status = _finish(store, status, started, scan)
        lineage.fill(describe_update_done, store, status)
    return status


def _forget_rows(store: Any, run: Any, selection: Selection, options: UpdateOptions):
    record = _source_record(store, run.run_id, selection)
    keys, ids = resolve_keys(run, record, selection)
    touched = _touched_rows(run, record.name, ids)
    if not any(len(rows) for rows in touched.values()):
        raise NothingToUpdateError(
            f"the selected tuples ({selection.describe()}) reach no row of run {run.run_id!r}"
        )
    pipeline = load_stored_pipeline(run)
    status = UpdateStatus(
        run.run_id, "forget-rows", selection.describe(), None, run.base.version, run.version
    )
    status.rows = {split: len(rows) for split, rows in touched.items()}
    forgotten = pd.concat([run.table_take(f"{s}/data", r) for s, r in touched.items()])
    status.forgotten_values = _string_values(forgotten)
    _refuse_memorised(run, run.sklearn("encoders"), touched, status.forgotten_values)
    with _BackgroundModelUpdate(run, pipeline, options, touched["train"]) as pending:
        pending.start({"removed": touched["train"]})
        for split, rows in touched.items():
            if not len(rows):
                continue
            run_index.log_deleted(run, split, rows)
            for artifact in ("data", "provenance", "X", "y"):
                run.delete_rows(f"{split}/{artifact}", rows)
        if len(touched["test"]):
            run.delete_rows("test/predictions", touched["test"])
            if "test/scores" in run.artifacts():
                run.delete_rows("test/scores", touched["test"])
        _forget_keys(run, run, record.name, ids)
        run_index.forget_keys(run, record.name, keys)
    model, report = pending.result()
    status.model = report.to_dict()
    _save_model(run, run, model)
    _append_audit(run, run, _audit_entry(status, keys, options))
    return status


def _forget_keys(update: Any, run: Any, source: str, ids: np.ndarray) -> None:
    """The forgotten tuples' keys are blanked; tuple ids of the others stay valid."""
    name = f"sources/{source}/keys"
    keys = run.table_chunk(name, 0)  # the schema only
    blank = pd.DataFrame({keys.columns[0]: pd.Series([None] * len(ids), dtype=object)})
    update.replace_rows(name, ids, blank.astype(keys.dtypes.iloc[0], errors="ignore"))


def _unique_to_forgotten(run: Any, touched: dict[str, np.ndarray], values: list[str]) -> list:
    """The values of forgotten rows that no remaining row holds as a whole cell: only those
    must be gone from the encoders (the country of a forgotten customer is still the country
    of others)."""
    remaining = _held_by_rows(run, values, touched, inside=False)
    return [value for value in values if value not in remaining]
