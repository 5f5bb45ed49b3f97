"""Execute a pipeline end to end: data preparation, split, features, model, metrics.

Examples
--------
>>> import lester as lt, pandas as pd, numpy as np
>>> from sklearn.compose import ColumnTransformer
>>> from sklearn.linear_model import LogisticRegression
>>> data = pd.DataFrame({"id": range(40), "x": np.arange(40.0), "y": [0, 1] * 20})
>>> pipeline = lt.Pipeline(
...     dataprep=lambda numbers: lt.from_pandas(data, name="numbers", primary_key="id"),
...     encode_features=lambda: ColumnTransformer([("x", "passthrough", ["x"])]),
...     extract_label=lambda df: df["y"].to_numpy(),
...     create_model=lambda num_features: LogisticRegression())
>>> outputs = execute_pipeline(pipeline, {"numbers": "unused"}, seed=0, progress=None)
>>> outputs.X_train.shape[0] + outputs.X_test.shape[0]
40
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lester.errors import LesterError
from lester.frame.frame import TrackedFrame
from lester.pipeline import Pipeline, PipelineError
from lester.runner import models

Progress = Callable[[str], Any] | None


class RunError(LesterError, RuntimeError):
    """A pipeline step failed; the message names the step."""


@dataclass
class PipelineOutputs:
    """Everything a run computed, before it is captured."""

    prepared: TrackedFrame
    train: TrackedFrame
    test: TrackedFrame
    encoder: Any
    X_train: Any
    X_test: Any
    y_train: np.ndarray
    y_test: np.ndarray
    model: Any
    model_kind: str
    predictions: np.ndarray
    scores: np.ndarray | None
    metrics: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (when installed) torch, so a run is reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


@contextmanager
def step(name: str, timings: dict[str, float], progress: Progress) -> Iterator[None]:
    if progress is not None:
        progress(name)
    started = time.perf_counter()
    try:
        yield
    except LesterError:
        raise
    except Exception as error:
        raise RunError(f"step '{name}' failed: {type(error).__name__}: {error}") from error
    finally:
        timings[name] = time.perf_counter() - started


def execute_pipeline(
    pipeline: Pipeline,
    sources: Mapping[str, str],
    seed: int = 42,
    test_size: float = 0.2,
    progress: Progress = None,
) -> PipelineOutputs:
    """Run the pipeline's steps; each failure names its step and nothing is captured.

    The encoder is fitted on the training rows only; ``fit_transform`` on train and
    ``transform`` on test encode every value once.
    """
    arguments = pipeline.dataprep_arguments(dict(sources))
    seed_everything(seed)
    timings: dict[str, float] = {}
    with step("data preparation", timings, progress):
        prepared = pipeline.dataprep(**arguments)
    if not isinstance(prepared, TrackedFrame):
        raise PipelineError(
            f"_lester_dataprep of {pipeline.name!r} returned {type(prepared).__name__}; expected "
            f"a lester TrackedFrame (built with lt.read_csv, filter, project, join, ...)"
        )
    with step("split", timings, progress):
        train, test = prepared.split(test_size=test_size, seed=seed)
        train_data, test_data = train.to_pandas(), test.to_pandas()
    with step("feature encoding (fit on train)", timings, progress):
        encoder = pipeline.encode_features()
        X_train = as_float32(encoder.fit_transform(train_data))
    with step("feature encoding (test)", timings, progress):
        X_test = as_float32(encoder.transform(test_data))
    with step("labels", timings, progress):
        y_train = np.asarray(pipeline.extract_label(train_data))
        y_test = np.asarray(pipeline.extract_label(test_data))
    check_lengths(X_train, y_train, len(train_data), "train")
    check_lengths(X_test, y_test, len(test_data), "test")
    return train_and_evaluate(
        pipeline, (prepared, train, test, encoder), (X_train, X_test, y_train, y_test),
        timings, progress,
    )  # fmt: skip


def train_and_evaluate(
    pipeline: Pipeline,
    frames: tuple[TrackedFrame, TrackedFrame, TrackedFrame, Any],
    matrices: tuple[Any, Any, np.ndarray, np.ndarray],
    timings: dict[str, float],
    progress: Progress = None,
) -> PipelineOutputs:
    """Train the model on encoded features, predict the test split and compute metrics
    (what every engine shares once X and y exist)."""
    prepared, train, test, encoder = frames
    X_train, X_test, y_train, y_test = matrices
    with step("model training", timings, progress):
        model = pipeline.create_model(X_train.shape[1])
        kind = models.model_kind(model)
        models.fit(model, X_train, y_train)
    with step("prediction", timings, progress):
        predictions, scores = models.predict(model, X_test)
    with step("metrics", timings, progress):
        metrics = compute_metrics(y_test, predictions, scores)
    metrics.update(n_train=float(len(y_train)), n_test=float(len(y_test)))
    return PipelineOutputs(
        prepared, train, test, encoder, X_train, X_test, y_train, y_test, model, kind,
        predictions, scores, metrics, timings,
    )  # fmt: skip


def as_float32(X: Any) -> Any:
    if hasattr(X, "tocsr"):
        return X.tocsr().astype(np.float32)
    return np.asarray(X, dtype=np.float32)


def check_lengths(X: Any, y: np.ndarray, n_rows: int, split: str) -> None:
    if X.shape[0] != n_rows or len(y) != n_rows:
        raise RunError(
            f"the {split} split has {n_rows} rows, but X has {X.shape[0]} and y has {len(y)}; "
            f"encode_features and extract_label must keep one row per input row"
        )


def compute_metrics(y_true: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None) -> dict:
    """Accuracy, F1 of the positive class and (when scores exist and both classes occur)
    ROC AUC on the test split.

    Examples
    --------
    >>> compute_metrics(np.array([0, 1]), np.array([0, 1]), None)["accuracy"]
    1.0
    """
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y_true, predictions = np.asarray(y_true), np.asarray(predictions)
    if len(y_true) == 0:
        return {}
    if y_true.dtype.kind in "biuf" and predictions.dtype.kind in "biuf":
        y_true, predictions = y_true.astype(np.int64), predictions.astype(np.int64)
    binary = set(np.unique(y_true)).issubset({0, 1})
    average = "binary" if binary else "macro"
    metrics = {
        "accuracy": float(accuracy_score(y_true, predictions)),
        "f1": float(f1_score(y_true, predictions, average=average, zero_division=0.0)),
    }
    if scores is not None and binary and len(np.unique(y_true)) == 2:
        metrics["roc_auc"] = float(roc_auc_score(y_true, scores))
    return metrics


def frames_in_plan(frame: TrackedFrame) -> list[TrackedFrame]:
    """The executed frames of a result's plan, each once (sources included)."""
    seen: dict[int, TrackedFrame] = {}
    stack = [frame]
    while stack:
        current = stack.pop()
        if id(current) not in seen:
            seen[id(current)] = current
            stack.extend(current._inputs)
    return list(seen.values())


def source_frames(frame: TrackedFrame) -> dict[str, TrackedFrame]:
    """The source frames (as read) behind a result, by source name."""
    from lester.frame.plan import Source

    return {f._node.name: f for f in frames_in_plan(frame) if isinstance(f._node, Source)}


def describe_schema(data: pd.DataFrame) -> dict[str, str]:
    """Column -> dtype name, for the source manifest."""
    return {str(column): str(dtype) for column, dtype in data.dtypes.items()}
