"""Feature and label lineage against ground truths found by perturbation: an input column
feeds exactly the X columns that change when its values change (through the run's fitted
encoders), and a source column reaches the label when changing it changes the label of a row
whose provenance stays the same (re-running the plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lester as lt


def perturbed(values: pd.Series) -> pd.Series:
    """Every value changed: numbers shifted, text extended (unknown to encoders, other
    lengths), categories of a source rotated to the next distinct value."""
    if pd.api.types.is_bool_dtype(values):
        return ~values
    if pd.api.types.is_numeric_dtype(values):
        return values + 0.37
    return values.astype(str) + "zz"


def rotated(values: pd.Series) -> pd.Series:
    """Every other value replaced by the next distinct value of the column (numbers
    shifted); the untouched half keeps rows (e.g. join partners) to compare."""
    if pd.api.types.is_numeric_dtype(values):
        changed = values + 0.37
    else:
        distinct = sorted(values.unique())
        changed = values.map(dict(zip(distinct, distinct[1:] + distinct[:1], strict=True)))
    return changed.where(np.arange(len(values)) % 2 == 0, values)


def test_x_ranges_and_feature_names_are_the_columns_each_input_changes(captured):
    report = lt.inspect.features(captured.run_id, captured.store)
    run = captured.store.open_run(captured.run_id)
    encoders = run.sklearn("encoders")
    data = run.table("train/data")
    reference = encoders.transform(data)
    names = encoders.get_feature_names_out()
    assert report.n_features == reference.shape[1]
    for column in encoders.feature_names_in_:
        changed_data = data.assign(**{column: perturbed(data[column])})
        changed = np.flatnonzero((encoders.transform(changed_data) != reference).any(axis=0))
        entry = report.columns[column]
        fed = [j for start, stop in entry.ranges for j in range(start, stop)]
        assert fed == changed.tolist(), column
        assert list(entry.feature_names) == names[changed].tolist()


def test_input_columns_name_their_source_columns(captured):
    report = lt.inspect.features(captured, captured.store)
    sources = {name: column.source_columns for name, column in report.columns.items()}
    assert sources == {
        "title": ("mails.subject",),
        "country": ("customers.country",),
        "score": ("mails.score",),
        "is_premium": ("customers.level",),  # an input the encoder drops
    }
    assert report.columns["is_premium"].width == 0
    assert report.columns["is_premium"].describe_ranges() == "dropped"


def labels_by_provenance(captured, customers, mails) -> dict[str, int]:
    folder = captured.folder / "perturbed"
    folder.mkdir(exist_ok=True)
    customers.to_csv(folder / "customers.csv", index=False)
    mails.to_csv(folder / "mails.csv", index=False)
    prepared = captured.pipeline.dataprep(
        customers_path=str(folder / "customers.csv"), mails_path=str(folder / "mails.csv")
    )
    labels = captured.pipeline.extract_label(prepared.to_pandas())
    return {prepared.provenance_of(i): int(labels[i]) for i in range(len(prepared))}


def source_columns_reaching_the_label(captured) -> set[str]:
    reference = labels_by_provenance(captured, captured.customers, captured.mails)
    reaching = set()
    for source, key in (("customers", "customer_id"), ("mails", "mail_id")):
        frame = getattr(captured, source)
        for column in frame.columns.drop(key):
            changed = frame.assign(**{column: rotated(frame[column])})
            sources = {"customers": captured.customers, "mails": captured.mails, source: changed}
            labels = labels_by_provenance(captured, sources["customers"], sources["mails"])
            common = reference.keys() & labels.keys()
            assert common, f"perturbing {source}.{column} left no row to compare"
            if any(labels[row] != reference[row] for row in common):
                reaching.add(f"{source}.{column}")
    return reaching


def test_label_source_columns_are_those_that_change_labels(captured):
    report = lt.inspect.features(captured)
    assert set(report.label_source_columns) == source_columns_reaching_the_label(captured)
    assert report.label_columns == ("is_premium",)


def test_features_plot_and_json(captured, tmp_path):
    report = lt.inspect.features(captured)
    assert report.plot(tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    as_dict = report.to_dict()
    assert [c["column"] for c in as_dict["columns"]] == list(report.columns)
    assert sum(c["width"] for c in as_dict["columns"]) == report.n_features


@pytest.mark.parametrize("inspection", ["usage", "leakage", "features"])
def test_every_inspection_accepts_the_run_result(captured, inspection):
    assert getattr(lt.inspect, inspection)(captured).run_id == captured.run_id
