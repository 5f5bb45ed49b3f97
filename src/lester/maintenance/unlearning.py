"""Update a trained model after training rows were removed, changed or added ("unlearning").

When maintenance deletes or corrects source tuples, Lester updates the training data and the
feature matrix ``X``; :func:`update_model` then brings the trained model up to date without
retraining it from scratch (Lester paper, section 3.3). The method depends on the model's
exact type (:data:`SUPPORTED`):

- ``exact-refit-linear`` (``LinearRegression``, ``Ridge``, ``RidgeClassifier``): the closed
  form on the retained rows, centred as sklearn centres them. Exact, whatever solver fitted
  the model, at the cost of sklearn's direct solvers (``O(n d^2 + d^3)``).
- ``exact-naive-bayes`` (``GaussianNB``, ``MultinomialNB``, ``BernoulliNB``,
  ``ComplementNB``): the per-class counts, sums and (for ``GaussianNB``) means and squared
  deviations are downdated with the leaving rows and updated with the entering ones, in
  ``O(k d)`` for ``k`` affected rows; ``GaussianNB``'s ``epsilon_`` is recomputed from the
  pooled per-class moments. Exact.
- ``newton`` (binary ``LogisticRegression`` with an L2 penalty or none, any solver): Newton
  steps from the old parameters on sklearn's objective for the retained rows,
  ``C * sum_i s_i * logloss_i + ||w||^2 / 2`` (``s_i`` from ``class_weight``; the intercept
  unpenalised except under liblinear), until the gradient of the averaged objective is
  below ``1e-10``: at most 5 Hessians (``O(n d^2)`` each), reused while steps converge fast.
  Removed rows get weight 0 instead of being copied out of ``X``.
- ``first-order`` / ``lissa`` (skorch ``NeuralNetClassifier``): Warnecke et al., "Machine
  Unlearning of Features and Labels" (NDSS 2023): ``theta - tau * (grad L(Z_new) -
  grad L(Z_old))`` with ``L`` the *sum* of per-sample losses over the affected rows only
  (removed rows leave, changed rows swap old for new values, added rows enter). ``tau`` comes
  from a line search on the retained-data training objective over ``{0} | 10^-6..10^3 / n``
  (a fixed step of 1 lands far from the retrained model). ``second_order=True``
  preconditions the gradient difference with a LiSSA inverse-Hessian-vector product on
  mini-batches of the retained rows (``tau`` then searched around 1). When
  ``X_before`` is only a sample of the training set (``rows_before``, as maintenance passes
  it), the search runs on an estimate of the whole retained objective instead (see
  :func:`update_model`).

Other kinds raise :class:`UnsupportedModelError` listing the supported ones, unless
``allow_retrain=True``. The input model is not modified (unless a network is updated
``in_place``): the result is an updated deep copy (or a freshly trained model). Models must
have been fitted without ``sample_weight`` (``class_weight`` is honoured) on the rows of
:attr:`TrainingDelta.X_before`. Exact methods match a refit on the retained rows up to
rounding (about ``1e-12`` for float64 inputs).

**Gradient residual and budget.** For ``newton``, ``first-order`` and ``lissa``,
:class:`UpdateReport` gives ``gradient_norm``, the norm of the gradient of the *per-sample
averaged* training objective of the retained rows at the updated parameters, and
``gradient_residual``, that norm *relative* to the original model's gradient norm on its
own training data (floored at ``1e-8``): ``1`` means the updated model is as close to a
stationary point of its new objective as the original was of its old one. For networks the
reference is the larger of that norm and the gradient norm of the retained rows' objective
at the original parameters (what no update leaves): a network trained to convergence is
stationary on its old data, and an update is not asked to beat what the deletion itself
moved. A converged Newton update leaves about ``1e-4`` or less; a line-searched first-order
update of a network about ``1`` or less. When the residual exceeds ``budget`` (default
:data:`DEFAULT_BUDGET` ``= 2.0``: twice as far from stationarity as the reference), the update
is discarded, the model retrained and the report says why.

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import Ridge
>>> rng = np.random.default_rng(0)
>>> X, y = rng.normal(size=(50, 3)), rng.normal(size=50)
>>> delta = TrainingDelta.removal(X, y, [3, 7])
>>> updated, report = update_model(Ridge().fit(X, y), delta)
>>> refit = Ridge().fit(delta.X_after(), delta.y_after())
>>> bool(np.allclose(updated.coef_, refit.coef_, atol=1e-12)), report.method
(True, 'exact-refit-linear')
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import itertools
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.special
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, RidgeClassifier
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.preprocessing import LabelBinarizer, binarize
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.extmath import safe_sparse_dot

from lester.errors import LesterError, describe_names
from lester.runner import models

DEFAULT_BUDGET = 2.0
"""Largest relative gradient residual an approximate update may leave before a retrain."""

RESIDUAL_FLOOR = 1e-8
"""Floor of the original model's gradient norm when making the residual relative."""

NEWTON_TOLERANCE = 1e-10
NEWTON_MAX_HESSIANS = 5
LINE_SEARCH_EXPONENTS = np.arange(-6.0, 3.01, 1.0)  # tau = scale * 10**e, plus tau = 0
LISSA_DEPTH = 200
LISSA_DAMPING = 0.01
LISSA_BATCH = 128
TORCH_BATCH = 4096

SUPPORTED: dict[str, str] = {
    "sklearn.linear_model.LinearRegression": "exact-refit-linear",
    "sklearn.linear_model.Ridge": "exact-refit-linear",
    "sklearn.linear_model.RidgeClassifier": "exact-refit-linear",
    "sklearn.naive_bayes.GaussianNB": "exact-naive-bayes",
    "sklearn.naive_bayes.MultinomialNB": "exact-naive-bayes",
    "sklearn.naive_bayes.BernoulliNB": "exact-naive-bayes",
    "sklearn.naive_bayes.ComplementNB": "exact-naive-bayes",
    "sklearn.linear_model.LogisticRegression": "newton",
    "skorch.NeuralNetClassifier": "first-order (lissa with second_order=True)",
}
"""Model kinds :func:`update_model` updates without retraining, and their method."""


class UnsupportedModelError(LesterError, TypeError):
    """A model (or model configuration) that :func:`update_model` cannot update."""


class InvalidDeltaError(LesterError, ValueError):
    """A :class:`TrainingDelta` whose positions or shapes do not fit its training set."""


class InvalidUpdateOptionError(LesterError, ValueError):
    """An option of :func:`update_model` with a value it does not know."""


# ---------------------------------------------------------------------------- report
@dataclass(frozen=True)
class UpdateReport:
    """What :func:`update_model` did, how well and how fast.

    ``gradient_residual`` is relative (see the module docstring), ``gradient_norm`` absolute;
    both are ``None`` for exact methods and retrains. ``seconds`` covers the update (and a
    retrain it fell back to), not the optional comparison retrain.

    Examples
    --------
    >>> report = UpdateReport("none", None, 0.0, 0, 0, 0, False, "")
    >>> report.to_dict()["method"]
    'none'
    """

    method: str
    gradient_residual: float | None
    seconds: float
    rows_removed: int
    rows_changed: int
    rows_added: int
    retrained: bool
    reason: str
    retrain_seconds: float | None = None
    speedup: float | None = None
    gradient_norm: float | None = None
    step: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------- delta
def _positions(values: Any, n: int, what: str) -> np.ndarray:
    positions = np.asarray(values if values is not None else [], dtype=np.int64).ravel()
    if positions.size and (positions.min() < 0 or positions.max() >= n):
        raise InvalidDeltaError(f"{what} positions must lie in [0, {n}); got {positions}")
    if np.unique(positions).size != positions.size:
        raise InvalidDeltaError(f"{what} positions contain duplicates")
    return positions


def _matrix_like(X: Any, template: Any) -> Any:
    if sp.issparse(template):
        return sp.csr_matrix(X)
    return np.asarray(X.toarray() if sp.issparse(X) else X)


def _check_rows(name: str, X: Any, y: np.ndarray, count: int, num_features: int) -> None:
    if X.ndim != 2 or X.shape != (count, num_features) or y.shape[:1] != (count,):
        raise InvalidDeltaError(
            f"X_{name}/y_{name} must have {count} rows of {num_features} features; got "
            f"{X.shape} and {y.shape}"
        )


def _stack(parts: Sequence[Any]) -> Any:
    if sp.issparse(parts[0]):
        return sp.vstack(parts, format="csr")
    return np.concatenate(parts)


@dataclass(frozen=True)
class TrainingDelta:
    """How the training set changes: rows removed, rows whose features/labels changed, rows
    added.

    Positions index rows of ``X_before``. ``X_changed``/``y_changed`` hold the new values of
    the ``changed`` rows in that order; ``None`` keeps the old features (or labels).

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(8.0).reshape(4, 2), np.array([0, 1, 0, 1])
    >>> delta = TrainingDelta(X, y, removed=[0], changed=[2], y_changed=[1],
    ...                       X_added=[[9.0, 9.0]], y_added=[0])
    >>> delta.X_after().tolist(), delta.y_after().tolist()
    ([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [9.0, 9.0]], [1, 1, 1, 0])
    """

    X_before: Any
    y_before: np.ndarray
    removed: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    changed: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    X_changed: Any = None
    y_changed: np.ndarray | None = None
    X_added: Any = None
    y_added: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = self.X_before if sp.issparse(self.X_before) else np.asarray(self.X_before)
        if X.ndim != 2:
            raise InvalidDeltaError(f"X_before must be 2-D; got shape {X.shape}")
        y = np.asarray(self.y_before)
        if y.shape[:1] != X.shape[:1]:
            raise InvalidDeltaError(f"y_before has {y.shape[:1]} rows; X_before has {X.shape[0]}")
        removed = _positions(self.removed, X.shape[0], "removed")
        changed = _positions(self.changed, X.shape[0], "changed")
        if np.intersect1d(removed, changed).size:
            raise InvalidDeltaError("a row cannot be both removed and changed")
        values = {"X_before": X, "y_before": y, "removed": removed, "changed": changed}
        values["X_changed"] = (
            X[changed] if self.X_changed is None else _matrix_like(self.X_changed, X)
        )
        values["y_changed"] = y[changed] if self.y_changed is None else np.asarray(self.y_changed)
        values["X_added"] = X[:0] if self.X_added is None else _matrix_like(self.X_added, X)
        values["y_added"] = y[:0] if self.y_added is None else np.asarray(self.y_added)
        _check_rows("changed", values["X_changed"], values["y_changed"], changed.size, X.shape[1])
        added = values["X_added"]
        _check_rows("added", added, values["y_added"], added.shape[0], X.shape[1])
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def removal(cls, X_before: Any, y_before: Any, rows: Any) -> TrainingDelta:
        """A delta that only removes ``rows`` (positions into ``X_before``).

        Examples
        --------
        >>> import numpy as np
        >>> TrainingDelta.removal(np.zeros((3, 1)), np.zeros(3), [1]).y_after().tolist()
        [0.0, 0.0]
        """
        return cls(X_before, np.asarray(y_before), removed=np.asarray(rows))

    @property
    def num_rows_before(self) -> int:
        """Rows of ``X_before``."""
        return int(self.X_before.shape[0])

    @property
    def num_rows_after(self) -> int:
        """Rows of :meth:`X_after`."""
        return self.num_rows_before - self.removed.size + int(self.X_added.shape[0])

    @property
    def num_features(self) -> int:
        """Columns of ``X``."""
        return int(self.X_before.shape[1])

    @property
    def is_empty(self) -> bool:
        """Whether nothing is removed, changed or added."""
        return not (self.removed.size or self.changed.size or self.X_added.shape[0])

    def kept(self) -> np.ndarray:
        """Positions of the rows that are not removed, in order."""
        return np.setdiff1d(np.arange(self.num_rows_before), self.removed, assume_unique=True)

    def X_after(self) -> Any:
        """The retained rows (with changes applied) followed by the added rows."""
        kept = self.kept()
        where = np.searchsorted(kept, self.changed)
        if sp.issparse(self.X_before):
            index = kept.copy()
            index[where] = self.num_rows_before + np.arange(self.changed.size)
            retained = _stack([self.X_before, self.X_changed])[index]
        else:
            retained = self.X_before[kept] if self.removed.size else self.X_before.copy()
            retained[where] = self.X_changed
        return _stack([retained, self.X_added]) if self.X_added.shape[0] else retained

    def y_after(self) -> np.ndarray:
        """The labels of :meth:`X_after`."""
        retained = self.y_before[self.kept()]
        retained[np.searchsorted(self.kept(), self.changed)] = self.y_changed
        return np.concatenate([retained, self.y_added])

    def old_rows(self) -> tuple[Any, np.ndarray]:
        """Features and labels that leave the training set (removed rows, changed rows' old
        values)."""
        positions = np.concatenate([self.removed, self.changed])
        return self.X_before[positions], self.y_before[positions]

    def new_rows(self) -> tuple[Any, np.ndarray]:
        """Features and labels that enter it (changed rows' new values, added rows)."""
        X = _stack([self.X_changed, self.X_added])
        return X, np.concatenate([self.y_changed, self.y_added])


# ---------------------------------------------------------------------------- outcome
@dataclass(frozen=True)
class _Outcome:
    """What one update method produced (before the budget check)."""

    model: Any
    method: str
    gradient_norm: float | None = None
    gradient_residual: float | None = None
    step: float | None = None
    retrain_reason: str = ""  # non-empty: the method cannot update this delta; retrain


@dataclass(frozen=True)
class _Options:
    second_order: bool
    seed: int
    step: float | None
    tilted: bool = False
    in_place: bool = False
    rows_before: int | None = None


def _relative(norm: float, baseline: float) -> float:
    return float(norm / max(baseline, RESIDUAL_FLOOR))


def _float_dtype(X: Any) -> np.dtype:
    return X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)


def _dense64(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


# ---------------------------------------------------------------------------- linear models
def _centered(X: np.ndarray, Y: np.ndarray, weights: np.ndarray, fit_intercept: bool) -> tuple:
    if not fit_intercept:
        return X, Y, np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    X_offset = np.average(X, axis=0, weights=weights)
    Y_offset = np.average(Y, axis=0, weights=weights)
    return X - X_offset, Y - Y_offset, X_offset, Y_offset


def _weighted_normal_equations(X: Any, Y: np.ndarray, weights: np.ndarray, fit_intercept: bool):
    """``Xc' W Xc``, ``Xc' W Yc`` and the offsets, for ``X``, ``Y`` centred as sklearn does
    (weighted column means; a sparse ``X`` is centred implicitly, as in sklearn)."""
    if not sp.issparse(X):
        Xc, Yc, X_offset, Y_offset = _centered(_dense64(X), Y, weights, fit_intercept)
        return Xc.T @ (weights[:, None] * Xc), Xc.T @ (weights[:, None] * Yc), X_offset, Y_offset
    gram = (X.T @ sp.diags(weights) @ X).toarray()
    cross = np.asarray(X.T @ (weights[:, None] * Y))
    X_offset, Y_offset = np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    if fit_intercept:
        total = weights.sum()
        X_offset = np.asarray(X.T @ weights).ravel() / total
        Y_offset = np.average(Y, axis=0, weights=weights)
        gram -= total * np.outer(X_offset, X_offset)
        cross -= total * np.outer(X_offset, Y_offset)
    return gram, cross, X_offset, Y_offset


def _ridge_solution(X: Any, Y: np.ndarray, weights: np.ndarray, alpha: Any, fit_intercept: bool):
    """``argmin sum_i w_i ||y_i - x_i W - b||^2 + alpha ||W||^2`` (intercept unpenalised):
    coefficients ``(targets, features)`` and intercepts."""
    gram, cross, X_offset, Y_offset = _weighted_normal_equations(X, Y, weights, fit_intercept)
    alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (Y.shape[1],))
    identity = np.eye(gram.shape[0])
    coef = np.vstack(
        [
            scipy.linalg.solve(gram + a * identity, cross[:, j], assume_a="pos")
            for j, a in enumerate(alphas)
        ]
    )
    return coef, Y_offset - coef @ X_offset


def _set_linear(
    model: Any, coef: np.ndarray, intercept: np.ndarray, flat: bool, dtype: Any
) -> None:
    """Store ``coef_``/``intercept_`` as sklearn shapes them (1-D for a 1-D target)."""
    model.coef_ = (coef.ravel() if flat else coef).astype(dtype)
    if model.fit_intercept:
        model.intercept_ = (intercept[0] if flat else intercept).astype(dtype)
    else:
        model.intercept_ = 0.0


def _update_ridge(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    """Ridge/RidgeClassifier: the closed-form solution on the retained rows (sklearn's
    ``cholesky`` solver), exact whatever solver fitted the model. It costs ``O(n d^2 + d^3)``
    like sklearn's direct solvers; the model keeps no sufficient statistics to downdate."""
    X, y = delta.X_after(), delta.y_after()
    updated = copy.deepcopy(model)
    weights = np.ones(X.shape[0])
    if isinstance(model, RidgeClassifier):
        binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = binarizer.fit_transform(y).astype(np.float64)
        if model.class_weight:
            weights = compute_sample_weight(model.class_weight, y)
        updated._label_binarizer, updated.classes_ = binarizer, binarizer.classes_
    else:
        Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    coef, intercept = _ridge_solution(X, Y, weights, model.alpha, model.fit_intercept)
    flat = np.ndim(y) == 1 and not isinstance(model, RidgeClassifier)
    _set_linear(updated, coef, intercept, flat, _float_dtype(X))
    updated.n_iter_, updated.solver_ = None, "cholesky"
    return _Outcome(updated, "exact-refit-linear")


def _update_linear_regression(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    """LinearRegression: sklearn's own least-squares solve (``scipy.linalg.lstsq`` on the
    centred rows, ``cond=tol``) on the retained rows; a sparse ``X`` is densified."""
    X, y = _dense64(delta.X_after()), np.asarray(delta.y_after(), dtype=np.float64)
    ones = np.ones(X.shape[0])
    Xc, Yc, X_offset, Y_offset = _centered(X, y.reshape(len(y), -1), ones, model.fit_intercept)
    coef, _, rank, singular = scipy.linalg.lstsq(Xc, Yc, cond=model.tol)
    updated = copy.deepcopy(model)
    dtype = _float_dtype(delta.X_before)
    _set_linear(updated, coef.T, Y_offset - coef.T @ X_offset, y.ndim == 1, dtype)
    updated.rank_, updated.singular_ = rank, singular
    return _Outcome(updated, "exact-refit-linear")


# ---------------------------------------------------------------------------- naive Bayes
def _class_moments(X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> tuple:
    """Per-class count, mean and sum of squared deviations (M2) of the rows ``X``."""
    counts = np.zeros(classes.size)
    means = np.zeros((classes.size, X.shape[1]))
    m2 = np.zeros_like(means)
    for index, label in enumerate(classes):
        rows = X[y == label]
        if rows.shape[0]:
            counts[index] = rows.shape[0]
            means[index] = rows.mean(axis=0)
            m2[index] = ((rows - means[index]) ** 2).sum(axis=0)
    return counts, means, m2


def _merge_moments(a: tuple, b: tuple, sign: int) -> tuple:
    """Chan et al.'s merge of (count, mean, M2) of two row sets; ``sign=-1`` removes ``b``
    from ``a`` (b must be a subset of a)."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    n = n_a + sign * n_b
    safe_n = np.where(n > 0, n, 1.0)[:, None]
    mean = (n_a[:, None] * mean_a + sign * n_b[:, None] * mean_b) / safe_n
    # For removal, the merge formula is solved for the remaining set's M2.
    spread = mean - mean_b if sign < 0 else mean_b - mean_a
    factor = (n * n_b / np.where(n_a > 0, n_a, 1.0)) if sign < 0 else (n_a * n_b / safe_n[:, 0])
    m2 = m2_a + sign * m2_b + sign * factor[:, None] * spread**2
    return n, mean, np.maximum(m2, 0.0)


def _classes_after(model: Any, delta: TrainingDelta, counts: np.ndarray) -> str:
    """Why the class set changes (empty when it does not)."""
    _, new_labels = delta.new_rows()
    unknown = np.setdiff1d(new_labels, model.classes_)
    if unknown.size:
        return f"labels {describe_names(unknown.tolist())} are new to the model"
    if np.any(counts <= 0):
        return f"classes {describe_names(model.classes_[counts <= 0].tolist())} lose all rows"
    return ""


def _update_gaussian_nb(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    classes = model.classes_
    X_old, y_old = delta.old_rows()
    X_new, y_new = delta.new_rows()
    before = (
        model.class_count_.astype(np.float64),
        model.theta_.astype(np.float64),
        (model.var_ - model.epsilon_) * model.class_count_[:, None],
    )
    removed = _merge_moments(before, _class_moments(_dense64(X_old), y_old, classes), -1)
    added = _class_moments(_dense64(X_new), y_new, classes)
    reason = _classes_after(model, delta, removed[0] + added[0])
    if reason:
        return _Outcome(model, "exact-naive-bayes", retrain_reason=reason)
    counts, means, m2 = _merge_moments(removed, added, +1)
    total = _pooled_variance(counts, means, m2)
    updated = copy.deepcopy(model)
    dtype = model.theta_.dtype
    updated.epsilon_ = model.var_smoothing * total.max()
    updated.class_count_ = counts.astype(model.class_count_.dtype)
    updated.theta_ = means.astype(dtype)
    updated.var_ = (m2 / counts[:, None] + updated.epsilon_).astype(dtype)
    if model.priors is None:
        updated.class_prior_ = updated.class_count_ / updated.class_count_.sum()
    return _Outcome(updated, "exact-naive-bayes")


def _pooled_variance(counts: np.ndarray, means: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Per-feature variance of all rows, from the per-class moments."""
    total = counts.sum()
    mean = (counts[:, None] * means).sum(axis=0) / total
    within = m2.sum(axis=0)
    between = (counts[:, None] * (means - mean) ** 2).sum(axis=0)
    return (within + between) / total


def _discrete_counts(model: Any, X: Any, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class row counts and feature sums, as the model's ``_count`` would add them."""
    if isinstance(model, BernoulliNB) and model.binarize is not None:
        X = binarize(X, threshold=model.binarize)
    onehot = (np.asarray(y)[:, None] == model.classes_[None, :]).astype(np.float64)
    return onehot.sum(axis=0), np.asarray(safe_sparse_dot(onehot.T, X, dense_output=True))


def _update_discrete_nb(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    old_counts, old_features = _discrete_counts(model, *delta.old_rows())
    new_counts, new_features = _discrete_counts(model, *delta.new_rows())
    class_count = model.class_count_ - old_counts + new_counts
    reason = _classes_after(model, delta, class_count)
    if reason:
        return _Outcome(model, "exact-naive-bayes", retrain_reason=reason)
    updated = copy.deepcopy(model)
    updated.class_count_ = class_count
    updated.feature_count_ = model.feature_count_ - old_features + new_features
    if isinstance(model, ComplementNB):
        updated.feature_all_ = updated.feature_count_.sum(axis=0)
    # sklearn's own finalisation after counting, so smoothing matches a refit exactly.
    updated._update_feature_log_prob(updated._check_alpha())
    updated._update_class_log_prior(class_prior=updated.class_prior)
    return _Outcome(updated, "exact-naive-bayes")


# ---------------------------------------------------------------------------- logistic
def _logistic_penalty(model: LogisticRegression) -> str | None:
    """The penalty sklearn applies (``penalty`` is deprecated in favour of ``l1_ratio``)."""
    penalty = model.penalty
    if penalty == "deprecated":
        ratio = model.l1_ratio
        penalty = "l2" if ratio in (0, None) else ("l1" if ratio == 1 else "elasticnet")
    if penalty == "elasticnet" and model.l1_ratio == 0:
        penalty = "l2"
    if penalty in (None, "none") or np.isinf(model.C):
        return None
    return penalty


def _logistic_unsupported(model: LogisticRegression) -> str:
    if len(model.classes_) != 2:
        return f"LogisticRegression with {len(model.classes_)} classes (only binary)"
    penalty = _logistic_penalty(model)
    if penalty not in ("l2", None):
        return f"LogisticRegression with penalty {penalty!r} (only L2 or none)"
    return ""


@dataclass(frozen=True)
class _Rows:
    """Training rows of a logistic objective: features, 0/1 targets and sample weights (a
    zero weight drops a row without copying ``X``)."""

    X: Any
    target: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class _LogisticObjective:
    """sklearn's objective ``C sum_i s_i logloss_i + ||w||^2 / 2`` divided by ``C sum_i s_i``.

    Parameters are ``theta = [w, b]`` (``b`` only with an intercept). liblinear also
    penalises the intercept, as ``(b / intercept_scaling)^2 / 2``.
    """

    blocks: tuple[_Rows, ...]
    penalty: np.ndarray  # per-parameter L2 weights: 1 / C (0 without a penalty)
    intercept: bool

    @classmethod
    def of(
        cls, model: LogisticRegression, blocks: Sequence[tuple[Any, np.ndarray, np.ndarray]]
    ) -> _LogisticObjective:
        """The objective of ``model``'s configuration on ``(X, labels, mask)`` blocks."""
        labels = np.concatenate([y[mask > 0] for _, y, mask in blocks])
        class_weights = np.ones(model.classes_.size)
        if model.class_weight is not None:
            class_weights = compute_class_weight(
                model.class_weight, classes=model.classes_, y=labels
            )
        rows = tuple(
            _Rows(
                X,
                (np.asarray(y) == model.classes_[1]).astype(np.float64),
                mask * class_weights[np.searchsorted(model.classes_, y)],
            )
            for X, y, mask in blocks
        )
        inverse_c = 0.0 if _logistic_penalty(model) is None else 1.0 / model.C
        penalty = np.full(blocks[0][0].shape[1], inverse_c)
        if model.fit_intercept:
            scaling = model.intercept_scaling if model.solver == "liblinear" else np.inf
            penalty = np.append(penalty, inverse_c / scaling**2)
        return cls(rows, penalty, bool(model.fit_intercept))

    @property
    def total_weight(self) -> float:
        return float(sum(block.weights.sum() for block in self.blocks))

    def _margins(self, block: _Rows, theta: np.ndarray) -> np.ndarray:
        d = block.X.shape[1]
        margins = np.asarray(block.X @ theta[:d]).ravel()
        return margins + theta[d] if self.intercept else margins

    def value(self, theta: np.ndarray) -> float:
        total = 0.5 * float(self.penalty @ theta**2)
        for block in self.blocks:
            z = self._margins(block, theta)
            total += float(block.weights @ (np.logaddexp(0.0, z) - block.target * z))
        return total / self.total_weight

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        gradient = self.penalty * theta
        for block in self.blocks:
            residuals = block.weights * (
                scipy.special.expit(self._margins(block, theta)) - block.target
            )
            gradient[: block.X.shape[1]] += np.asarray(block.X.T @ residuals).ravel()
            if self.intercept:
                gradient[-1] += residuals.sum()
        return gradient / self.total_weight

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        hessian = np.diag(self.penalty)
        for block in self.blocks:
            p = scipy.special.expit(self._margins(block, theta))
            curvature = block.weights * p * (1.0 - p)
            d = block.X.shape[1]
            hessian[:d, :d] += _weighted_gram(block.X, curvature)
            if self.intercept:
                cross = np.asarray(block.X.T @ curvature).ravel()
                hessian[:d, d] += cross
                hessian[d, :d] += cross
                hessian[d, d] += curvature.sum()
        return hessian / self.total_weight


def _weighted_gram(X: Any, weights: np.ndarray) -> np.ndarray:
    """``X' diag(weights) X`` for non-negative weights."""
    if sp.issparse(X):
        return (X.T @ sp.diags(weights) @ X).toarray()
    scaled = np.sqrt(weights)[:, None] * X
    return scaled.T @ scaled  # numpy computes A.T @ A with a symmetric rank-k update


def _factorise(hessian: np.ndarray) -> Any:
    try:
        return scipy.linalg.cho_factor(hessian)
    except np.linalg.LinAlgError:  # unpenalised and (nearly) singular: a tiny ridge
        jitter = 1e-10 * max(np.trace(hessian) / hessian.shape[0], 1e-12)
        return scipy.linalg.cho_factor(hessian + jitter * np.eye(hessian.shape[0]))


def _newton(objective: _LogisticObjective, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """Newton steps from ``theta`` until the gradient norm is below ``NEWTON_TOLERANCE``.

    At most ``NEWTON_MAX_HESSIANS`` Hessians are formed (``O(n d^2)`` each); a step that cut the
    gradient tenfold keeps the current factor for the next one, since near the optimum the
    Hessian barely changes and a step costs only ``O(n d)`` then.
    """
    factor, factorisations = _factorise(objective.hessian(theta)), 1
    gradient = objective.gradient(theta)
    for _ in range(4 * NEWTON_MAX_HESSIANS):
        if np.linalg.norm(gradient) <= NEWTON_TOLERANCE:
            break
        direction = scipy.linalg.cho_solve(factor, gradient)
        theta_next, gradient_next = _damped_step(objective, theta, gradient, direction)
        if np.linalg.norm(gradient_next) > 0.1 * np.linalg.norm(gradient):
            if factorisations == NEWTON_MAX_HESSIANS:
                theta, gradient = theta_next, gradient_next
                break
            factor, factorisations = _factorise(objective.hessian(theta_next)), factorisations + 1
        theta, gradient = theta_next, gradient_next
    return theta, float(np.linalg.norm(gradient))


def _damped_step(
    objective: _LogisticObjective, theta: np.ndarray, gradient: np.ndarray, direction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The longest of the steps 1, 1/2, 1/4, ... along ``-direction`` that decreases the
    gradient norm or else the objective (Armijo; its decrease drowns in rounding near the
    optimum, the gradient's does not), with the gradient there."""
    norm, slope = np.linalg.norm(gradient), float(gradient @ direction)
    value = None
    step = 1.0
    for _ in range(30):
        candidate = theta - step * direction
        candidate_gradient = objective.gradient(candidate)
        if np.linalg.norm(candidate_gradient) < norm:
            return candidate, candidate_gradient
        value = objective.value(theta) if value is None else value
        if objective.value(candidate) <= value - 1e-4 * step * slope:
            return candidate, candidate_gradient
        step /= 2
    return theta, gradient


def _update_logistic(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    y_after = delta.y_after()
    counts = (y_after[:, None] == model.classes_[None, :]).sum(axis=0)
    reason = _classes_after(model, delta, counts)
    if reason:
        return _Outcome(model, "newton", retrain_reason=reason)
    theta = _parameters(model)
    every = np.ones(delta.num_rows_before)
    before = _LogisticObjective.of(model, [(delta.X_before, delta.y_before, every)])
    kept = every.copy()
    kept[np.concatenate([delta.removed, delta.changed])] = 0.0  # changed rows re-enter as new
    X_new, y_new = delta.new_rows()
    blocks = [(delta.X_before, delta.y_before, kept), (X_new, y_new, np.ones(len(y_new)))]
    theta, norm = _newton(_LogisticObjective.of(model, blocks), theta)
    updated = copy.deepcopy(model)
    d = delta.num_features
    updated.coef_ = theta[None, :d].astype(model.coef_.dtype)
    if model.fit_intercept:
        updated.intercept_ = theta[d:].astype(np.ravel(model.intercept_).dtype)
    baseline = float(np.linalg.norm(before.gradient(_parameters(model))))
    return _Outcome(updated, "newton", norm, _relative(norm, baseline))


def _parameters(model: LogisticRegression) -> np.ndarray:
    theta = model.coef_.ravel().astype(np.float64)
    return np.append(theta, np.ravel(model.intercept_)[0]) if model.fit_intercept else theta


# ---------------------------------------------------------------------------- skorch
@dataclass(frozen=True)
class _TorchData:
    """Float32 features and int64 labels as torch tensors (the runner's skorch inputs)."""

    X: Any
    y: Any

    @classmethod
    def of(cls, X: Any, y: np.ndarray) -> _TorchData:
        import torch

        X, y = models.prepare_inputs("skorch", X, y)
        return cls(torch.from_numpy(X), torch.from_numpy(y))

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def batches(self) -> Iterator[tuple[Any, Any]]:
        for start in range(0, len(self), TORCH_BATCH):
            yield self.X[start : start + TORCH_BATCH], self.y[start : start + TORCH_BATCH]


class _Network:
    """The training objective of a skorch network as a function of its flattened trainable
    parameters: the mean criterion loss plus, when the optimizer couples it into the
    gradient (``optimizer__weight_decay`` of SGD, Adam, ...; not AdamW's decoupled decay),
    ``weight_decay / 2 * ||theta||^2``."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.params = [p for p in net.module_.parameters() if p.requires_grad]
        reduction = getattr(net.criterion_, "reduction", "mean")
        self.per_sample_mean = reduction == "mean"
        decoupled = "AdamW" in getattr(net.optimizer, "__name__", "")
        self.weight_decay = 0.0 if decoupled else float(getattr(net, "optimizer__weight_decay", 0))

    def vector(self) -> Any:
        import torch

        return torch.nn.utils.parameters_to_vector(self.params).detach().clone()

    def offsets(self) -> dict[int, int]:
        """Where each parameter starts in :meth:`vector`, by the parameter's ``id``."""
        starts = np.cumsum([0] + [p.numel() for p in self.params])
        return {id(p): int(start) for p, start in zip(self.params, starts, strict=False)}

    def assign(self, vector: Any) -> None:
        import torch

        with torch.no_grad():
            offset = 0
            for param in self.params:
                param.copy_(vector[offset : offset + param.numel()].view_as(param))
                offset += param.numel()

    def _summed_loss(self, X: Any, y: Any) -> Any:
        return self._summed_loss_of(self.net.infer(X.to(self.net.device)), y, X)

    def _summed_loss_of(self, outputs: Any, y: Any, X: Any) -> Any:
        loss = self.net.get_loss(outputs, y, X=X, training=False)
        return loss * X.shape[0] if self.per_sample_mean else loss

    def summed_gradient(self, data: _TorchData) -> Any:
        """Gradient of the SUM of per-sample losses over ``data``."""
        import torch

        total = torch.zeros(sum(p.numel() for p in self.params), dtype=torch.float64)
        for X, y in data.batches():
            grads = torch.autograd.grad(self._summed_loss(X, y), self.params)
            total += torch.cat([g.reshape(-1) for g in grads]).double().cpu()
        return total

    def summed_loss(self, data: _TorchData) -> float:
        """The sum of the per-sample losses over ``data`` (no gradient)."""
        import torch

        with torch.no_grad():
            return sum(float(self._summed_loss(X, y)) for X, y in data.batches())

    def summed_losses(self, data: _TorchData, bounds: Sequence[int]) -> list[float]:
        """The summed losses of the row ranges ``bounds[i]:bounds[i + 1]`` of ``data``, from
        one forward pass over all of it (no gradient)."""
        import torch

        with torch.no_grad():
            outputs = self.net.infer(data.X.to(self.net.device))
            return [
                float(self._summed_loss_of(outputs[a:b], data.y[a:b], data.X[a:b]))
                if b > a
                else 0.0
                for a, b in itertools.pairwise(bounds)
            ]

    def penalty(self, theta: Any) -> float:
        """The weight-decay term at the parameters ``theta``."""
        return 0.5 * self.weight_decay * float(theta.double().square().sum())

    def objective(self, data: _TorchData) -> float:
        """The mean loss over ``data`` (plus the weight-decay term)."""
        return self.summed_loss(data) / max(len(data), 1) + self.penalty(self.vector())

    def objective_gradient(self, data: _TorchData) -> Any:
        """The gradient of :meth:`objective`."""
        summed = self.summed_gradient(data) / max(len(data), 1)
        return summed + self.weight_decay * self.vector().double().cpu()

    def hessian_vector(self, X: Any, y: Any, vector: Any) -> Any:
        """Hessian of the mean loss over the batch ``X, y`` times ``vector``."""
        import torch

        loss = self._summed_loss(X, y) / X.shape[0]
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
        product = torch.autograd.grad(flat @ vector.to(flat), self.params)
        return torch.cat([p.reshape(-1) for p in product]).double().cpu() + (
            self.weight_decay * vector
        )


class _AlongDirection:
    """The summed losses of data sets at ``theta - tau * direction`` as functions of ``tau``:
    what the line search evaluates.

    A linear layer that reads the network's input (or a view of it) is affine in its own
    parameters, so its output at ``tau`` is ``A - tau * B``: ``A`` is its output at
    ``theta``, ``B`` its output for the direction's weights and bias, both computed once per
    batch. Later evaluations run only the layers after it: for the example's network (780
    inputs, 64 hidden units) that is nearly all of the cost of an evaluation.
    """

    def __init__(
        self, network: _Network, datasets: Sequence[_TorchData], theta: Any, direction: Any
    ) -> None:
        self.network, self.datasets = network, datasets
        self.theta, self.direction = theta, direction
        self._stacked = _stacked(datasets)
        evaluated = datasets if self._stacked is None else [self._stacked[0]]
        self._inputs = {data.X.untyped_storage().data_ptr() for data in evaluated}
        self._offsets = network.offsets()
        self._products: dict[tuple, tuple[Any, Any]] = {}
        self._tau = 0.0
        self._losses: dict[float, list[float]] = {}
        theta64, direction64 = theta.double(), direction.double()
        # ||theta - tau d||^2 as a polynomial in tau: no pass over the parameters per step.
        pairs = ((theta64, theta64), (theta64, direction64), (direction64, direction64))
        self._squares = tuple(float(a @ b) for a, b in pairs)

    def losses(self, tau: float) -> list[float]:
        """The summed loss of each data set at ``tau`` (each ``tau`` evaluated once)."""
        if tau not in self._losses:
            self._losses[tau] = self._evaluate(tau)
        return self._losses[tau]

    def _evaluate(self, tau: float) -> list[float]:
        import torch

        self._tau = tau
        self.network.assign((self.theta - tau * self.direction).float())
        with torch.no_grad(), self._affine_input_layers():
            if self._stacked is not None:
                return self.network.summed_losses(*self._stacked)
            return [self.network.summed_loss(data) for data in self.datasets]

    def penalty(self, tau: float) -> float:
        """The weight-decay term at ``tau`` (in float64: no assignment needed)."""
        theta_squared, cross, direction_squared = self._squares
        squared = theta_squared - 2 * tau * cross + tau * tau * direction_squared
        return 0.5 * self.network.weight_decay * squared

    @contextlib.contextmanager
    def _affine_input_layers(self) -> Iterator[None]:
        import torch

        layers = [
            layer
            for layer in self.network.net.module_.modules()
            if isinstance(layer, torch.nn.Linear)
            and all(id(p) in self._offsets for p in (layer.weight, layer.bias) if p is not None)
        ]
        for layer in layers:
            layer.forward = functools.partial(self._linear, layer, type(layer).forward)
        try:
            yield
        finally:
            for layer in layers:
                del layer.forward

    def _linear(self, layer: Any, forward: Callable, inputs: Any) -> Any:
        if inputs.untyped_storage().data_ptr() not in self._inputs:
            return forward(layer, inputs)  # a hidden layer: its input depends on tau
        key = (id(layer), inputs.data_ptr(), tuple(inputs.shape), inputs.stride())
        if key not in self._products:
            self._products[key] = (
                self._apply(layer, self.theta, inputs),
                self._apply(layer, self.direction, inputs),
            )
        at_theta, along = self._products[key]
        return at_theta - self._tau * along

    def _apply(self, layer: Any, vector: Any, inputs: Any) -> Any:
        import torch

        weight, bias = (
            None if p is None else self._piece(vector, p) for p in (layer.weight, layer.bias)
        )
        return torch.nn.functional.linear(inputs, weight, bias)

    def _piece(self, vector: Any, parameter: Any) -> Any:
        start = self._offsets[id(parameter)]
        piece = vector[start : start + parameter.numel()].view_as(parameter)
        return piece.to(dtype=parameter.dtype)


def _stacked(datasets: Sequence[_TorchData]) -> tuple[_TorchData, list[int]] | None:
    """The data sets as one, and where each starts and ends in it, when they fit in one
    batch: the line search then runs one forward pass per step instead of one per set
    (on a few hundred rows, the passes' fixed cost is most of their time)."""
    import torch

    sizes = [len(data) for data in datasets]
    if len(datasets) < 2 or sum(sizes) > TORCH_BATCH:
        return None
    bounds = [0, *itertools.accumulate(sizes)]
    X = torch.cat([data.X for data in datasets])
    return _TorchData(X, torch.cat([data.y for data in datasets])), bounds


@contextlib.contextmanager
def _evaluation_mode(net: Any) -> Iterator[None]:
    """Dropout/batch-norm in eval mode while the update measures losses and gradients."""
    was_training = net.module_.training
    net.module_.eval()
    try:
        yield
    finally:
        net.module_.train(was_training)


def _line_search(loss_at: Callable[[float], float], scale: float) -> float:
    """The tau of least loss among ``0`` and ``scale * 10**e`` (``e`` in
    ``LINE_SEARCH_EXPONENTS``), then refined by half and quarter decades around it.

    The loss along the update direction is taken to be unimodal in ``log tau``: the search
    starts at ``e = 0`` and walks up while the loss falls, or down until it beats the loss
    at ``tau = 0`` and stops falling, so it evaluates about 8 points rather than every
    exponent.

    Examples
    --------
    >>> round(float(np.log10(_line_search(lambda t: (np.log10(t + 1e-12) - 1.6) ** 2, 1.0))), 2)
    1.5
    >>> _line_search(lambda tau: tau, 1.0)
    0.0
    """
    losses: dict[float, float] = {}

    def at(exponent: float) -> float:
        if exponent not in losses:
            losses[exponent] = loss_at(float(scale * 10.0**exponent))
        return losses[exponent]

    lowest, highest = float(LINE_SEARCH_EXPONENTS[0]), float(LINE_SEARCH_EXPONENTS[-1])
    base = loss_at(0.0)
    best = 0.0
    if at(best) < base:
        while best + 1 <= highest and at(best + 1) < at(best):
            best += 1
    else:
        best = -1.0
        while best >= lowest and at(best) >= base:
            best -= 1
        if best < lowest:
            return 0.0
        while best - 1 >= lowest and at(best - 1) < at(best):
            best -= 1
    for step in (0.5, 0.25):
        best = min((best - step, best, best + step), key=at)
    return float(scale * 10.0**best)


def _lissa(network: _Network, data: _TorchData, vector: Any, seed: int) -> Any:
    """LiSSA estimate of ``(H + damping * scale * I)^-1 vector`` for the Hessian ``H`` of the
    mean loss (Agarwal et al., 2017; Koh and Liang, 2017): ``h <- v + (1 - damping) h -
    H_batch h / scale`` on random mini-batches, then ``h / scale``. ``scale`` is twice the
    largest Hessian eigenvalue, estimated by power iteration on one larger batch."""
    import torch

    rng = np.random.default_rng(seed)
    batch = min(LISSA_BATCH, len(data))
    scale = 2.0 * _largest_eigenvalue(network, data, rng)
    estimate = vector.clone()
    for _ in range(LISSA_DEPTH):
        rows = torch.from_numpy(rng.choice(len(data), size=batch, replace=False))
        product = network.hessian_vector(data.X[rows], data.y[rows], estimate)
        estimate = vector + (1.0 - LISSA_DAMPING) * estimate - product / scale
    return estimate / scale


def _largest_eigenvalue(network: _Network, data: _TorchData, rng: np.random.Generator) -> float:
    import torch

    rows = torch.from_numpy(
        rng.choice(len(data), size=min(8 * LISSA_BATCH, len(data)), replace=False)
    )
    vector = torch.from_numpy(rng.normal(size=int(network.vector().numel())))
    eigenvalue = 1e-3
    for _ in range(20):
        vector = vector / vector.norm()
        product = network.hessian_vector(data.X[rows], data.y[rows], vector)
        eigenvalue = max(float(vector @ product), 1e-3)
        vector = product
    return eigenvalue


def _copy_network(model: Any) -> Any:
    """A deep copy of a fitted skorch network; when its module class cannot be pickled
    (e.g. defined in a function), a fresh clone carrying the trained weights."""
    try:
        return copy.deepcopy(model)
    except (AttributeError, TypeError, pickle.PicklingError):
        import torch

        with torch.random.fork_rng(devices=[]):  # initialising draws random weights
            fresh = clone(model).initialize()
        fresh.module_.load_state_dict(model.module_.state_dict())
        return fresh


def _update_skorch(model: Any, delta: TrainingDelta, options: _Options) -> _Outcome:
    updated = model if options.in_place else _copy_network(model)
    network = _Network(updated)
    after = _TorchData.of(delta.X_after(), delta.y_after())
    old, new = _TorchData.of(*delta.old_rows()), _TorchData.of(*delta.new_rows())
    population = _Population.of(delta, options.rows_before)
    with _evaluation_mode(updated), models.one_torch_thread():
        theta = network.vector().double().cpu()
        penalty = network.weight_decay * theta
        summed_before = network.summed_gradient(_TorchData.of(delta.X_before, delta.y_before))
        summed_old, summed_new = network.summed_gradient(old), network.summed_gradient(new)
        difference = summed_new - summed_old
        before_gradient = summed_before / max(delta.num_rows_before, 1) + penalty
        no_update_gradient = (summed_before + difference) / max(len(after), 1) + penalty
        direction, scale, method = difference, 1.0 / population.after, "first-order"
        if options.second_order:
            direction = _lissa(network, after, difference, options.seed) / population.after
            scale, method = 1.0, "lissa"
        if population.sampled:
            along = _AlongDirection(network, [after, new, old], theta, direction)
            rest = (summed_before - summed_old) @ direction  # the sample's own linear term
            decay = network.weight_decay * theta @ direction
            objective_at = population.objective(along, float(rest), float(decay))
        else:
            along = _AlongDirection(network, [after], theta, direction)
            # Tilted: minus the original model's own gradient, so that its distance from a
            # stationary point (training not run to convergence) is not "unlearned" too.
            tilt = float(before_gradient @ direction) if options.tilted else 0.0

            def objective_at(tau: float) -> float:
                return along.losses(tau)[0] / max(len(after), 1) + along.penalty(tau) + tau * tilt

        tau = _line_search(objective_at, scale) if options.step is None else options.step
        network.assign((theta - tau * direction).float())
        # At tau = 0 the gradient on the new data is the no-update one, already known.
        norm = float((network.objective_gradient(after) if tau else no_update_gradient).norm())
    # A converged network is (nearly) stationary on its old data, so the deletion's own
    # gradient, which no update is asked to beat, sets the scale: without update the model
    # would be that far from stationarity on the new data.
    baseline = max(float(before_gradient.norm()), float(no_update_gradient.norm()))
    return _Outcome(updated, method, norm, _relative(norm, baseline), step=tau)


@dataclass(frozen=True)
class _Population:
    """The whole training set that ``X_before`` samples: its row counts before and after
    the delta, and whether ``X_before`` holds only a sample of it."""

    before: int
    after: int
    sampled: bool

    @classmethod
    def of(cls, delta: TrainingDelta, rows_before: int | None) -> _Population:
        if rows_before is not None and rows_before < delta.num_rows_before:
            raise InvalidDeltaError(
                f"rows_before ({rows_before}) is smaller than X_before ({delta.num_rows_before})"
            )
        before = delta.num_rows_before if rows_before is None else int(rows_before)
        after = before - delta.num_rows_before + delta.num_rows_after
        return cls(before, max(after, 1), before > delta.num_rows_before)

    def objective(
        self, along: _AlongDirection, rest: float, decay: float
    ) -> Callable[[float], float]:
        """The retained objective of the whole training set, estimated from the sample
        (up to a constant): the rows that leave and enter exactly, the other rows through
        the sample's curvature alone (its loss change minus its linear term ``rest`` along
        the direction), scaled to the population.

        The whole data's linear term is not known; it follows from taking the original
        model as stationary on its training data (trained to convergence): the losses'
        gradient then cancels the weight decay's, ``-before * decay`` along the direction.
        Without that correction the sample's own gradient noise, not the deletion, would
        pick the step."""
        kept, entering_rows = along.datasets[0], along.datasets[1]
        base = along.losses(0.0)
        others = max(len(kept) - len(entering_rows), 1)  # the sample's rows that stay

        def at(tau: float) -> float:
            sample, entering, leaving = (
                loss - zero for loss, zero in zip(along.losses(tau), base, strict=True)
            )
            curvature = (sample - entering + tau * rest) / others
            losses = self.before * (curvature + tau * decay) + entering - leaving
            return losses / self.after + along.penalty(tau)

        return at


# ---------------------------------------------------------------------------- dispatch
Updater = Callable[[Any, TrainingDelta, _Options], _Outcome]

_SKLEARN_UPDATERS: dict[type, Updater] = {
    LinearRegression: _update_linear_regression,
    Ridge: _update_ridge,
    RidgeClassifier: _update_ridge,
    GaussianNB: _update_gaussian_nb,
    MultinomialNB: _update_discrete_nb,
    BernoulliNB: _update_discrete_nb,
    ComplementNB: _update_discrete_nb,
    LogisticRegression: _update_logistic,
}


def _updater(model: Any) -> tuple[Updater | None, str]:
    """The update method for ``model``'s exact type, or ``None`` and why it is unsupported.

    Exact types only: a subclass (e.g. ``LogisticRegressionCV``) may optimise another
    objective.
    """
    kind = type(model)
    if kind in _SKLEARN_UPDATERS:
        if getattr(model, "positive", False):
            return None, f"{kind.__name__} with positive=True"
        if kind is LogisticRegression and _logistic_unsupported(model):
            return None, _logistic_unsupported(model)
        return _SKLEARN_UPDATERS[kind], ""
    if kind.__module__.startswith("skorch") and kind.__name__ == "NeuralNetClassifier":
        return _update_skorch, ""
    return None, f"model kind {kind.__module__}.{kind.__qualname__}"


def _unsupported_message(what: str) -> str:
    return (
        f"cannot update {what} without retraining; supported kinds are "
        f"{describe_names(SUPPORTED)} (pass allow_retrain=True to retrain instead)"
    )


@contextlib.contextmanager
def _seeded_torch(model: Any, seed: int) -> Iterator[None]:
    """Seed torch for a retrain without disturbing the caller's random state."""
    if models.model_kind(model) != "skorch":
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _retrain(model: Any, delta: TrainingDelta, create_model: Any, seed: int) -> Any:
    """Train a fresh model on the retained rows: ``create_model(num_features)`` if given,
    else an unfitted clone of ``model`` (torch seeded with ``seed`` first, as the runner
    does, so a network starts from the same initial weights as the original training)."""
    fresh = create_model(delta.num_features) if create_model is not None else clone(model)
    with _seeded_torch(fresh, seed):
        return models.fit(fresh, delta.X_after(), delta.y_after())


def _timed_retrain(model: Any, delta: TrainingDelta, create_model: Any, seed: int) -> float:
    started = time.perf_counter()
    _retrain(model, delta, create_model, seed)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- API
def update_model(
    model: Any,
    delta: TrainingDelta,
    *,
    create_model: Callable[[int], Any] | None = None,
    budget: float = DEFAULT_BUDGET,
    second_order: bool = False,
    compare_retrain: bool = False,
    allow_retrain: bool = False,
    seed: int = 42,
    step: float | None = None,
    line_search: str = "retained",
    in_place: bool = False,
    rows_before: int | None = None,
) -> tuple[Any, UpdateReport]:
    """Update ``model``, trained on ``delta.X_before``, to the training set after ``delta``.

    Parameters
    ----------
    model:
        A fitted model of a kind in :data:`SUPPORTED` (exact type). Not modified: the
        result is an updated deep copy (or a freshly trained model).
    delta:
        The removed, changed and added training rows.
    create_model:
        ``create_model(num_features)`` gives an untrained model for retrains (the pipeline's
        factory). Without it, retrains train ``sklearn.base.clone(model)``, which works for
        scikit-learn estimators and skorch networks alike.
    budget:
        Largest relative gradient residual (see the module docstring) an approximate update
        may leave; beyond it the model is retrained and the report says why.
    second_order:
        For skorch networks: precondition the first-order update with a LiSSA
        inverse-Hessian-vector product.
    compare_retrain:
        Also retrain from scratch (not returned) to measure ``retrain_seconds`` and
        ``speedup``.
    allow_retrain:
        Retrain unsupported models instead of raising :class:`UnsupportedModelError`.
    seed:
        Seeds torch for retrains (same initial weights as a runner run with this seed) and
        LiSSA's mini-batches.
    step:
        For skorch networks: a fixed step ``tau`` instead of the line search (for studies).
    line_search:
        For skorch networks, what the line search over ``tau`` minimises: ``"retained"``,
        the training objective of the retained data (the update never makes it worse), or
        ``"tilted"``, that objective minus the linear term of the original model's own
        gradient on its training data. The two agree for a converged model; for a network
        trained for a few epochs, ``"retained"`` often picks ``tau = 0`` (its gradient is
        dominated by unfinished training), whereas ``"tilted"`` follows the update that
        Warnecke et al.'s first- and second-order steps approximate.
    in_place:
        For skorch networks: update ``model``'s weights in place instead of a deep copy of
        it, for a caller that no longer needs the original (a model just loaded from the
        store); a retrain still returns a new model.
    rows_before:
        For skorch networks: the rows of the whole training set when ``delta.X_before``
        holds only a sample of it (plus every removed and changed row), as maintenance
        passes it. The line search then minimises an estimate of the whole retained
        objective: the rows that leave and enter exactly, the other rows through the
        sample's curvature, for a network trained to convergence on its data (which is
        what ``"tilted"`` assumes too, so ``line_search`` does not apply then).

    Returns
    -------
    tuple
        The updated model and an :class:`UpdateReport`.

    Raises
    ------
    UnsupportedModelError
        If the model kind or configuration is unsupported and ``allow_retrain`` is false.
    InvalidUpdateOptionError
        If ``line_search`` is neither ``"retained"`` nor ``"tilted"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(400, 4))
    >>> y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
    >>> delta = TrainingDelta.removal(X, y, np.arange(12))
    >>> updated, report = update_model(LogisticRegression().fit(X, y), delta)
    >>> report.method, report.gradient_residual < 1e-3, report.retrained
    ('newton', True, False)
    """
    started = time.perf_counter()
    if line_search not in ("retained", "tilted"):
        raise InvalidUpdateOptionError(
            f"line_search must be 'retained' or 'tilted'; got {line_search!r}"
        )
    updater, unsupported = _updater(model)
    if unsupported and not allow_retrain:
        raise UnsupportedModelError(_unsupported_message(unsupported))
    options = _Options(second_order, seed, step, line_search == "tilted", in_place, rows_before)
    if delta.is_empty:
        outcome = _Outcome(copy.deepcopy(model), "none")
    elif updater is None:
        reason = f"unsupported {unsupported}: retrained (allow_retrain=True)"
        outcome = _Outcome(model, "retrain", retrain_reason=reason)
    else:
        outcome = _within_budget(updater(model, delta, options), budget)
    updated, retrained = outcome.model, bool(outcome.retrain_reason)
    if retrained:
        updated = _retrain(model, delta, create_model, seed)
    seconds = time.perf_counter() - started
    retrain_seconds = _timed_retrain(model, delta, create_model, seed) if compare_retrain else None
    return updated, _report(outcome, delta, seconds, retrained, retrain_seconds)


def _within_budget(outcome: _Outcome, budget: float) -> _Outcome:
    """The outcome, marked for a retrain when its residual exceeds ``budget``."""
    residual = outcome.gradient_residual
    if residual is None or residual <= budget:
        return outcome
    reason = f"{outcome.method} update left gradient residual {residual:.3g} > budget {budget:.3g}"
    return dataclasses.replace(outcome, retrain_reason=reason)


def _report(
    outcome: _Outcome,
    delta: TrainingDelta,
    seconds: float,
    retrained: bool,
    retrain_seconds: float | None,
) -> UpdateReport:
    return UpdateReport(
        method="retrain" if retrained else outcome.method,
        gradient_residual=None if retrained else outcome.gradient_residual,
        seconds=seconds,
        rows_removed=int(delta.removed.size),
        rows_changed=int(delta.changed.size),
        rows_added=int(delta.X_added.shape[0]),
        retrained=retrained,
        reason=outcome.retrain_reason,
        retrain_seconds=retrain_seconds,
        speedup=None if retrain_seconds is None else retrain_seconds / max(seconds, 1e-12),
        gradient_norm=None if retrained else outcome.gradient_norm,
        step=None if retrained else outcome.step,
    )
