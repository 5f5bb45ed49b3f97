"""Model kinds the runner trains: scikit-learn classifiers and skorch (torch) networks.

Examples
--------
>>> from sklearn.linear_model import LogisticRegression
>>> model_kind(LogisticRegression())
'sklearn'
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from lester.errors import LesterError


class ModelError(LesterError, ValueError):
    """A model that the runner cannot train, save or load."""


def model_kind(model: Any) -> str:
    """``"skorch"`` for skorch networks, ``"sklearn"`` for other estimators with ``fit``.

    Examples
    --------
    >>> model_kind(object())
    Traceback (most recent call last):
    ...
    lester.runner.models.ModelError: create_model returned object, which has no fit/predict; ...
    """
    module = type(model).__module__
    if module.startswith("skorch"):
        return "skorch"
    if callable(getattr(model, "fit", None)) and callable(getattr(model, "predict", None)):
        return "sklearn"
    raise ModelError(
        f"create_model returned {type(model).__name__}, which has no fit/predict; expected a "
        f"scikit-learn classifier or a skorch network"
    )


def prepare_inputs(kind: str, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """Cast X and y the way the model kind expects (skorch classifiers: float32, int64)."""
    if kind == "skorch":
        dense = X.toarray() if hasattr(X, "toarray") else X
        return np.asarray(dense, dtype=np.float32), np.asarray(y).astype(np.int64)
    return X, np.asarray(y)


def fit(model: Any, X: Any, y: np.ndarray) -> Any:
    """Train ``model`` on ``X``, ``y`` (after :func:`prepare_inputs`)."""
    kind = model_kind(model)
    X, y = prepare_inputs(kind, X, y)
    model.fit(X, y)
    return model


def predict(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels and, where the model gives them, positive-class scores."""
    kind = model_kind(model)
    X, _ = prepare_inputs(kind, X, np.zeros(0))
    labels = np.asarray(model.predict(X))
    scores = None
    if callable(getattr(model, "predict_proba", None)):
        probabilities = np.asarray(model.predict_proba(X))
        if probabilities.ndim == 2 and probabilities.shape[1] == 2:
            scores = probabilities[:, 1].astype(np.float32)
    return labels, scores


def torch_state(model: Any) -> dict[str, Any]:
    """The torch module's state dict of a skorch network (tensors on the CPU, contiguous)."""
    return {k: v.detach().cpu().contiguous() for k, v in model.module_.state_dict().items()}


def rebuild_skorch(factory: Any, num_features: int, state: dict[str, Any]) -> Any:
    """Rebuild a trained skorch network: the pipeline's factory, then the saved weights."""
    model = factory(num_features)
    model.initialize()
    model.module_.load_state_dict(state)
    return model


def import_object(qualified_name: str) -> Any:
    """Import ``package.module:attribute``.

    Examples
    --------
    >>> import_object("numpy:float32")
    <class 'numpy.float32'>
    """
    module_name, _, attribute = qualified_name.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one thread inside the block (no-op without torch loaded).

    Maintenance works on small batches; on a busy machine idle-spinning worker threads make
    each small operation many times slower.

    Examples
    --------
    >>> with one_torch_thread():
    ...     pass
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
