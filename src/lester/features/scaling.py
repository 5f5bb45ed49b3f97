"""Scalers that scikit-learn lacks: standardisation with the sample standard deviation.

Examples
--------
>>> import numpy as np
>>> SampleStandardScaler().fit_transform(np.array([[1.0], [2.0], [3.0]])).ravel().tolist()
[-1.0, 0.0, 1.0]
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin


class SampleStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """``(x - mean) / std(ddof)`` per column, as ``np.std(x, ddof=1)`` code computes it
    (scikit-learn's ``StandardScaler`` always divides by the population std, ddof=0).

    A zero standard deviation divides like numpy does (giving inf or nan), so the
    rewrite stays equivalent to the script it replaces.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [2.0], [4.0]])
    >>> scaled = SampleStandardScaler(ddof=1).fit_transform(x)
    >>> bool(np.allclose(scaled.ravel(), (x.ravel() - x.mean()) / x.std(ddof=1)))
    True
    """

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=float)
        self.mean_ = values.mean(axis=0)
        self.scale_ = values.std(axis=0, ddof=self.ddof)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.asarray(X, dtype=float) - self.mean_) / self.scale_
