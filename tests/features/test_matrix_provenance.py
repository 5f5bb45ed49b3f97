"""Matrix column provenance of fitted ColumnTransformers, checked by perturbing inputs.

For every input column we change its values (rolling and reversing them, so categoricals
take other existing categories), transform again with the same fitted ColumnTransformer and
check that only ``X`` columns in that column's ranges change. Where the mapping claims to be
exact per column we also check the converse: every ``X`` column in the ranges does change
(columns that no perturbation changes, such as a bias column, are exempt).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import IterativeImputer, KNNImputer, MissingIndicator, SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    SplineTransformer,
    StandardScaler,
    TargetEncoder,
)

from lester.errors import LesterError, UnknownColumnError
from lester.features import FeatureBlock, MatrixColumnProvenance, matrix_column_provenance

NUMERIC = ["n1", "n2", "n3"]
WORDS = ["red", "green", "blue", "cat", "dog", "fish", "tree", "sky", "sun", "rain"]


def _frame(n_rows: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    with_gaps = rng.normal(size=n_rows)
    with_gaps[rng.random(n_rows) < 0.25] = np.nan
    other_gaps = rng.uniform(1, 5, size=n_rows)
    other_gaps[rng.random(n_rows) < 0.2] = np.nan
    # Skewed category frequencies, so min_frequency/max_categories create infrequent ones.
    c1 = rng.choice(["a", "b", "c", "d", "e"], size=n_rows, p=[0.4, 0.3, 0.2, 0.06, 0.04])
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 6))) for _ in range(n_rows)]
    return pd.DataFrame(
        {
            "n1": rng.normal(size=n_rows),
            "n2": rng.uniform(0, 10, size=n_rows),
            "n3": rng.exponential(size=n_rows),
            "m1": with_gaps,
            "m2": other_gaps,
            "c1": c1,
            "c2": rng.choice(["x", "y", "z"], size=n_rows),
            "b": rng.choice(["yes", "no"], size=n_rows),
            "t": texts,
            "empty": np.full(n_rows, np.nan),
        }
    )


FRAME = _frame()
Y_BINARY = (FRAME["n1"] + np.random.default_rng(1).normal(size=len(FRAME)) > 0).astype(int)
Y_MULTICLASS = pd.Series(np.random.default_rng(2).choice(["p", "q", "r"], size=len(FRAME)))


def _perturbations(values: pd.Series) -> list[pd.Series]:
    raw = values.to_numpy()
    return [
        pd.Series(np.roll(raw, 1), index=values.index, dtype=values.dtype),
        pd.Series(np.roll(raw, 7), index=values.index, dtype=values.dtype),
        pd.Series(raw[::-1], index=values.index, dtype=values.dtype),
    ]


def _dense(matrix: object) -> np.ndarray:
    if sparse.issparse(matrix):
        return matrix.toarray()
    return np.asarray(matrix)


def _differs(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    if before.dtype == object or after.dtype == object:
        # Object output (e.g. imputed strings) is compared exactly, NaN equal to NaN.
        return (before != after) & ~(pd.isna(before) & pd.isna(after))
    return ~np.isclose(before, after, equal_nan=True)


def _changed_columns(ct: ColumnTransformer, frame: pd.DataFrame, column: str) -> set[int]:
    baseline = _dense(ct.transform(frame))
    changed: set[int] = set()
    for values in _perturbations(frame[column]):
        perturbed = _dense(ct.transform(frame.assign(**{column: values})))
        changed |= set(np.flatnonzero(_differs(baseline, perturbed).any(axis=0)).tolist())
    return changed


def _indices(ranges: list[tuple[int, int]]) -> set[int]:
    return {j for start, stop in ranges for j in range(start, stop)}


@dataclass(frozen=True)
class Case:
    """A ColumnTransformer to check, and whether its mapping should be exact per column."""

    make: Callable[[], ColumnTransformer]
    exact: bool = True
    y: pd.Series | None = None


class RowStats(TransformerMixin, BaseEstimator):
    """A custom transformer without declared structure: row sum and row maximum."""

    def fit(self, X: pd.DataFrame, y: object = None) -> RowStats:
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        values = np.asarray(X, dtype=float)
        return np.column_stack([values.sum(axis=1), values.max(axis=1)])


def _ct(*transformers: tuple, **kwargs: object) -> Callable[[], ColumnTransformer]:
    return lambda: ColumnTransformer(list(transformers), **kwargs)


def _onehot(**kwargs: object) -> OneHotEncoder:
    return OneHotEncoder(sparse_output=False, **kwargs)


CASES: dict[str, Case] = {
    "standard_scaler": Case(_ct(("s", StandardScaler(), NUMERIC))),
    "minmax_scaler": Case(_ct(("s", MinMaxScaler(), NUMERIC))),
    "maxabs_scaler": Case(_ct(("s", MaxAbsScaler(), NUMERIC))),
    "robust_scaler": Case(_ct(("s", RobustScaler(), NUMERIC))),
    "normalizer": Case(_ct(("s", Normalizer(), NUMERIC))),
    "quantile": Case(_ct(("s", QuantileTransformer(n_quantiles=20), NUMERIC))),
    "power": Case(_ct(("s", PowerTransformer(), NUMERIC))),
    "binarizer": Case(_ct(("s", Binarizer(threshold=0.5), NUMERIC))),
    "kbins_onehot": Case(_ct(("k", KBinsDiscretizer(3, strategy="uniform"), ["n1", "n2"]))),
    "kbins_dense": Case(
        _ct(("k", KBinsDiscretizer(4, encode="onehot-dense", strategy="uniform"), NUMERIC))
    ),
    "kbins_ordinal": Case(
        _ct(("k", KBinsDiscretizer(3, encode="ordinal", strategy="uniform"), ["n1", "n2"]))
    ),
    "polynomial": Case(_ct(("p", PolynomialFeatures(2), NUMERIC))),
    "polynomial_interactions": Case(
        _ct(("p", PolynomialFeatures(3, interaction_only=True, include_bias=False), NUMERIC))
    ),
    "spline": Case(_ct(("s", SplineTransformer(n_knots=4, degree=2), ["n1", "n2"]))),
    "onehot": Case(_ct(("o", _onehot(), ["c1", "c2"]))),
    "onehot_sparse": Case(_ct(("o", OneHotEncoder(), ["c1", "c2", "b"]))),
    "onehot_drop_first": Case(_ct(("o", _onehot(drop="first"), ["c1", "c2", "b"]))),
    "onehot_if_binary": Case(_ct(("o", _onehot(drop="if_binary"), ["c1", "b", "c2"]))),
    "onehot_min_frequency": Case(_ct(("o", _onehot(min_frequency=5), ["c1", "c2"]))),
    "onehot_max_categories": Case(_ct(("o", _onehot(max_categories=3), ["c1", "c2"]))),
    "onehot_infrequent_drop": Case(
        _ct(("o", _onehot(min_frequency=5, drop="first"), ["c2", "c1"]))
    ),
    "onehot_ignore": Case(_ct(("o", _onehot(handle_unknown="ignore"), ["c1", "c2"]))),
    "onehot_infrequent_if_exist": Case(
        _ct(("o", _onehot(handle_unknown="infrequent_if_exist", min_frequency=4), ["c1", "c2"]))
    ),
    "ordinal": Case(_ct(("o", OrdinalEncoder(), ["c1", "c2", "b"]))),
    "target_binary": Case(_ct(("t", TargetEncoder(), ["c1", "c2"])), y=Y_BINARY),
    "target_multiclass": Case(_ct(("t", TargetEncoder(), ["c1", "c2"])), y=Y_MULTICLASS),
    "function_one_column": Case(_ct(("f", FunctionTransformer(np.log1p), ["n2"]))),
    "function_several_columns": Case(
        _ct(("f", FunctionTransformer(np.log1p), ["n2", "n3"])), exact=False
    ),
    "function_identity": Case(_ct(("f", FunctionTransformer(), ["n1", "n2"]))),
    "simple_imputer": Case(_ct(("i", SimpleImputer(), ["m1", "n1", "m2"]))),
    "simple_imputer_indicator": Case(
        _ct(("i", SimpleImputer(add_indicator=True), ["m1", "n1", "m2"]))
    ),
    "simple_imputer_drops_empty": Case(
        _ct(("i", SimpleImputer(add_indicator=True), ["m1", "empty", "n1", "m2"]))
    ),
    "simple_imputer_keeps_empty": Case(
        _ct(("i", SimpleImputer(keep_empty_features=True), ["m1", "empty", "m2"]))
    ),
    "simple_imputer_categorical": Case(
        _ct(("i", SimpleImputer(strategy="most_frequent"), ["c1", "m1"]))
    ),
    "knn_imputer": Case(_ct(("i", KNNImputer(n_neighbors=3), ["m1", "n1", "m2"])), exact=False),
    "knn_imputer_indicator": Case(
        _ct(("i", KNNImputer(n_neighbors=3, add_indicator=True), ["m1", "n1", "m2"])),
        exact=False,
    ),
    "iterative_imputer": Case(
        _ct(("i", IterativeImputer(max_iter=3, add_indicator=True), ["m1", "n1", "m2"])),
        exact=False,
    ),
    "missing_indicator": Case(_ct(("m", MissingIndicator(), ["m1", "n1", "m2"]))),
    "missing_indicator_all": Case(_ct(("m", MissingIndicator(features="all"), ["m1", "n1"]))),
    "count_vectorizer": Case(_ct(("v", CountVectorizer(), "t"), ("s", StandardScaler(), ["n1"]))),
    "tfidf_vectorizer": Case(_ct(("s", StandardScaler(), ["n1"]), ("v", TfidfVectorizer(), "t"))),
    "hashing_vectorizer": Case(
        _ct(("v", HashingVectorizer(n_features=32), "t"), ("o", _onehot(), ["c1"]))
    ),
    "custom_transformer": Case(_ct(("r", RowStats(), ["n1", "n2"])), exact=False),
    "pipeline_impute_scale": Case(
        _ct(("p", make_pipeline(SimpleImputer(), StandardScaler()), ["m1", "n1", "m2"]))
    ),
    "pipeline_impute_onehot": Case(
        _ct(
            (
                "p",
                make_pipeline(SimpleImputer(strategy="most_frequent"), _onehot()),
                ["c1", "c2"],
            )
        )
    ),
    "pipeline_function_polynomial": Case(
        _ct(("p", make_pipeline(FunctionTransformer(np.abs), PolynomialFeatures(2)), NUMERIC)),
        exact=False,
    ),
    "pipeline_scale_polynomial_select": Case(
        _ct(
            (
                "p",
                Pipeline(
                    [
                        ("impute", SimpleImputer(add_indicator=True)),
                        ("skip", "passthrough"),
                        ("poly", PolynomialFeatures(2, include_bias=False)),
                        ("select", VarianceThreshold(0.5)),
                    ]
                ),
                ["m1", "n2"],
            )
        )
    ),
    "several_transformers": Case(
        _ct(
            ("o", _onehot(), ["c1", "c2"]),
            ("s", StandardScaler(), NUMERIC),
            ("o2", _onehot(drop="first"), ["c1"]),
        )
    ),
    "remainder_passthrough": Case(
        _ct(("o", _onehot(), ["c1"]), ("s", StandardScaler(), ["n1"]), remainder="passthrough")
    ),
    "remainder_transformer": Case(
        _ct(
            ("o", _onehot(), ["c1", "c2", "b", "t"]),
            ("d", "drop", ["empty"]),
            remainder=SimpleImputer(add_indicator=True),
        )
    ),
    "drop_and_passthrough": Case(
        _ct(("d", "drop", ["n1"]), ("p", "passthrough", ["n2", "m1"]), ("o", _onehot(), ["b"]))
    ),
    "int_and_slice_specs": Case(
        _ct(
            ("s", StandardScaler(), [0, 2]),
            ("o", _onehot(), [5]),
            ("m", MinMaxScaler(), slice(3, 5)),
            ("v", CountVectorizer(), 8),
        )
    ),
    "label_slice_and_mask_specs": Case(
        _ct(
            ("s", StandardScaler(), slice("n1", "n3")),
            ("m", MinMaxScaler(), FRAME.columns.isin(["m1", "m2"])),
        )
    ),
    "callable_specs": Case(
        _ct(
            ("s", StandardScaler(), make_column_selector(pattern="^n")),
            ("o", _onehot(), make_column_selector(pattern="^c")),
        )
    ),
    "not_verbose_names": Case(
        _ct(
            ("o", _onehot(), ["c1"]),
            ("s", StandardScaler(), ["n1", "n2"]),
            verbose_feature_names_out=False,
        )
    ),
    "sparse_output": Case(
        _ct(
            ("o", OneHotEncoder(), ["c1", "c2"]),
            ("v", TfidfVectorizer(), "t"),
            ("s", StandardScaler(), ["n1"]),
            sparse_threshold=1.0,
        )
    ),
    "nested_column_transformer": Case(
        _ct(
            (
                "inner",
                ColumnTransformer(
                    [("o", _onehot(), ["c1"]), ("s", StandardScaler(), ["n1"])],
                    remainder="passthrough",
                ),
                ["c1", "n1", "n2"],
            )
        )
    ),
    "feature_union": Case(
        _ct(
            (
                "u",
                FeatureUnion([("scale", StandardScaler()), ("pca", PCA(1))]),
                ["n1", "n2", "n3"],
            )
        ),
        exact=False,
    ),
}


def _fitted(case: Case) -> ColumnTransformer:
    ct = case.make()
    return ct.fit(FRAME, case.y) if case.y is not None else ct.fit(FRAME)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("case_id", list(CASES))
def test_perturbing_a_column_changes_only_its_ranges(case_id: str) -> None:
    case = CASES[case_id]
    ct = _fitted(case)
    provenance = matrix_column_provenance(ct)
    n_features = _dense(ct.transform(FRAME)).shape[1]
    assert provenance.n_features == n_features

    changed = {column: _changed_columns(ct, FRAME, column) for column in FRAME.columns}
    fed = {column: _indices(provenance.ranges(column)) for column in FRAME.columns}
    for column in FRAME.columns:
        assert changed[column] <= fed[column], (column, provenance.ranges(column))
    assert set().union(*fed.values()) == set(range(n_features))

    if case.exact:
        constant = set(range(n_features)) - set().union(*changed.values())
        for column in FRAME.columns:
            assert fed[column] <= changed[column] | constant, column


def test_perturbation_detects_a_wrong_mapping() -> None:
    ct = _fitted(CASES["several_transformers"])
    provenance = matrix_column_provenance(ct)
    # Swap the ranges of c1 and n1: the subset check must notice.
    wrong = {"c1": provenance.ranges("n1"), "n1": provenance.ranges("c1")}
    for column, ranges in wrong.items():
        assert not _changed_columns(ct, FRAME, column) <= _indices(ranges)


@pytest.mark.parametrize("case_id", ["onehot", "several_transformers", "not_verbose_names"])
def test_feature_names_match_the_column_transformer(case_id: str) -> None:
    ct = _fitted(CASES[case_id])
    provenance = matrix_column_provenance(ct)
    names = ct.get_feature_names_out()
    for block in provenance.blocks:
        assert list(block.feature_names) == list(names[block.start : block.stop])
    for column in provenance.columns():
        expected = [
            names[j] for start, stop in provenance.ranges(column) for j in range(start, stop)
        ]
        assert provenance.feature_names(column) == expected


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("case_id", list(CASES))
def test_feature_names_slice_the_column_transformer_names(case_id: str) -> None:
    ct = _fitted(CASES[case_id])
    provenance = matrix_column_provenance(ct)
    try:
        names = list(ct.get_feature_names_out())
    except AttributeError:
        # Some transformer cannot name its outputs: every block names its own, prefixed.
        for block in provenance.blocks:
            assert all(n.startswith(f"{block.transformer}__") for n in block.feature_names)
        return
    assert [n for block in provenance.blocks for n in block.feature_names] == names


def test_feature_names_fall_back_to_positions() -> None:
    ct = _fitted(CASES["custom_transformer"])
    provenance = matrix_column_provenance(ct)
    assert provenance.feature_names("n1") == ["r__0", "r__1"]


def test_one_hot_encoder_over_two_columns_is_split_per_column() -> None:
    ct = ColumnTransformer([("o", _onehot(drop="if_binary"), ["c1", "b"])]).fit(FRAME)
    provenance = matrix_column_provenance(ct)
    assert provenance.ranges("c1") == [(0, 5)]
    assert provenance.ranges("b") == [(5, 6)]
    assert provenance.columns_of_feature(5) == ["b"]


def test_polynomial_features_follow_powers() -> None:
    ct = ColumnTransformer([("p", PolynomialFeatures(2), ["n1", "n2"])]).fit(FRAME)
    provenance = matrix_column_provenance(ct)
    # 1, n1, n2, n1^2, n1 n2, n2^2; the constant bias column is attributed to both inputs.
    assert provenance.ranges("n1") == [(0, 2), (3, 5)]
    assert provenance.ranges("n2") == [(0, 1), (2, 3), (4, 6)]
    assert provenance.columns_of_feature(0) == ["n1", "n2"]


def test_column_transformer_fitted_on_numpy_names_inputs_by_position() -> None:
    values = FRAME[NUMERIC].to_numpy()
    ct = ColumnTransformer(
        [("s", StandardScaler(), [0, 2]), ("k", KBinsDiscretizer(3, strategy="uniform"), [1])]
    ).fit(values)
    provenance = matrix_column_provenance(ct)
    assert provenance.input_columns == ("x0", "x1", "x2")
    assert provenance.ranges("x1") == [(2, 5)]
    assert provenance.ranges("x2") == [(1, 2)]


def test_dropped_column_is_known_but_feeds_nothing() -> None:
    ct = _fitted(CASES["drop_and_passthrough"])
    provenance = matrix_column_provenance(ct)
    assert provenance.ranges("n1") == []
    assert provenance.ranges("c1") == []
    assert provenance.columns() == ["n2", "m1", "b"]


def test_round_trip_through_json() -> None:
    provenance = matrix_column_provenance(_fitted(CASES["sparse_output"]))
    data = json.loads(json.dumps(provenance.to_dict()))
    assert data["columns"]["c2"] == [list(r) for r in provenance.ranges("c2")]
    restored = MatrixColumnProvenance.from_dict(data)
    assert restored == provenance
    assert restored.ranges("t") == provenance.ranges("t")


def test_from_dict_rejects_inconsistent_columns() -> None:
    data = matrix_column_provenance(_fitted(CASES["onehot"])).to_dict()
    data["columns"]["c1"] = [[0, 1]]
    with pytest.raises(ValueError, match="columns"):
        MatrixColumnProvenance.from_dict(data)


def test_blocks_must_tile_the_matrix() -> None:
    with pytest.raises(ValueError, match="tile"):
        MatrixColumnProvenance((FeatureBlock("t", ("a",), 1, 2, ("p",)),), 2)


def test_unknown_column_names_the_column_and_the_known_ones() -> None:
    provenance = matrix_column_provenance(_fitted(CASES["onehot"]))
    with pytest.raises(UnknownColumnError) as raised:
        provenance.ranges("nope")
    message = str(raised.value)
    assert "'nope'" in message
    assert all(f"'{column}'" in message for column in FRAME.columns)
    assert isinstance(raised.value, KeyError)
    assert isinstance(raised.value, LesterError)
    with pytest.raises(UnknownColumnError, match="nope"):
        provenance.feature_names("nope")


def test_feature_index_out_of_range() -> None:
    provenance = matrix_column_provenance(_fitted(CASES["onehot"]))
    with pytest.raises(IndexError):
        provenance.columns_of_feature(provenance.n_features)


def test_hashing_vectorizer_with_many_features_stays_compact() -> None:
    ct = ColumnTransformer([("v", HashingVectorizer(), "t")]).fit(FRAME)
    provenance = matrix_column_provenance(ct)
    assert provenance.ranges("t") == [(0, 2**20)]
    assert len(provenance.blocks) == 1
