"""Record usage (task T2) against the leave-one-out ground truth of re-running the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

import lester as lt


def test_usage_flags_and_counts_match_rerunning_without_each_tuple(captured, tuple_rows):
    report = lt.inspect.usage(captured.run_id, captured.store)
    assert sorted(report.sources) == ["customers", "mails"]
    for source, truth in tuple_rows.items():
        usage = report.sources[source]
        assert usage.keys.tolist() == truth["key"].tolist()  # source order
        np.testing.assert_array_equal(usage.train_rows, truth["train_rows"])
        np.testing.assert_array_equal(usage.test_rows, truth["test_rows"])
        np.testing.assert_array_equal(usage.in_train, truth["train_rows"] > 0)
        np.testing.assert_array_equal(usage.in_test, truth["test_rows"] > 0)
        unused = (truth["train_rows"] == 0) & (truth["test_rows"] == 0)
        assert usage.unused_keys() == truth["key"][unused].tolist()
        assert usage.train_keys() == truth["key"][truth["train_rows"] > 0].tolist()


def test_the_fixture_has_used_and_unused_tuples_of_both_kinds(tuple_rows):
    # US customers and low-score mails are filtered out; the rest reach a split.
    for truth in tuple_rows.values():
        used = (truth["train_rows"] + truth["test_rows"]) > 0
        assert used.any() and not used.all()
        assert (truth["train_rows"] > 0).any() and (truth["test_rows"] > 0).any()


def test_usage_of_a_run_result_and_of_latest_is_the_same(captured):
    by_id = lt.inspect.usage(captured.run_id, captured.store).to_frame()
    latest = lt.inspect.usage("latest", str(captured.store.root)).to_frame()
    pd.testing.assert_frame_equal(by_id, latest)


def test_usage_parquet_holds_one_row_per_source_tuple(captured, tuple_rows, tmp_path):
    report = lt.inspect.usage(captured.run_id, captured.store)
    written = pd.read_parquet(report.to_parquet(tmp_path / "usage.parquet"))
    for source, truth in tuple_rows.items():
        rows = written[written["source"] == source]
        assert rows["key"].tolist() == truth["key"].astype(str).tolist()
        assert rows["in_train"].tolist() == (truth["train_rows"] > 0).tolist()
        assert rows["in_test"].tolist() == (truth["test_rows"] > 0).tolist()


def test_usage_plot_is_a_png(captured, tmp_path):
    path = lt.inspect.usage(captured.run_id, captured.store).plot(tmp_path / "usage.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_usage_after_forget_rows_equals_rerunning_without_the_tuples(tmp_path):
    from tests.inspection.conftest import capture

    from lester.maintenance import Selection, forget_rows

    captured = capture(tmp_path / "forget")
    before = lt.inspect.usage(captured).sources["customers"]
    gone = before.train_keys()[:2] + before.test_keys()[-1:]
    selection = Selection("customers", keys=tuple(gone))
    forget_rows(captured.store, captured.run_id, selection)  # the scan is not tested here
    after = lt.inspect.usage(captured)
    customers = captured.customers[~captured.customers["customer_id"].isin(gone)]
    train, test = captured.rerun(customers, captured.mails)
    forgotten = before.keys.isin(gone)
    kept = after.sources["customers"].keys
    assert kept[~forgotten].tolist() == before.keys[~forgotten].tolist()  # positions stay
    assert kept[forgotten].isna().all()  # maintenance drops the forgotten keys themselves
    assert not after.sources["customers"].in_train[forgotten].any()
    assert not after.sources["customers"].in_test[forgotten].any()
    assert after.to_dict()["sources"]["customers"]["unused_keys"].count(None) == len(gone)
    assert after.sources["customers"].train_rows.sum() == len(train)
    assert after.sources["customers"].test_rows.sum() == len(test)
