"""Correctness of the updates: the maintained relational data and X equal, for the kept
rows, what re-running the pipeline on the cleaned sources with the same fitted encoders
gives. The split is decided by provenance, so a re-run puts every row on the same side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lester as lt
from lester.maintenance import Selection, UpdateOptions, forget_rows, forget_values
from lester.runner.artifacts import load_model, load_split
from lester.runner.models import predict

SPLITS = ("train", "test")


def rerun(pipeline_path, customers, mails, seed=7):
    """The pipeline re-executed on cleaned sources: (train, test) frames as pandas."""
    pipeline = lt.load_pipeline(pipeline_path)
    prepared = pipeline.dataprep(str(customers), str(mails))
    train, test = prepared.split(test_size=0.2, seed=seed)
    return {"train": train, "test": test}


def test_forget_values_equals_a_rerun_with_the_values_nulled(captured, tmp_path):
    store, run_id, customers_path, mails_path, pipeline_path = captured
    mails = pd.read_csv(mails_path)
    leaking = mails[mails["subject"].str.contains("card")]["mail_id"].tolist()
    X_test_before = store.open_run(run_id).matrix("test/X")

    status = forget_values(store, run_id, Selection("mails", keys=tuple(leaking)), "subject")

    # Ground truth: the same plan with those subjects missing (the title becomes missing).
    cleaned = mails.copy()
    cleaned.loc[cleaned["mail_id"].isin(leaking), "subject"] = None
    cleaned_path = tmp_path / "mails.csv"
    cleaned.to_csv(cleaned_path, index=False)
    expected = rerun(pipeline_path, customers_path, cleaned_path, seed=7)
    run = store.open_run(run_id)
    assert_run_matches_rerun(run, expected, pipeline_path)
    assert status.rows["train"] + status.rows.get("test", 0) == mails["mail_id"].isin(
        leaking
    ).sum() - _filtered_out(mails_path, customers_path, leaking)
    # The changed test rows are predicted again, by the updated model.
    changed = np.flatnonzero((run.matrix("test/X") != X_test_before).any(axis=1))
    assert len(changed) == status.rows["test"] > 0
    labels, scores = predict(load_model(run), run.matrix("test/X")[changed])
    np.testing.assert_array_equal(run.matrix("test/predictions")[changed], labels)
    np.testing.assert_allclose(run.matrix("test/scores")[changed], scores, rtol=1e-6)


def assert_run_matches_rerun(run, expected, pipeline_path) -> None:
    """Every split of the maintained run equals the re-run: the same rows (matched by
    polynomial, none missing or extra), X from the run's fitted encoders, y, predictions."""
    encoder = run.sklearn("encoders")
    pipeline = lt.load_pipeline(pipeline_path)
    for split in SPLITS:
        maintained = load_split(run, split)
        frame = expected[split]
        order = _align(maintained, frame)
        assert len(order) == len(frame)  # no row missing, none left over
        data = frame.to_pandas().iloc[order].reset_index(drop=True)
        pd.testing.assert_frame_equal(maintained.data, data, check_dtype=False)
        X_expected = np.nan_to_num(encoder.transform(data).astype(np.float32))
        np.testing.assert_allclose(run.matrix(f"{split}/X"), X_expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(run.matrix(f"{split}/y"), pipeline.extract_label(data))
    assert len(run.matrix("test/predictions")) == len(expected["test"])


def _align(maintained, frame) -> np.ndarray:
    """Positions in ``frame`` of each maintained row, matched by provenance polynomial."""
    position = {p: i for i, p in enumerate(frame.provenance_canonical())}
    return np.array([position[p] for p in maintained.provenance.canonical(maintained.keys)])


def _filtered_out(mails_path, customers_path, mail_ids) -> int:
    """Selected mails that never reached the prepared data (their customer is filtered)."""
    mails, customers = pd.read_csv(mails_path), pd.read_csv(customers_path)
    kept = customers[customers["country"].isin(["DE", "FR", "UK"])]["email"]
    selected = mails[mails["mail_id"].isin(mail_ids)]
    return int((~selected["email"].isin(kept)).sum())


def test_forget_rows_equals_a_rerun_on_the_sources_without_the_tuples(captured, tmp_path):
    store, run_id, customers_path, mails_path, pipeline_path = captured
    customers = pd.read_csv(customers_path)
    gone = customers[customers["country"] == "DE"]["customer_id"].head(4).tolist()

    status = forget_rows(store, run_id, Selection("customers", keys=tuple(gone)))

    cleaned_path = tmp_path / "customers.csv"
    customers[~customers["customer_id"].isin(gone)].to_csv(cleaned_path, index=False)
    expected = rerun(pipeline_path, cleaned_path, mails_path, seed=7)
    run = store.open_run(run_id)
    assert_run_matches_rerun(run, expected, pipeline_path)
    assert status.rows["train"] > 0


def test_forget_rows_updates_the_model_close_to_a_retrained_one(captured):
    store, run_id, customers_path, *_ = captured
    customers = pd.read_csv(customers_path)
    gone = customers[customers["country"] == "FR"]["customer_id"].head(3).tolist()
    before = load_model(store.open_run(run_id))

    status = forget_rows(store, run_id, Selection("customers", keys=tuple(gone)))

    run = store.open_run(run_id)
    updated = load_model(run)
    X, y = run.matrix("train/X"), run.matrix("train/y")
    # The reference optimum must be converged tightly: lbfgs' default tolerance is coarser
    # than the distances compared here.
    params = {**before.get_params(), "tol": 1e-12, "max_iter": 100_000}
    retrained = type(before)(**params).fit(X, y)
    distance_updated = np.linalg.norm(updated.coef_ - retrained.coef_)
    distance_before = np.linalg.norm(before.coef_ - retrained.coef_)
    assert status.model["method"] == "newton"
    assert distance_updated <= 0.05 * distance_before


def test_keys_of_tuples_that_reach_no_row_are_an_error(captured):
    store, run_id, customers_path, *_ = captured
    customers = pd.read_csv(customers_path)
    outside = customers[customers["country"] == "US"]["customer_id"].head(2).tolist()
    version = store.run(run_id).version
    with pytest.raises(lt.LesterError, match="reach no row"):
        forget_rows(store, run_id, Selection("customers", keys=tuple(outside)))
    assert store.run(run_id).version == version


@pytest.mark.parametrize(
    "assignments",
    [
        {"country": "US"},  # the customer's rows leave the data (filter membership changes)
        {"country": "FR"},  # stays, derived features change
        {"level": "premium"},  # derived column and label change
        {"email": "user3@mail.test"},  # join membership changes: other mails now match
    ],
)
def test_correct_equals_a_rerun_on_the_corrected_source(captured, tmp_path, assignments):
    from lester.maintenance.correct import correct

    store, run_id, customers_path, mails_path, pipeline_path = captured
    customers = pd.read_csv(customers_path)
    chosen = customers[customers["country"] == "DE"]["customer_id"].head(2).tolist()

    status = correct(store, run_id, Selection("customers", keys=tuple(chosen)), assignments)

    fixed = customers.copy()
    for column, value in assignments.items():
        fixed.loc[fixed["customer_id"].isin(chosen), column] = value
    fixed_path = tmp_path / "customers.csv"
    fixed.to_csv(fixed_path, index=False)
    expected = rerun(pipeline_path, fixed_path, mails_path, seed=7)
    run = store.open_run(run_id)
    assert_run_matches_rerun(run, expected, pipeline_path)
    assert status.version_after == 2
    # Later updates find the corrected tuples' rows, the appended ones included.
    from lester.maintenance.selection import resolve_keys
    from lester.maintenance.updates import _touched_rows
    from lester.runner.artifacts import load_provenance

    record = next(r for r in store.sources(run_id) if r.name == "customers")
    _, ids = resolve_keys(run, record, Selection("customers", keys=tuple(chosen)))
    for split, rows in _touched_rows(run, "customers", ids).items():
        brute = load_provenance(run, split).rows_touching({"customers": ids})
        assert rows.tolist() == np.flatnonzero(brute).tolist()


SKORCH_MODEL = """

import torch
from skorch import NeuralNetClassifier


class Tiny(torch.nn.Module):
    def __init__(self, num_features=5):
        super().__init__()
        self.layer = torch.nn.Linear(num_features, 2)

    def forward(self, X):
        return self.layer(X)


def create_model(num_features):
    return NeuralNetClassifier(Tiny, module__num_features=num_features, max_epochs=5, lr=0.05,
                               optimizer=torch.optim.Adam, train_split=None, verbose=0)
"""


def sampled_network_run(tmp_path, monkeypatch) -> tuple:
    """A run of a small network whose X is cut into chunks of 8 rows, and a line-search
    sample of 16 rows, so that its updates take the sampled path; the store, run id and
    the customers table."""
    import textwrap

    from lester.maintenance import updates
    from lester.runner import run as run_pipeline
    from lester.store import Store, writer

    from .conftest import PIPELINE, write_sources

    customers_path, mails_path = write_sources(tmp_path)
    pipeline_path = tmp_path / "tiny.py"
    code = textwrap.dedent(PIPELINE).replace("def create_model", "def _unused_create_model")
    pipeline_path.write_text(code + SKORCH_MODEL)
    store = Store(tmp_path / "store")
    sources = {"customers": customers_path, "mails": mails_path}
    monkeypatch.setattr(writer, "TARGET_CHUNK_BYTES", 1)  # X in chunks of 8 rows
    monkeypatch.setattr(writer, "MIN_CHUNK_ROWS", 8)
    run_id = run_pipeline(pipeline_path, sources, store=store, seed=7, quiet=True).run_id
    monkeypatch.setattr(updates, "RETAINED_SAMPLE", 16)
    return store, run_id, pd.read_csv(customers_path)


def test_network_updates_read_only_a_sample_of_the_retained_rows(tmp_path, monkeypatch):
    from lester.store.view import Run

    store, run_id, customers = sampled_network_run(tmp_path, monkeypatch)
    reads = []
    original = Run.matrix_take

    def recording(run, name, rows):
        reads.append((name, len(rows)))
        return original(run, name, rows)

    monkeypatch.setattr(Run, "matrix_take", recording)
    gone = customers[customers["country"] == "UK"]["customer_id"].head(2).tolist()

    status = forget_rows(store, run_id, Selection("customers", keys=tuple(gone)))

    assert status.model["method"] == "first-order"
    removed = status.rows["train"]
    total = store.open_run(run_id).n_rows("train/y") + removed
    x_reads = [count for name, count in reads if name == "train/X"]
    # The sample is made of whole chunks: at least 16 rows, at most one chunk more.
    assert len(x_reads) == 1 and removed < x_reads[0] <= 16 + 8 + removed < total
    assert status.version_after == 2


def test_a_sampled_network_update_over_budget_retrains_on_every_kept_row(tmp_path, monkeypatch):
    """The retrain happens after the update rewrote X: it must read the version the update
    started from, all of it, not the sample and not a mix of old and new rows."""
    import torch

    from lester.maintenance import unlearning
    from lester.runner.artifacts import load_model, load_stored_pipeline
    from lester.runner.models import fit

    store, run_id, customers = sampled_network_run(tmp_path, monkeypatch)
    gone = customers[customers["country"] == "UK"]["customer_id"].head(2).tolist()
    options = UpdateOptions(budget=1e-12)  # no approximate update is that good
    retrains, retrain = [], unlearning._retrain

    def recording(model, delta, create_model, seed):
        retrains.append(delta.num_rows_after)
        return retrain(model, delta, create_model, seed)

    monkeypatch.setattr(unlearning, "_retrain", recording)

    status = forget_rows(store, run_id, Selection("customers", keys=tuple(gone)), options)

    assert status.model["retrained"] and "budget" in status.model["reason"]
    run = store.open_run(run_id)
    X, y = run.matrix("train/X"), run.matrix("train/y")
    assert status.model["rows_removed"] == status.rows["train"] > 0
    assert len(y) + status.rows["train"] > 2 * 16 + 8  # more rows than any sample
    assert retrains == [len(y)]  # one retrain, on every kept row; none on the sample
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)  # update_model's retrain seed
        expected = fit(load_stored_pipeline(run).create_model(X.shape[1]), X, y)
    stored = load_model(run)
    for mine, theirs in zip(
        stored.module_.parameters(), expected.module_.parameters(), strict=True
    ):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), atol=1e-5)


def test_forgetting_a_value_other_rows_still_hold_scans_only_for_unique_values(captured):
    store, run_id, _, mails_path, _ = captured
    mails = pd.read_csv(mails_path)
    plain = mails[~mails["subject"].str.contains("card")]
    shared = plain["subject"].value_counts()
    subject = shared[shared > 2].index[0]  # several mails share it
    one_mail = plain[plain["subject"] == subject]["mail_id"].head(1).tolist()

    status = forget_values(store, run_id, Selection("mails", keys=tuple(one_mail)), "subject")

    assert status.scan["clean"] and status.scan["values_checked"] == 0
    titles = pd.concat([store.open_run(run_id).table(f"{s}/data") for s in SPLITS])["title"]
    assert (titles == subject.lower()).sum() >= 1  # the other mails keep their title
