"""Model updates after training rows are removed, changed or added, checked against real
refits and retrains of scikit-learn models and a small skorch network."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from lester.errors import LesterError
from lester.maintenance.unlearning import (
    SUPPORTED,
    InvalidDeltaError,
    InvalidUpdateOptionError,
    TrainingDelta,
    UnsupportedModelError,
    update_model,
)

try:
    import skorch
    import torch
except ImportError:  # the scikit-learn tests still run
    skorch = torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch and skorch")


@pytest.fixture(autouse=True, scope="module")
def single_threaded() -> Iterator[None]:
    """One BLAS (and torch) thread: these problems are tiny, and on a busy machine idle
    threads spinning for work make them many times slower."""
    threads = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=1):
        if torch:
            torch.set_num_threads(1)
        yield
        if torch:
            torch.set_num_threads(threads)


def regression_data(n: int = 300, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(loc=3.0, size=(n, d))  # off-centre, so the intercept matters
    return X, X @ rng.normal(size=d) + rng.normal(size=n)


def mixed_delta(X: np.ndarray, y: np.ndarray, new_labels: np.ndarray) -> TrainingDelta:
    """Removes 4 rows, changes 5 (features and labels) and adds 3."""
    rng = np.random.default_rng(1)
    return TrainingDelta(
        X,
        y,
        removed=[1, 5, 9, 100],
        changed=[2, 3, 4, 7, 8],
        X_changed=X[[10, 11, 12, 13, 14]] * 1.5,
        y_changed=new_labels[:5],
        X_added=np.abs(rng.normal(loc=3.0, size=(3, X.shape[1]))),
        y_added=new_labels[5:8],
    )


def refit(model, delta: TrainingDelta):
    return clone(model).fit(delta.X_after(), delta.y_after())


# ---------------------------------------------------------------------------- delta
def test_delta_after_applies_removals_changes_and_additions_in_order() -> None:
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    delta = TrainingDelta(
        X,
        y,
        removed=[3, 0],
        changed=[4],
        X_changed=[[-1.0, -1.0]],
        X_added=[[7.0, 7.0]],
        y_added=[9],
    )
    assert delta.X_after().tolist() == [[2, 3], [4, 5], [-1, -1], [7, 7]]
    assert delta.y_after().tolist() == [1, 2, 4, 9]
    assert (delta.num_rows_after, delta.is_empty) == (4, False)


def test_delta_after_works_on_sparse_matrices() -> None:
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    options = {"removed": [3, 0], "changed": [4], "X_changed": [[-1.0, 0.0]], "y_changed": [8]}
    dense, sparse = TrainingDelta(X, y, **options), TrainingDelta(sp.csr_matrix(X), y, **options)
    assert sp.issparse(sparse.X_after())
    np.testing.assert_array_equal(sparse.X_after().toarray(), dense.X_after())
    np.testing.assert_array_equal(sparse.y_after(), [1, 2, 8])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"removed": [5]}, "must lie in"),
        ({"removed": [1, 1]}, "duplicates"),
        ({"removed": [1], "changed": [1]}, "both removed and changed"),
        ({"changed": [1], "X_changed": np.zeros((2, 2))}, "X_changed/y_changed must have 1 rows"),
        ({"X_added": np.zeros((1, 3)), "y_added": [0]}, "of 2 features"),
    ],
)
def test_delta_rejects_positions_and_shapes_that_do_not_fit(options: dict, message: str) -> None:
    with pytest.raises(InvalidDeltaError, match=message):
        TrainingDelta(np.zeros((5, 2)), np.zeros(5), **options)


# ---------------------------------------------------------------------------- exact methods
@pytest.mark.parametrize(
    "model",
    [Ridge(alpha=2.0), Ridge(alpha=0.5, fit_intercept=False), LinearRegression()],
    ids=["ridge", "ridge-no-intercept", "linear-regression"],
)
def test_linear_regressors_match_a_refit_exactly(model) -> None:
    X, y = regression_data()
    delta = mixed_delta(X, y, np.random.default_rng(2).normal(size=8))
    updated, report = update_model(model.fit(X, y), delta)
    expected = refit(model, delta)
    np.testing.assert_allclose(updated.coef_, expected.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(updated.intercept_, expected.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(updated.predict(X), expected.predict(X), rtol=0, atol=1e-8)
    assert (report.method, report.retrained, report.gradient_residual) == (
        "exact-refit-linear",
        False,
        None,
    )
    assert (report.rows_removed, report.rows_changed, report.rows_added) == (4, 5, 3)


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_ridge_classifier_matches_a_refit_exactly(class_weight) -> None:
    X, target = regression_data()
    y = np.digitize(target, np.quantile(target, [0.3, 0.6]))  # three classes
    delta = mixed_delta(X, y, np.array([0, 1, 2, 2, 0, 1, 2, 2]))
    model = RidgeClassifier(class_weight=class_weight).fit(X, y)
    updated, _ = update_model(model, delta)
    expected = refit(model, delta)
    np.testing.assert_allclose(updated.coef_, expected.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(updated.intercept_, expected.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(updated.predict(X), expected.predict(X))


def test_ridge_on_sparse_features_matches_a_dense_refit() -> None:
    X, y = regression_data()
    X = np.where(X > 3.5, X, 0.0)
    delta = mixed_delta(X, y, np.zeros(8))
    sparse_delta = TrainingDelta(
        sp.csr_matrix(X),
        y,
        removed=delta.removed,
        changed=delta.changed,
        X_changed=delta.X_changed,
        y_changed=delta.y_changed,
        X_added=delta.X_added,
        y_added=delta.y_added,
    )
    updated, _ = update_model(Ridge().fit(sp.csr_matrix(X), y), sparse_delta)
    expected = refit(Ridge(), delta)  # dense: sklearn's sparse solver is only iterative
    np.testing.assert_allclose(updated.coef_, expected.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(updated.intercept_, expected.intercept_, rtol=0, atol=1e-8)


NAIVE_BAYES = {
    GaussianNB(): ["theta_", "var_", "epsilon_", "class_count_", "class_prior_"],
    MultinomialNB(alpha=0.5): ["feature_count_", "class_count_", "feature_log_prob_"],
    BernoulliNB(binarize=3.0): ["feature_count_", "class_count_", "feature_log_prob_"],
    ComplementNB(norm=True): ["feature_count_", "feature_all_", "feature_log_prob_"],
}


@pytest.mark.parametrize("model", list(NAIVE_BAYES), ids=lambda model: type(model).__name__)
def test_naive_bayes_matches_a_refit_exactly(model) -> None:
    X, target = regression_data()
    X = np.abs(X)  # the discrete models need non-negative features
    y = np.digitize(target, np.quantile(target, [0.3, 0.6]))
    delta = mixed_delta(X, y, np.array([0, 1, 2, 2, 0, 1, 2, 2]))
    updated, report = update_model(model.fit(X, y), delta)
    expected = refit(model, delta)
    for attribute in NAIVE_BAYES[model]:
        np.testing.assert_allclose(
            getattr(updated, attribute), getattr(expected, attribute), rtol=1e-10, atol=1e-10
        )
    np.testing.assert_allclose(updated.predict_proba(X), expected.predict_proba(X), atol=1e-10)
    assert (report.method, report.retrained) == ("exact-naive-bayes", False)


def test_naive_bayes_retrains_when_a_class_loses_all_rows() -> None:
    X, _ = regression_data(n=60)
    y = np.array([0] * 57 + [1] * 3)
    delta = TrainingDelta.removal(X, y, [57, 58, 59])
    updated, report = update_model(GaussianNB().fit(X, y), delta)
    assert report.retrained and report.method == "retrain"
    assert "lose all rows" in report.reason
    np.testing.assert_array_equal(updated.classes_, [0])


def test_exact_updates_leave_the_input_model_unchanged() -> None:
    X, y = regression_data()
    model = Ridge().fit(X, y)
    coef = model.coef_.copy()
    updated, _ = update_model(model, TrainingDelta.removal(X, y, np.arange(50)))
    np.testing.assert_array_equal(model.coef_, coef)
    assert updated is not model


# ---------------------------------------------------------------------------- logistic
def classification_data(n: int, d: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=d) + 0.3
    return X, (rng.random(n) < 1.0 / (1.0 + np.exp(-logits))).astype(int)


def parameters(model) -> np.ndarray:
    return np.append(model.coef_.ravel(), model.intercept_)


@pytest.fixture(scope="module")
def logistic() -> dict:
    X, y = classification_data(3000)
    X_test, _ = classification_data(2000, seed=1)
    model = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    return {"X": X, "y": y, "X_test": X_test, "model": model}


def logistic_delta(data: dict, kind: str) -> TrainingDelta:
    X, y, n = data["X"], data["y"], len(data["y"])
    rows = np.random.default_rng(3).choice(n, size=int(0.03 * n), replace=False)
    if kind == "removed":
        return TrainingDelta.removal(X, y, rows)
    return TrainingDelta(X, y, changed=rows, X_changed=X[rows] * 0.5, y_changed=1 - y[rows])


@pytest.mark.parametrize("kind", ["removed", "changed"])
def test_logistic_newton_update_lands_on_the_refit_model(logistic: dict, kind: str) -> None:
    delta = logistic_delta(logistic, kind)
    model = logistic["model"]
    updated, report = update_model(model, delta)
    expected = refit(model, delta)
    no_update = np.linalg.norm(parameters(model) - parameters(expected))
    assert np.linalg.norm(parameters(updated) - parameters(expected)) <= 0.05 * no_update
    agreement = np.mean(updated.predict(logistic["X_test"]) == expected.predict(logistic["X_test"]))
    assert agreement >= 0.999
    assert report.method == "newton" and not report.retrained
    assert report.gradient_norm < 1e-8 and report.gradient_residual < 1e-2


def test_logistic_update_handles_liblinear_and_class_weights(logistic: dict) -> None:
    delta = logistic_delta(logistic, "removed")
    for model in [
        LogisticRegression(solver="liblinear", tol=1e-10, intercept_scaling=2.0),
        LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=1000),
    ]:
        model.fit(logistic["X"], logistic["y"])
        updated, _ = update_model(model, delta)
        expected = refit(model, delta)
        np.testing.assert_allclose(parameters(updated), parameters(expected), atol=1e-5)


def test_multiclass_logistic_regression_is_unsupported_unless_retraining() -> None:
    X, target = regression_data()
    y = np.digitize(target, np.quantile(target, [0.3, 0.6]))
    model = LogisticRegression(max_iter=1000).fit(X, y)
    delta = TrainingDelta.removal(X, y, [0, 1])
    with pytest.raises(UnsupportedModelError, match="3 classes"):
        update_model(model, delta)
    updated, report = update_model(model, delta, allow_retrain=True)
    assert report.retrained and report.method == "retrain"
    np.testing.assert_allclose(updated.coef_, refit(model, delta).coef_)


# ---------------------------------------------------------------------------- dispatch
def test_unsupported_kind_raises_an_error_listing_the_supported_kinds() -> None:
    X, y = classification_data(100)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    with pytest.raises(UnsupportedModelError) as caught:
        update_model(model, TrainingDelta.removal(X, y, [0]))
    assert isinstance(caught.value, LesterError)
    for kind in SUPPORTED:
        assert kind in str(caught.value)
    assert "DecisionTreeClassifier" in str(caught.value)


def test_allow_retrain_retrains_an_unsupported_kind() -> None:
    X, y = classification_data(100)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    delta = TrainingDelta.removal(X, y, np.arange(10))
    updated, report = update_model(model, delta, allow_retrain=True)
    assert (report.method, report.retrained) == ("retrain", True)
    assert "allow_retrain" in report.reason and report.gradient_residual is None
    np.testing.assert_array_equal(updated.predict(X), refit(model, delta).predict(X))
    created, _ = update_model(
        model, delta, allow_retrain=True, create_model=lambda d: DecisionTreeClassifier(max_depth=1)
    )
    assert created.get_depth() == 1


def test_compare_retrain_measures_the_retraining(logistic: dict) -> None:
    _, report = update_model(
        logistic["model"], logistic_delta(logistic, "removed"), compare_retrain=True
    )
    assert report.retrain_seconds > 0 and report.speedup == pytest.approx(
        report.retrain_seconds / report.seconds
    )
    assert report.method == "newton"  # the updated model is returned, not the retrained one
    assert set(report.to_dict()) >= {"method", "gradient_residual", "speedup", "reason"}


def test_an_empty_delta_changes_nothing() -> None:
    X, y = regression_data()
    model = Ridge().fit(X, y)
    updated, report = update_model(model, TrainingDelta(X, y))
    assert report.method == "none" and not report.retrained
    np.testing.assert_array_equal(updated.coef_, model.coef_)


def test_unknown_line_search_is_rejected() -> None:
    X, y = regression_data()
    with pytest.raises(InvalidUpdateOptionError, match="line_search"):
        update_model(Ridge().fit(X, y), TrainingDelta(X, y), line_search="best")


# ---------------------------------------------------------------------------- skorch
if torch is not None:

    class SmallMLP(torch.nn.Module):
        """The example's network shape (one hidden ReLU layer, two logits), smaller."""

        def __init__(self, num_features: int, hidden_units: int = 16) -> None:
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(num_features, hidden_units),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden_units, 2),
            )

        def forward(self, X):
            return self.layers(X)


def create_mlp(num_features: int, module: type | None = None):
    """The example's training set-up: Adam, lr 0.01, 10 epochs, shuffled batches of 128."""
    return skorch.NeuralNetClassifier(
        module or SmallMLP,
        module__num_features=num_features,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=10,
        batch_size=128,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )


def train_mlp(X: np.ndarray, y: np.ndarray, seed: int = 42):
    """Seeded like ``update_model``'s retrains: same seed, same initial weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return create_mlp(X.shape[1]).fit(X, y)


def flat(net) -> np.ndarray:
    return torch.nn.utils.parameters_to_vector(net.module_.parameters()).detach().double().numpy()


def retained_loss(net, delta: TrainingDelta) -> float:
    X = torch.from_numpy(delta.X_after().astype(np.float32))
    with torch.no_grad():
        logits = net.module_(X)
        return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(delta.y_after())))


@pytest.fixture(scope="module")
def mlp() -> dict:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 20)).astype(np.float32)
    y = ((X @ rng.normal(size=20)) / np.sqrt(20) * 3 + rng.normal(size=600) > 0).astype(np.int64)
    return {"X": X, "y": y, "model": train_mlp(X, y)}


def mlp_delta(data: dict, draw: int) -> TrainingDelta:
    rows = np.random.default_rng(draw).choice(len(data["y"]), size=18, replace=False)  # 3%
    return TrainingDelta.removal(data["X"], data["y"], rows)


@needs_torch
def test_mlp_line_search_never_worsens_the_retained_loss(mlp: dict) -> None:
    model = mlp["model"]
    before = flat(model)
    for second_order in (False, True):
        delta = mlp_delta(mlp, draw=1)
        updated, report = update_model(model, delta, second_order=second_order)
        assert report.method == ("lissa" if second_order else "first-order")
        assert retained_loss(updated, delta) <= retained_loss(model, delta) + 1e-6
        assert report.step >= 0 and not report.retrained
        assert report.gradient_residual < 2.0
    np.testing.assert_array_equal(flat(model), before)  # the input network is not modified


@needs_torch
def test_mlp_update_moves_towards_the_retrained_model_and_a_unit_step_does_not(mlp: dict) -> None:
    """Distances to the model retrained on the retained rows from the same initial weights
    (same torch seed). Shuffled mini-batches make that retrain differ from the original by
    noise far larger than the deletion's effect, so the line-searched update can only shave
    off a little; a fixed step of 1 lands several times farther away than no update."""
    model = mlp["model"]
    ratios, unit_ratios = [], []
    for draw in range(3):
        delta = mlp_delta(mlp, draw)
        retrained = flat(train_mlp(delta.X_after(), delta.y_after()))
        no_update = np.linalg.norm(flat(model) - retrained)
        updated, _ = update_model(model, delta)
        unit, report = update_model(model, delta, step=1.0, budget=np.inf)
        ratios.append(np.linalg.norm(flat(updated) - retrained) / no_update)
        unit_ratios.append(np.linalg.norm(flat(unit) - retrained) / no_update)
        assert retained_loss(unit, delta) > retained_loss(model, delta) + 0.05
        assert report.step == 1.0
    assert max(ratios) <= 1.0 + 1e-4 and np.mean(ratios) < 1.0
    assert min(unit_ratios) > 2.0


@needs_torch
def test_mlp_update_over_budget_retrains_from_the_same_seed(mlp: dict) -> None:
    delta = mlp_delta(mlp, draw=0)
    updated, report = update_model(mlp["model"], delta, step=1.0, create_model=create_mlp)
    assert (report.method, report.retrained) == ("retrain", True)
    assert "budget" in report.reason and "first-order" in report.reason
    retrained = train_mlp(delta.X_after(), delta.y_after())
    np.testing.assert_allclose(flat(updated), flat(retrained), atol=1e-6)


@needs_torch
def test_mlp_with_an_unpicklable_module_class_is_copied_by_its_weights(mlp: dict) -> None:
    class Local(SmallMLP):  # defined in a function: deepcopy cannot pickle it
        pass

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        model = create_mlp(20, module=Local).fit(mlp["X"], mlp["y"])
    before = flat(model)
    updated, report = update_model(model, mlp_delta(mlp, draw=1), step=1e-4, budget=np.inf)
    assert updated is not model and report.method == "first-order"
    np.testing.assert_array_equal(flat(model), before)
    assert 0 < np.linalg.norm(flat(updated) - before) < 1


@needs_torch
def test_mlp_tilted_line_search_and_compare_retrain(mlp: dict) -> None:
    delta = mlp_delta(mlp, draw=1)
    _, report = update_model(mlp["model"], delta, line_search="tilted", compare_retrain=True)
    assert report.method == "first-order" and report.step > 0
    assert report.retrain_seconds > 0 and report.speedup > 0


@needs_torch
def test_line_search_objective_reuses_the_input_layer_and_equals_the_plain_objective(
    mlp: dict,
) -> None:
    from lester.maintenance.unlearning import _AlongDirection, _Network, _TorchData

    network = _Network(copy.deepcopy(mlp["model"]))
    data = _TorchData.of(mlp["X"], mlp["y"])
    theta = network.vector().double()
    direction = torch.from_numpy(np.random.default_rng(0).normal(size=theta.numel()))
    along = _AlongDirection(network, [data], theta, direction)
    for tau in (0.0, 1e-3, 0.1, 0.0):
        value = along.losses(tau)[0] / len(data) + along.penalty(tau)
        network.assign((theta - tau * direction).float())
        assert value == pytest.approx(network.objective(data), rel=1e-5)
    # One cached product pair: the input layer's, for the one batch; the hidden layer
    # (whose input changes with tau) is evaluated every time.
    assert len(along._products) == 1
    assert type(network.net.module_.layers[0]).forward is torch.nn.Linear.forward
    assert "forward" not in vars(network.net.module_.layers[0])


@needs_torch
def test_line_search_over_several_data_sets_runs_one_pass_and_equals_each_sets_loss(
    mlp: dict,
) -> None:
    from lester.maintenance.unlearning import _AlongDirection, _Network, _TorchData

    network = _Network(copy.deepcopy(mlp["model"]))
    sets = [
        _TorchData.of(mlp["X"][:50], mlp["y"][:50]),
        _TorchData.of(mlp["X"][:0], mlp["y"][:0]),  # no rows enter (a deletion)
        _TorchData.of(mlp["X"][50:57], mlp["y"][50:57]),
    ]
    theta = network.vector().double()
    direction = torch.from_numpy(np.random.default_rng(1).normal(size=theta.numel()))
    along = _AlongDirection(network, sets, theta, direction)
    for tau in (0.0, 1e-2, 0.3):
        losses = along.losses(tau)
        network.assign((theta - tau * direction).float())
        assert losses == pytest.approx([network.summed_loss(data) for data in sets], rel=1e-5)
        assert losses[1] == 0.0
    assert len(along._products) == 1  # the stacked rows: one input-layer product pair


@needs_torch
def test_mlp_update_in_place_changes_the_given_network_and_matches_a_copying_update(
    mlp: dict,
) -> None:
    delta = mlp_delta(mlp, draw=2)
    copied, copied_report = update_model(mlp["model"], delta)
    own = copy.deepcopy(mlp["model"])

    updated, report = update_model(own, delta, in_place=True)

    assert updated is own and report.step == copied_report.step
    np.testing.assert_array_equal(flat(own), flat(copied))


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "creditcard" / "pipeline.py"


@pytest.fixture(scope="module")
def example_create_model() -> Any:
    """``create_model`` of the example pipeline (converged tanh network, L2 by L-BFGS)."""
    from lester.pipeline import load_pipeline

    return load_pipeline(EXAMPLE).module.create_model


@needs_torch
def test_converged_example_network_is_updated_not_retrained(example_create_model) -> None:
    """The example's network is trained to a stationary point, so its own gradient is ~0;
    the update's residual is measured against what no update leaves, and the line-searched
    first-order step lands closer to the from-scratch retrain (same initial weights)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 20)).astype(np.float32)
    y = (X @ rng.normal(size=20) / np.sqrt(20) * 3 + rng.normal(size=2000) > 0).astype(np.int64)

    def train(X: np.ndarray, y: np.ndarray):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(42)
            return example_create_model(X.shape[1]).fit(X, y)

    model = train(X, y)
    ratios = []
    for draw in range(3):
        delta = TrainingDelta.removal(X, y, np.random.default_rng(draw).choice(2000, 20, False))
        updated, report = update_model(model, delta, create_model=example_create_model)
        assert (report.method, report.retrained) == ("first-order", False)
        assert report.gradient_residual < 1.0 and report.step > 0
        retrained = flat(train(delta.X_after(), delta.y_after()))
        ratios.append(
            np.linalg.norm(flat(updated) - retrained) / np.linalg.norm(flat(model) - retrained)
        )
    assert max(ratios) < 1.0


@needs_torch
def test_a_sampled_update_of_the_converged_network_follows_the_whole_retained_objective(
    example_create_model,
) -> None:
    """What forget-values does: X_before holds the removed rows and a sample of the others,
    and ``rows_before`` the training set's size. The line search then estimates the whole
    retained objective and picks the step the whole data gives; on the raw sample objective
    the sample's own gradient noise, not the deletion, picks the step."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4000, 20)).astype(np.float32)
    y = (X @ rng.normal(size=20) / np.sqrt(20) * 3 + rng.normal(size=4000) > 0).astype(np.int64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        model = example_create_model(20).fit(X, y)
    removed = rng.choice(4000, 40, replace=False)
    sample = np.union1d(rng.choice(np.setdiff1d(np.arange(4000), removed), 256, False), removed)
    sampled = TrainingDelta.removal(X[sample], y[sample], np.searchsorted(sample, removed))
    whole = TrainingDelta.removal(X, y, removed)

    _, reference = update_model(model, whole)
    estimated, report = update_model(model, sampled, rows_before=4000)
    _, raw = update_model(model, sampled)

    assert reference.step > 0 and not report.retrained
    assert report.step == pytest.approx(reference.step, rel=0.5)
    assert raw.step != pytest.approx(reference.step, rel=0.5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(42)
        retrained = flat(example_create_model(20).fit(whole.X_after(), whole.y_after()))
    assert np.linalg.norm(flat(estimated) - retrained) < np.linalg.norm(flat(model) - retrained)


@needs_torch
@pytest.mark.parametrize("step", [0.0, 0.05])
def test_mlp_report_gives_the_gradient_norm_on_the_retained_rows(mlp: dict, step: float) -> None:
    from lester.maintenance.unlearning import _Network, _TorchData

    delta = mlp_delta(mlp, draw=2)
    updated, report = update_model(mlp["model"], delta, step=step, budget=np.inf)
    retained = _TorchData.of(delta.X_after(), delta.y_after())
    expected = float(_Network(updated).objective_gradient(retained).norm())
    assert report.step == step
    assert report.gradient_norm == pytest.approx(expected, rel=1e-4)
