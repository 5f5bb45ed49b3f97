"""Comparison of the outputs of the original and the rewrite."""

from __future__ import annotations

import numpy as np

from lester.rewrite.compare import Outputs, compare, normalise


def outputs(rows, X, y, columns=None, **extra):
    return Outputs(columns, rows, np.asarray(X, dtype=float), np.asarray(y, dtype=float), **extra)


def test_types_are_normalised_like_str_output():
    assert normalise("13700.0") == normalise(13700) == normalise(13700.0)
    assert normalise("True") == normalise(True) == 1.0
    assert normalise("") is None and normalise(None) is None and normalise(float("nan")) is None
    assert normalise("P0001") == "P0001" and normalise("526-79-3850") == "526-79-3850"


def test_rows_are_a_multiset_and_X_follows_its_rows():
    original = outputs([["a", "1"], ["a", "1"], ["b", "2"]], [[1.0], [1.0], [2.0]], [0, 0, 1])
    rewrite = outputs([["b", 2], ["a", 1], ["a", 1]], [[2.0], [1.0], [1.0]], [1, 0, 0])
    assert compare(original, rewrite).equivalent


def test_a_missing_duplicate_is_a_difference():
    original = outputs([["a", "1"], ["a", "1"]], [[1.0], [1.0]], [0, 0])
    rewrite = outputs([["a", 1]], [[1.0]], [0], provenance=[[[["s", 3]]]])
    result = compare(original, rewrite)
    assert not result.equivalent
    assert result.only_original == [["a", "1"]] and result.only_rewrite == []


def test_X_blocks_are_named_and_compared_within_tolerance():
    rows = [["a"], ["b"]]
    original = outputs(rows, [[1.0, 0.5, 1.0], [2.0, 0.25, 0.0]], [0, 1])
    close = outputs(rows, [[1.0 + 1e-12, 0.5, 1.0], [2.0, 0.25, 0.0]], [0, 1],
                    blocks=[("scaled", 0, 2), ("onehot", 2, 3)])  # fmt: skip
    assert compare(original, close).equivalent
    far = outputs(rows, [[1.0, 0.5, 0.0], [2.0, 0.25, 0.0]], [0, 1],
                  blocks=[("scaled", 0, 2), ("onehot", 2, 3)])  # fmt: skip
    result = compare(original, far)
    assert [(b.name, b.rows_differing) for b in result.x_blocks] == [("onehot", 1)]
    assert "X block 'onehot' differs in 1 of 2 rows" in result.describe()


def test_y_and_shapes():
    rows = [["a"], ["b"]]
    original = outputs(rows, [[1.0], [2.0]], [0, 1])
    assert compare(original, outputs(rows, [[1.0], [2.0]], [1, 1])).y_rows_differing == 1
    wide = compare(original, outputs(rows, [[1.0, 0.0], [2.0, 0.0]], [0, 1]))
    assert wide.problems == ["X: the original has 1 columns, the rewrite 2"]
    assert not wide.equivalent


def test_undefined_original_cells_are_not_compared_but_noted():
    rows = [["a"], ["b"]]
    original = outputs(rows, [[np.nan], [np.nan]], [0, 1])  # a z-score of a constant
    result = compare(original, outputs(rows, [[0.0], [0.0]], [0, 1]))
    assert result.equivalent and "NaN" in result.notes[0]
    # the other way round is a difference
    assert not compare(outputs(rows, [[0.0], [0.0]], [0, 1]),
                       outputs(rows, [[np.nan], [0.0]], [0, 1])).equivalent  # fmt: skip
